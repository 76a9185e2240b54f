"""The arXiv metadata snapshot (Kaggle, JSON lines): one mapping, shared with the harvesters."""

from __future__ import annotations

import email.utils
import functools
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import orjson

from indexer.files import iter_lines, printable_raw
from indexer.records import PaperRecord, RawRecord, Reject, check_sizes, iter_mapped, source_hash
from indexer.sources.fields import BadField, list_field, text_field, valid_text
from papersift.arxiv_schedule import listing_day
from papersift.ids import arxiv_abs_url, arxiv_pdf_url, parse_arxiv_id
from papersift.normalize import format_author, split_author_list

SOURCE = "arxiv-snapshot"
# The snapshot writes each record's id first: read without parsing the line (an unchanged record
# is never parsed). A record that does not start so is parsed to find its id.
_LEADING_ID = re.compile(rb'\{\s*"id"\s*:\s*"([0-9A-Za-z./-]{1,64})"')
# How arXiv writes a version's date: "Mon, 2 Apr 2007 19:18:42 GMT".
_ARXIV_DATE = re.compile(r"[A-Z][a-z]{2}, (\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT")
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}


def iter_snapshot(path: Path) -> Iterator[PaperRecord | Reject]:
    """Stream a snapshot file (plain or .gz) as records and rejects, in constant memory."""
    return iter_mapped(iter_raw_snapshot(path))


def iter_raw_snapshot(path: Path) -> Iterator[RawRecord | Reject]:
    """Stream a snapshot file as raw records (each line's id, read without parsing the line, and
    its source hash; mapped when asked) and rejects. A line whose id is not read so is mapped at
    once (into its record or reject)."""
    origin = str(path)
    for line_number, raw in iter_lines(path):
        locator = f"line {line_number}"
        leading = _LEADING_ID.match(raw)
        arxiv_id = parse_arxiv_id(leading[1].decode("ascii")) if leading else None
        if arxiv_id is None:
            yield record_from_line(raw, origin=origin, locator=locator)
        else:  # the line is handed over (cheap to pickle for a mapping process) and parsed there
            mapper = functools.partial(record_from_line, raw, origin=origin, locator=locator)
            yield RawRecord(arxiv_id.public_id, source_hash(raw), mapper)


def record_from_line(raw: bytes, *, origin: str, locator: str) -> PaperRecord | Reject:
    """Map one snapshot line: a JSON object in UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return _reject(origin, locator, f"invalid UTF-8 at byte {error.start}", raw)
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        return _reject(origin, locator, f"not valid JSON: {error}", raw)
    if not isinstance(obj, dict):
        return _reject(origin, locator, f"expected a JSON object, got {type(obj).__name__}", raw)
    return record_from_snapshot(obj, origin=origin, locator=locator, raw=raw)


def record_from_snapshot(
    obj: dict[str, Any], *, origin: str, locator: str, raw: bytes | str = b""
) -> PaperRecord | Reject:
    """Map one snapshot object (the schema of Cornell's arXiv metadata snapshot) to a record."""
    key = obj.get("id") if isinstance(obj.get("id"), str) else None
    try:
        record = _map(obj)
    except BadField as error:
        return _reject(origin, locator, str(error), raw or orjson.dumps(obj), key)
    too_big = check_sizes(record)
    if too_big:
        return _reject(origin, locator, too_big, raw or orjson.dumps(obj), key)
    return record


def _map(obj: dict[str, Any]) -> PaperRecord:
    raw_id = text_field(obj, "id", required=True)
    arxiv_id = parse_arxiv_id(raw_id)
    if arxiv_id is None:
        raise BadField(f"id {raw_id[:80]!r} is not an arXiv identifier")
    title = text_field(obj, "title", required=True)
    categories = (text_field(obj, "categories") or "").split()
    versions = _versions(obj)
    first_day = versions[0]["date"] if versions else None
    announced = versions[0]["listed"] if versions else None
    update_day = _iso_date(text_field(obj, "update_date"))
    last_day = update_day or (versions[-1]["date"] if versions else None)
    return PaperRecord(
        public_id=arxiv_id.public_id,
        source="arxiv",
        source_record_id=arxiv_id.id,
        title_raw=title,
        abstract_raw=text_field(obj, "abstract") or "",
        authors=_authors(obj),
        categories=categories,
        primary_category=categories[0] if categories else None,
        published_date=first_day,
        updated_date=last_day,
        announced_date=announced,
        versions=[{"version": v["version"], "created": v["created"]} for v in versions],
        links={"abs": arxiv_abs_url(arxiv_id.id), "pdf": arxiv_pdf_url(arxiv_id.id)},
        doi=text_field(obj, "doi"),
        journal_ref=text_field(obj, "journal-ref"),
        comments=text_field(obj, "comments"),
        report_no=text_field(obj, "report-no"),
        license=text_field(obj, "license"),
        submitter=text_field(obj, "submitter"),
    )


def _authors(obj: dict[str, Any]) -> list[str]:
    """Ordered display names, from authors_parsed when usable, else from the authors string."""
    parsed = list_field(obj, "authors_parsed")
    names: list[str] = []
    for entry in parsed:
        try:
            joined = "".join(entry) if isinstance(entry, list) else None  # and every part a string
        except TypeError:
            joined = None
        if joined is None:
            raise BadField("authors_parsed must be a list of [last, first, suffix] string lists")
        parts = entry[:3]
        if not joined.isascii() or "\x00" in joined:
            parts = [valid_text(part, "authors_parsed") for part in parts]
        name = format_author(*parts)
        if name:
            names.append(name)
    if names:
        return names
    authors = text_field(obj, "authors")
    return split_author_list(authors) if authors else []


def _versions(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """[{version, created (as given), date}] in order; entries that cannot be dated are refused."""
    versions = []
    for entry in list_field(obj, "versions"):
        if not isinstance(entry, dict):
            raise BadField("versions must be a list of {version, created} objects")
        version = text_field(entry, "version") or f"v{len(versions) + 1}"
        created = text_field(entry, "created")
        moment = _rfc2822(created) if created else None
        if created and moment is None:
            raise BadField(f"version {version}: unreadable date {created[:60]!r}")
        versions.append({"version": version, "created": created,
                         "date": moment.date() if moment else None, "listed": _listing_day(moment)})
    return versions


def _rfc2822(value: str) -> datetime | None:
    """A version's date: arXiv's own form read directly (email.utils costs about 10 µs a date),
    anything else as email.utils reads it."""
    if (match := _ARXIV_DATE.fullmatch(value)) and match[2] in _MONTHS:
        day, month, year, hour, minute, second = match.groups()
        try:
            return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC)
        except ValueError:
            pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _listing_day(moment: datetime | None) -> date | None:
    """The listing a version appeared in. A version dated exactly midnight GMT carries its listing
    day already (daily-listing exports do that); any other time is a submission time, listed by
    arXiv's schedule."""
    if moment is None:
        return None
    if moment.time() == time(0, 0) and moment.utcoffset() == timedelta(0):
        return moment.date()
    return listing_day(moment)


def _iso_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise BadField(f"update_date {value[:40]!r} is not YYYY-MM-DD") from None


def _reject(
    origin: str, locator: str, reason: str, raw: bytes | str, key: str | None = None
) -> Reject:
    return Reject(
        source=SOURCE,
        origin=origin,
        locator=locator,
        reason=reason,
        raw=printable_raw(raw),
        record_key=key,
    )
