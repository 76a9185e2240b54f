"""Map an arXiv API entry (an `arxiv.Result`) to a PaperRecord, with announcement days.

The API gives the first version's submission time (`published`) and the latest version's
(`updated`, with its number in the entry id). The listing days computed from them are what
browsing needs: the paper is *new* in its primary category (a cross-list in the others) on the
first day, and a *replacement* on the latest version's day.
"""

from __future__ import annotations

import email.utils
from datetime import datetime

import arxiv

from indexer.records import PaperRecord, Reject, check_sizes
from papersift.arxiv_schedule import listing_day
from papersift.ids import arxiv_abs_url, arxiv_pdf_url, parse_arxiv_id

SOURCE = "arxiv-api"


def record_from_result(result: arxiv.Result) -> PaperRecord | Reject:
    """One API entry → a record, or a Reject saying why it cannot be one."""
    arxiv_id = parse_arxiv_id(result.entry_id)
    if arxiv_id is None:
        reason = result.summary if "/api/errors" in result.entry_id else "entry id is not an arXiv id"
        return _reject(result, f"arXiv error: {reason}" if "/api/errors" in result.entry_id else reason)
    version = arxiv_id.version or 1
    first_day = listing_day(result.published)
    latest_day = listing_day(result.updated) if version > 1 else first_day
    versions = [{"version": "v1", "created": _rfc2822(result.published)}]
    if version > 1:
        versions.append({"version": f"v{version}", "created": _rfc2822(result.updated)})
    categories = [result.primary_category] + [c for c in result.categories if c != result.primary_category]
    record = PaperRecord(
        public_id=arxiv_id.public_id,
        source="arxiv",
        source_record_id=arxiv_id.id,
        title_raw=result.title,
        abstract_raw=result.summary or "",
        authors=[author.name.strip() for author in result.authors if author.name.strip()],
        categories=[c for c in categories if c],
        primary_category=result.primary_category or None,
        published_date=result.published.date(),
        updated_date=latest_day,
        announced_date=first_day,
        versions=versions,
        links={"abs": arxiv_abs_url(arxiv_id.id), "pdf": arxiv_pdf_url(arxiv_id.id)},
        doi=result.doi or None,
        journal_ref=result.journal_ref or None,
        comments=result.comment or None,
    )
    if not record.title_raw.strip():
        return _reject(result, "entry has an empty title")
    too_big = check_sizes(record)
    return _reject(result, too_big) if too_big else record


def _rfc2822(moment: datetime) -> str:
    """The snapshot's version-date format: `Mon, 2 Apr 2007 19:18:42 GMT`."""
    return email.utils.format_datetime(moment, usegmt=True)


def _reject(result: arxiv.Result, reason: str) -> Reject:
    raw = f"{result.entry_id}\n{result.title}\n{result.summary[:10_000]}"
    return Reject(source=SOURCE, origin="arXiv API", locator=f"entry {result.entry_id}",
                  reason=reason, raw=raw, record_key=result.entry_id)
