"""Public paper ids: parse arXiv and OpenReview ids or URLs, and format papersift's public ids.

Public ids look like `arxiv:2503.11731`, `arxiv:astro-ph/0601001`, `openreview:<forum id>` and
`<venue>:<year>:<record id>` (e.g. `cvpr:2019:abc123`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

# `2503.11731`, `0704.0001`; `hep-th/9901001`, `math.GT/0309136`; each with an optional `v2`.
_ARXIV_ID = re.compile(
    r"(?:(?P<new>\d{4}\.\d{4,5})|(?P<archive>[a-z]+(?:-[a-z]+)?)(?:\.[A-Z]{2})?/(?P<number>\d{7}))"
    r"(?:v(?P<version>[1-9]\d*))?"
)
_ARXIV_PREFIX = re.compile(r"arxiv:", re.IGNORECASE)
_ARXIV_URL = re.compile(r"(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/", re.IGNORECASE)
_PDF_SUFFIX = ".pdf"
_OPENREVIEW_PREFIX = "openreview:"
_OPENREVIEW_URL = re.compile(
    r"(?:https?://)?(?:www\.)?openreview\.net/(?:forum|pdf)/?\?", re.IGNORECASE
)
_OPENREVIEW_FORUM_ID = re.compile(r"[A-Za-z0-9_-]{8,20}")
_VENUE_PUBLIC_ID = re.compile(r"(?P<slug>[a-z0-9]+):\d{4}:\S+")
_RESERVED_SLUGS = {"arxiv", "openreview"}


@dataclass(frozen=True)
class ArxivId:
    """A canonical arXiv id (`2503.11731`, `math/0309136`) and the version it was given with."""

    id: str
    version: int | None = None

    @property
    def public_id(self) -> str:
        """papersift's public id, without the version: `arxiv:2503.11731`."""
        return f"arxiv:{self.id}"


def parse_arxiv_id(text: str) -> ArxivId | None:
    """An arXiv id, `arXiv:` id or arxiv.org abs/pdf URL → ArxivId; None for anything else."""
    if not isinstance(text, str):
        return None
    candidate = text.strip()
    url_prefix = _ARXIV_URL.match(candidate)
    if url_prefix:
        candidate = _strip_url_tail(candidate[url_prefix.end() :])
    else:
        prefix = _ARXIV_PREFIX.match(candidate)
        candidate = candidate[prefix.end() :] if prefix else candidate
    match = _ARXIV_ID.fullmatch(candidate)
    if not match:
        return None
    canonical = match.group("new") or f"{match.group('archive')}/{match.group('number')}"
    version = match.group("version")
    return ArxivId(canonical, int(version) if version else None)


def parse_openreview_id(text: str) -> str | None:
    """An OpenReview forum/pdf URL or `openreview:<id>` → the forum id; None for anything else."""
    if not isinstance(text, str):
        return None
    candidate = text.strip()
    if candidate.lower().startswith(_OPENREVIEW_PREFIX):
        forum_id = candidate[len(_OPENREVIEW_PREFIX) :]
    elif _OPENREVIEW_URL.match(candidate):
        forum_id = _query_value(candidate, "id")
    else:
        return None
    return forum_id if forum_id and _OPENREVIEW_FORUM_ID.fullmatch(forum_id) else None


def venue_public_id(venue_slug: str, year: int, record_id: str) -> str:
    """The public id of a conference-list record: `cvpr:2019:abc123`."""
    return f"{venue_slug.strip().lower()}:{year}:{record_id}"


def parse_public_id(text: str) -> str | None:
    """A user-supplied id or URL → `arxiv:…`, `openreview:…` or `venue:yyyy:…`; else None."""
    if not isinstance(text, str):
        return None
    arxiv_id = parse_arxiv_id(text)
    if arxiv_id is not None:
        return arxiv_id.public_id
    forum_id = parse_openreview_id(text)
    if forum_id is not None:
        return _OPENREVIEW_PREFIX + forum_id
    candidate = text.strip()
    venue_match = _VENUE_PUBLIC_ID.fullmatch(candidate)
    if venue_match and venue_match.group("slug") not in _RESERVED_SLUGS:
        return candidate
    return None


def arxiv_abs_url(arxiv_id: str) -> str:
    """The abstract page: `https://arxiv.org/abs/<id>`."""
    return f"https://arxiv.org/abs/{arxiv_id}"


def arxiv_pdf_url(arxiv_id: str) -> str:
    """The PDF: `https://arxiv.org/pdf/<id>`."""
    return f"https://arxiv.org/pdf/{arxiv_id}"


def _strip_url_tail(path: str) -> str:
    """Drop a URL's query, fragment, trailing slash and `.pdf` suffix."""
    path = re.split(r"[?#]", path, maxsplit=1)[0].rstrip("/")
    return path[: -len(_PDF_SUFFIX)] if path.lower().endswith(_PDF_SUFFIX) else path


def _query_value(url: str, name: str) -> str | None:
    """The first value of query parameter `name` in `url`, or None."""
    try:
        values = parse_qs(urlsplit(url if "://" in url else "https://" + url).query).get(name)
    except ValueError:
        return None
    return values[0] if values else None
