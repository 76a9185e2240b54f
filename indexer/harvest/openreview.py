"""Harvest a venue's accepted papers from the OpenReview API (v2) through `openreview-py`.

In API v2 an accepted paper's `content.venueid` is the venue id itself (`ICLR.cc/2025/Conference`;
submissions, rejections and withdrawals carry other ids) and its decision is in `content.venue`
(`ICLR 2025 Oral`). Each note becomes a paperlists-shaped object and goes through the paperlists
mapping (`record_from_paperlist`), so a harvested paper and the same paper imported from a
paperlists file get the same public id (`openreview:<forum>`) and the same normalization.

Pages are asked for by offset in submission-number order; each page is written with the offset
after it, so a killed or failed run resumes there.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import openreview
import openreview.api
import orjson
import requests

from indexer.harvest.http import RETRY_STATUSES, USER_AGENT, retrying_session
from indexer.harvest.runner import Page, run_harvest
from indexer.ingest import ImportSummary
from indexer.records import PaperRecord, Reject
from indexer.sources.fields import BadField
from indexer.sources.paperlists import OPENREVIEW, record_from_paperlist
from papersift.errors import HarvestFailed
from papersift.ids import parse_openreview_id
from papersift.settings import Settings
from papersift.venues import canonical_venue

logger = logging.getLogger(__name__)

SOURCE = "openreview"
RESUME_HINT = "pages before it are saved; re-run the same command to resume"
# Decision words in `content.venue` → the paperlists status that names the same track.
_DECISIONS = (("oral", "Oral"), ("spotlight", "Spotlight"), ("poster", "Poster"),
              ("top 5%", "Oral"), ("top-5%", "Oral"), ("top 25%", "Spotlight"),
              ("top-25%", "Spotlight"))


class MalformedResponse(ValueError):
    """A 200 answer whose body is cut short or is not a page of notes (retried)."""


def venue_year_from_venue_id(venue_id: str) -> tuple[str, int] | None:
    """`ICLR.cc/2025/Conference` → ("iclr", 2025); `colmweb.org/COLM/2024/Conference` → ("colm",
    2024): the part before the first four-digit part names the venue. None without one."""
    parts = venue_id.strip().split("/")
    for index, part in enumerate(parts[1:], start=1):
        if re.fullmatch(r"(19|20)\d\d", part):
            name = re.sub(r"[^a-z0-9]", "", parts[index - 1].split(".")[0].lower())
            return (canonical_venue(name), int(part)) if name else None
    return None


def status_from_decision(venue_text: str) -> str:
    """`ICLR 2025 Spotlight` → "Spotlight"; `ICLR 2023 notable top 5%` → "Oral"; a venue with no
    track word (`COLM 2024`) → "Accept"; any other remainder is kept (`Findings`)."""
    lowered = venue_text.lower()
    for word, status in _DECISIONS:
        if word in lowered:
            return status
    rest = re.sub(r"^\s*\S+\s+(19|20)\d\d\b", "", venue_text).strip()
    return rest or "Accept"


def paperlist_item_from_note(note: dict[str, Any], *, venue: str, year: int) -> dict[str, Any]:
    """The paperlists object for one API v2 note (`content.<field>.value`); BadField when the
    note has no usable id or content. Wrong field types are left for the paperlists mapping to refuse."""
    forum = note.get("forum") or note.get("id")
    if not isinstance(forum, str) or not parse_openreview_id(f"openreview:{forum}"):
        raise BadField(f"note without a valid forum id ({forum!r})")
    content = note.get("content")
    if not isinstance(content, dict):
        raise BadField("note without content")
    decision = _value(content, "venue")
    return {
        "id": forum,
        "title": _value(content, "title"),
        "author": _joined(content, "authors"),
        "abstract": _value(content, "abstract"),
        "status": status_from_decision(decision) if isinstance(decision, str) else decision,
        "keywords": _joined(content, "keywords"),
        "tldr": _value(content, "TLDR") or _value(content, "TL;DR"),
        "primary_area": _value(content, "primary_area"),
        "site": f"{OPENREVIEW}/forum?id={forum}",
        "pdf": _value(content, "pdf"),
        "venue": venue,
        "year": year,
    }


def record_from_note(note: Any, *, venue: str, year: int, origin: str, locator: str) -> PaperRecord | Reject:
    """One note → a record through the shared paperlists mapping, or a Reject holding the note."""
    raw = json.dumps(note, ensure_ascii=False, default=str)
    key = note.get("id") if isinstance(note, dict) and isinstance(note.get("id"), str) else None
    if not isinstance(note, dict):
        return Reject(source=SOURCE, origin=origin, locator=locator, raw=raw,
                      reason=f"expected a JSON object, got {type(note).__name__}")
    try:
        item = paperlist_item_from_note(note, venue=venue, year=year)
    except BadField as error:
        return Reject(source=SOURCE, origin=origin, locator=locator, reason=str(error), raw=raw,
                      record_key=key)
    result = record_from_paperlist(item, venue_year=(venue, year), origin=origin, locator=locator)
    if isinstance(result, Reject):
        return replace(result, source=SOURCE, raw=raw, record_key=key)
    return result


class NotesClient:
    """`openreview.api.OpenReviewClient` on papersift's retrying session (timeouts, backoff on
    429/5xx with Retry-After); every answer is checked before the client parses it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        try:  # anonymous unless OPENREVIEW_USERNAME/PASSWORD are set (openreview-py logs in then)
            self.client = openreview.api.OpenReviewClient(baseurl=settings.openreview_url.rstrip("/"))
        except (openreview.OpenReviewException, requests.exceptions.RequestException) as error:
            raise HarvestFailed(f"OpenReview client for {settings.openreview_url} failed: {error}",
                                hint="PAPERSIFT_OPENREVIEW_URL must be an API v2 URL "
                                "(https://api2.openreview.net)") from None
        session = retrying_session(timeout=settings.harvest_timeout_seconds,
                                   retries=settings.harvest_retries,
                                   backoff=settings.harvest_backoff_seconds)
        session.hooks["response"].append(self._check)
        self.client.session = session
        self.client.headers["User-Agent"] = f"{USER_AGENT} {self.client.user_agent}"
        self._last: tuple[int, str] = (0, "")
        self._notes: list[Any] = []
        self._count: int | None = None

    def _check(self, response: requests.Response, **_: Any) -> requests.Response:
        """Refuse a truncated or malformed 200 body (so it is retried); keep the page's notes as
        sent, and hide notes that are not objects from openreview-py (they become rejects)."""
        self._last = (response.status_code, response.url)
        if response.status_code != 200:
            return response
        try:
            body = orjson.loads(response.content)
        except (orjson.JSONDecodeError, requests.exceptions.RequestException) as error:
            raise MalformedResponse(f"truncated or malformed JSON from {response.url}: {error}") from None
        if not isinstance(body, dict) or not isinstance(body.get("notes"), list):
            raise MalformedResponse(f"response from {response.url} is not a page of notes")
        count = body.get("count")
        self._notes = body["notes"]
        self._count = count if isinstance(count, int) and not isinstance(count, bool) else None
        if any(not isinstance(note, dict) for note in self._notes):
            response._content = orjson.dumps(  # the body openreview-py will parse
                {**body, "notes": [note for note in self._notes if isinstance(note, dict)]})
        return response

    def page(self, venue_id: str, *, offset: int, limit: int) -> tuple[list[Any], int | None]:
        """The raw notes at `offset` and the total the API reports; a malformed answer or an empty
        page before the total is retried with backoff, then ends the run (HarvestFailed)."""
        tries = self.settings.harvest_retries + 1
        problem = ""
        for attempt in range(tries):
            if attempt:
                time.sleep(self.settings.harvest_backoff_seconds * 2 ** (attempt - 1))
            try:
                self.client.get_notes(content={"venueid": venue_id}, sort="number:asc",
                                      offset=offset, limit=limit, with_count=True)
            except MalformedResponse as error:
                problem = str(error)
                logger.warning("%s (try %d of %d)", problem, attempt + 1, tries)
                continue
            except openreview.OpenReviewException as error:
                status, url = self._last
                retried = f" after {tries} tries" if status in RETRY_STATUSES else ""
                raise HarvestFailed(f"OpenReview answered HTTP {status} for {url}{retried}: "
                                    f"{_message(error)}", hint=RESUME_HINT) from None
            except requests.exceptions.RequestException as error:
                raise HarvestFailed(f"OpenReview could not be reached: {error}", hint=RESUME_HINT) from None
            if self._notes or self._count is None or offset >= self._count:
                return self._notes, self._count
            problem = f"empty page at offset {offset:,} of {self._count:,} ({self._last[1]})"
            logger.warning("%s (try %d of %d)", problem, attempt + 1, tries)
        if problem.startswith("empty page"):
            problem = f"OpenReview returned an {problem}"
        raise HarvestFailed(f"{problem}; gave up after {tries} tries", hint=RESUME_HINT)


