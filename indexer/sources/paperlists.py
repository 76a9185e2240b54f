"""Conference paper lists in the paperlists format (a JSON array per venue-year, plain or .gz)."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from indexer.files import printable_raw, read_bytes
from indexer.records import PaperRecord, RawRecord, Reject, check_sizes, iter_mapped, source_hash
from indexer.sources.fields import BadField, id_field, text_field
from papersift.errors import UnreadableInput
from papersift.ids import parse_arxiv_id, parse_openreview_id, venue_public_id
from papersift.normalize import split_venue_authors, title_key
from papersift.venues import (
    canonical_venue,
    track_from_status,
    venue_display_name,
    venue_year_from_filename,
)

SOURCE = "paperlists"
OPENREVIEW = "https://openreview.net"


def find_list_files(paths: Iterable[Path]) -> list[Path]:
    """The list files named, with folders expanded to their *.json and *.json.gz files (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.name.endswith((".json", ".json.gz"))))
        elif path.exists():
            files.append(path)
        else:
            raise UnreadableInput(f"{path}: no such file or folder")
    return files


def iter_paperlists(paths: Iterable[Path]) -> Iterator[PaperRecord | Reject]:
    """Records and rejects of every list file under `paths`."""
    return iter_mapped(iter_raw_paperlists(paths))


def iter_raw_paperlists(paths: Iterable[Path]) -> Iterator[RawRecord | Reject]:
    """Raw records (mapped when asked) and rejects of every list file under `paths`."""
    for path in find_list_files(paths):
        yield from iter_raw_list_file(path)


def iter_list_file(path: Path) -> Iterator[PaperRecord | Reject]:
    """One list file; a file that is not a JSON array of objects becomes one Reject."""
    return iter_mapped(iter_raw_list_file(path))


def iter_raw_list_file(path: Path) -> Iterator[RawRecord | Reject]:
    """One list file as raw records: each item's paper id and source hash (which covers the venue
    and year its file name gives), mapped when asked. An item without a usable id is mapped at once."""
    origin = str(path)
    data = read_bytes(path)
    venue_year = venue_year_from_filename(path.name)
    if not data.strip():
        yield _reject(origin, "file", "file is empty", data)
        return
    try:
        items, exact = _parse_json(data)
    except ValueError as error:
        yield _reject(origin, "file", f"not valid JSON: {error}", data[:10_000])
        return
    if not isinstance(items, list):
        yield _reject(origin, "file", f"expected a JSON array, got {type(items).__name__}", data[:10_000])
        return
    for index, item in enumerate(items):
        locator = f"item {index}"
        if not isinstance(item, dict):
            yield _reject(origin, locator, f"expected a JSON object, got {type(item).__name__}", _dump(item))
            continue
        public_id, raw = _raw_identity(item, venue_year) if exact else (None, b"")
        if public_id is None:
            yield record_from_paperlist(item, venue_year=venue_year, origin=origin, locator=locator)
        else:  # mapped from its JSON (cheap to hand to a mapping process), parsed again there
            mapper = functools.partial(record_from_json, raw, venue_year=venue_year, origin=origin, locator=locator)
            yield RawRecord(public_id, source_hash(raw, str(venue_year)), mapper)


def record_from_json(raw: bytes, *, venue_year: tuple[str, int] | None, origin: str,
                     locator: str) -> PaperRecord | Reject:
    """Map one list item given as the JSON orjson wrote of it."""
    return record_from_paperlist(orjson.loads(raw), venue_year=venue_year, origin=origin, locator=locator)


def record_from_paperlist(
    item: dict[str, Any], *, venue_year: tuple[str, int] | None, origin: str, locator: str
) -> PaperRecord | Reject:
    """Map one paperlists object; venue and year come from the record or else the file name."""
    key = item.get("id") if isinstance(item.get("id"), str) else None
    try:
        record = _map(item, venue_year)
    except BadField as error:
        return _reject(origin, locator, str(error), _dump(item), key)
    too_big = check_sizes(record)
    if too_big:
        return _reject(origin, locator, too_big, _dump(item), key)
    return record


class _Identity(NamedTuple):
    public_id: str
    record_id: str
    slug: str
    year: int
    site: str | None
    forum_id: str | None


