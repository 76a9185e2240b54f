"""PaperRecord and Reject: the contract between sources and the store.

Sources map their format to a PaperRecord (raw title and abstract as received); `to_row` applies the
one shared normalization, so every source is cleaned the same way. An importer's source can also
yield RawRecords: a record as read, with its id and source hash, mapped only when the stored paper
did not come from the very same input.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from papersift.normalize import clean_text, name_keys, title_key

# Limits a single record must respect; a larger field is a broken record, not a paper.
MAX_TITLE_CHARS = 2_000
MAX_ABSTRACT_CHARS = 50_000
MAX_AUTHORS = 5_000
MAX_FIELD_CHARS = 20_000


@dataclass(slots=True)
class PaperRecord:
    """One paper as a source delivered it, mapped to papersift's fields."""

    public_id: str
    source: str  # "arxiv" | "venue"
    source_record_id: str
    title_raw: str
    abstract_raw: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    venue: str | None = None
    venue_slug: str | None = None
    year: int | None = None
    track: str | None = None
    status_raw: str | None = None
    is_published: bool = True
    keywords: list[str] = field(default_factory=list)
    tldr: str | None = None
    primary_area: str | None = None
    published_date: date | None = None
    updated_date: date | None = None
    announced_date: date | None = None
    versions: list[dict[str, Any]] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    doi: str | None = None
    journal_ref: str | None = None
    comments: str | None = None
    report_no: str | None = None
    license: str | None = None
    submitter: str | None = None

    def to_row(self, source_hash: str | None = None) -> dict[str, Any]:
        """The papers-table row: display-normalized text, search keys and change hashes (the
        record hash covers the row, not `source_hash`: the same paper from another input is
        unchanged)."""
        row = {name: getattr(self, name) for name in _RECORD_FIELDS}
        title = clean_text(self.title_raw)
        abstract = clean_text(self.abstract_raw)
        row.update(
            title=title,
            title_key=title_key(title),
            abstract=abstract,
            authors_text=", ".join(self.authors),
            author_keys=[key for key in name_keys(self.authors) if key],
            keywords_text="; ".join(self.keywords),
            tldr=clean_text(self.tldr) if self.tldr else None,
            content_hash=content_hash(title, abstract),
        )
        row["record_hash"] = _hash_row(row)
        row["source_hash"] = source_hash
        return row


_RECORD_FIELDS = tuple(f.name for f in fields(PaperRecord))


@dataclass(frozen=True, slots=True)
class Reject:
    """A record a source refused: where it was, why, and its raw text."""

    source: str
    origin: str
    locator: str
    reason: str
    raw: str
    record_key: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """Where it was refused: its row in the reject table is unique per location."""
        return (self.source, self.origin, self.locator)


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record as a file holds it, not yet mapped: its paper's id, its source hash, and how to
    map it. The importer maps it only when the stored paper's source hash differs."""

    public_id: str
    source_hash: str
    mapper: Callable[[], PaperRecord | Reject]

    def mapped(self) -> PaperRecord | Reject:
        return self.mapper()


def iter_mapped(items: Iterable[RawRecord | Reject]) -> Iterator[PaperRecord | Reject]:
    """Map every raw record (for readers that want records, not the importer's shortcut)."""
    for item in items:
        yield item.mapped() if isinstance(item, RawRecord) else item


# The code that turns a source's input into a row. A change to any of it changes every source
# hash, so the next import maps every record again (and rewrites only the rows that differ).
MAPPING_MODULES = (
    "indexer.records", "indexer.sources.fields", "indexer.sources.arxiv_snapshot",
    "indexer.sources.paperlists", "papersift.normalize", "papersift.ids", "papersift.venues",
    "papersift.arxiv_schedule",
)


def source_hash(raw: bytes, context: str = "") -> str:
    """Hash of a record's input as read (and of what else its mapping reads, such as a list's file
    name), keyed by the mapping code: equal hashes mean mapping it again gives the stored row.
    SHA-256: with the SHA extensions of current CPUs it takes two thirds of blake2b's time."""
    digest = _mapping_hasher().copy()
    digest.update(context.encode())
    digest.update(b"\0")
    digest.update(raw)
    return digest.hexdigest()[:32]


@functools.cache
def _mapping_hasher() -> Any:
    digest = hashlib.sha256(unicodedata.unidata_version.encode())
    for name in MAPPING_MODULES:
        digest.update(Path(importlib.import_module(name).__file__).read_bytes())
    return digest


def content_hash(title: str, abstract: str) -> str:
    """Hash of the normalized title and abstract: a change means the embedding is stale."""
    return hashlib.blake2b(f"{title}\n{abstract}".encode(), digest_size=16).hexdigest()


def _hash_row(row: dict[str, Any]) -> str:
    payload = orjson.dumps(row, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def check_sizes(record: PaperRecord) -> str | None:
    """A reason to reject a record whose fields are absurdly large, or None."""
    if len(record.title_raw) > MAX_TITLE_CHARS:
        return f"title is {len(record.title_raw):,} characters; the limit is {MAX_TITLE_CHARS:,}"
    if len(record.abstract_raw) > MAX_ABSTRACT_CHARS:
        return (
            f"abstract is {len(record.abstract_raw):,} characters; "
            f"the limit is {MAX_ABSTRACT_CHARS:,}"
        )
    if len(record.authors) > MAX_AUTHORS:
        return f"{len(record.authors):,} authors; the limit is {MAX_AUTHORS:,}"
    for name in ("comments", "journal_ref", "doi", "report_no", "license", "submitter", "tldr"):
        value = getattr(record, name)
        if value is not None and len(value) > MAX_FIELD_CHARS:
            return f"{name} is {len(value):,} characters; the limit is {MAX_FIELD_CHARS:,}"
    if any(len(author) > 1_000 for author in record.authors):
        return "an author name is over 1,000 characters"
    return None