def harvest_openreview(settings: Settings, engine, venue_id: str, *, on_page=None) -> ImportSummary:
    """Harvest the accepted papers of `venue_id`, resuming an interrupted run of the same venue."""
    venue_year = venue_year_from_venue_id(venue_id)
    if venue_year is None:
        raise HarvestFailed(f"cannot tell the venue and year from {venue_id!r}",
                            hint="give an OpenReview venue id such as ICLR.cc/2025/Conference")
    client = NotesClient(settings)

    def pages(cursor: dict[str, Any] | None) -> Iterator[Page]:
        offset = int((cursor or {}).get("offset", 0))
        yield from _pages(client, settings, venue_id, venue_year, offset)

    return run_harvest(engine, source=SOURCE, target=venue_id, pages=pages, on_page=on_page)


def _pages(client: NotesClient, settings: Settings, venue_id: str, venue_year: tuple[str, int],
           offset: int) -> Iterator[Page]:
    venue, year = venue_year
    origin = f"{settings.openreview_url} {venue_id}"
    limit = settings.harvest_page_size
    while True:
        notes, count = client.page(venue_id, offset=offset, limit=limit)
        if not notes:
            return
        items = [record_from_note(note, venue=venue, year=year, origin=origin,
                                  locator=_locator(note, offset + index))
                 for index, note in enumerate(notes)]
        offset += len(notes)
        yield Page(items=items, cursor={"offset": offset})
        if (count is not None and offset >= count) or (count is None and len(notes) < limit):
            return
        time.sleep(settings.harvest_delay_seconds)


def _value(content: dict[str, Any], key: str) -> Any:
    field = content.get(key)
    return field.get("value") if isinstance(field, dict) else field


def _joined(content: dict[str, Any], key: str) -> Any:
    """A list of strings as paperlists writes it ("a;b"); anything else as it is (so the mapping
    refuses a wrong type with the field's name)."""
    value = _value(content, key)
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return ";".join(part.strip() for part in value if part.strip())
    if isinstance(value, list):
        raise BadField(f"content.{key} must be a list of strings")
    return value


def _locator(note: Any, position: int) -> str:
    if isinstance(note, dict) and isinstance(note.get("id"), str):
        return f"note {note['id']}"
    return f"offset {position}"


def _message(error: openreview.OpenReviewException) -> str:
    detail = error.args[0] if error.args else error
    if isinstance(detail, dict):
        return str(detail.get("message") or detail)
    return str(detail)