def _identity(item: dict[str, Any], venue_year: tuple[str, int] | None, title: str) -> _Identity:
    """Which paper an item is: its OpenReview forum, else its venue, year and id (or title)."""
    slug, year = _venue_and_year(item, venue_year)
    record_id = id_field(item, "id")
    site = text_field(item, "site")
    forum_id = parse_openreview_id(site) if site else None
    if forum_id:
        return _Identity(f"openreview:{forum_id}", forum_id, slug, year, site, forum_id)
    record_id = record_id or "t-" + hashlib.blake2b(title_key(title).encode(), digest_size=6).hexdigest()
    return _Identity(venue_public_id(slug, year, record_id), record_id, slug, year, site, None)


def _raw_identity(item: dict[str, Any], venue_year: tuple[str, int] | None) -> tuple[str | None, bytes]:
    """(the item's paper id, its bytes to hash), or (None, b"") when the item cannot say (its
    mapping will say why)."""
    try:
        title = text_field(item, "title", required=True)
        return _identity(item, venue_year, title).public_id, orjson.dumps(item)
    except (BadField, orjson.JSONEncodeError):
        return None, b""


def _map(item: dict[str, Any], venue_year: tuple[str, int] | None) -> PaperRecord:
    title = text_field(item, "title", required=True)
    public_id, record_id, slug, year, site, forum_id = _identity(item, venue_year, title)
    status = text_field(item, "status")
    track, is_published = track_from_status(status)
    return PaperRecord(
        public_id=public_id,
        source="venue",
        source_record_id=record_id,
        title_raw=title,
        abstract_raw=text_field(item, "abstract") or "",
        authors=split_venue_authors(text_field(item, "author") or ""),
        venue=venue_display_name(slug),
        venue_slug=slug,
        year=year,
        track=track,
        status_raw=status,
        is_published=is_published,
        keywords=_keywords(text_field(item, "keywords")),
        tldr=text_field(item, "tldr"),
        primary_area=text_field(item, "primary_area"),
        links=_links(item, site, forum_id),
        doi=text_field(item, "doi"),
    )


def _venue_and_year(item: dict[str, Any], venue_year: tuple[str, int] | None) -> tuple[str, int]:
    venue = text_field(item, "venue")
    year_text = id_field(item, "year")
    slug = canonical_venue(venue) if venue else (venue_year[0] if venue_year else None)
    year = int(year_text) if year_text and year_text.isdigit() else (venue_year[1] if venue_year else None)
    if not slug or not year:
        raise BadField("no venue and year: name the file <venue><year>.json or give venue and year")
    return slug, year


def _keywords(text: str | None) -> list[str]:
    if not text:
        return []
    separator = ";" if ";" in text else ","
    return [word.strip() for word in text.split(separator) if word.strip()]


def _links(item: dict[str, Any], site: str | None, forum_id: str | None) -> dict[str, str]:
    links: dict[str, str] = {}
    if forum_id:
        links["forum"] = f"{OPENREVIEW}/forum?id={forum_id}"
    elif site:
        links["site"] = site
    pdf = text_field(item, "pdf")
    if pdf:
        links["pdf"] = OPENREVIEW + pdf if pdf.startswith("/") else pdf
    elif forum_id:
        links["pdf"] = f"{OPENREVIEW}/pdf?id={forum_id}"
    arxiv = text_field(item, "arxiv")
    arxiv_id = parse_arxiv_id(arxiv) if arxiv else None
    if arxiv_id:
        links["arxiv"] = f"https://arxiv.org/abs/{arxiv_id.id}"
    for name in ("github", "project"):
        value = text_field(item, name)
        if value and value.startswith(("http://", "https://")):
            links[name] = value
    return links


def _parse_json(data: bytes) -> tuple[Any, bool]:
    """(the document, whether orjson read it). orjson first; for invalid UTF-8, the standard
    parser with the bad bytes kept as surrogates (the records holding them are then rejected one
    by one, and mapped at once: orjson cannot write their items out to hash)."""
    try:
        return orjson.loads(data), True
    except orjson.JSONDecodeError as error:
        try:
            return json.loads(data.decode("utf-8", errors="surrogateescape")), False
        except (ValueError, RecursionError):
            raise ValueError(str(error)) from None


def _dump(item: Any) -> str:
    return json.dumps(item, ensure_ascii=False, default=str)


def _reject(
    origin: str, locator: str, reason: str, raw: bytes | str, key: str | None = None
) -> Reject:
    return Reject(
        source=SOURCE, origin=origin, locator=locator, reason=reason, raw=printable_raw(raw), record_key=key
    )
