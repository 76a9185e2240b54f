"""Papers rows in COPY's text format: the columns in order, and each row encoded once (by the
importer's reader thread, as it maps the record) into the line every later COPY of it sends.

Encoded here rather than by psycopg's per-value dumpers, which took over 100 µs a row (arrays,
JSON); this takes about 25.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

# (column, PostgreSQL type) in COPY order.
PAPER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("public_id", "text"),
    ("source", "text"),
    ("source_record_id", "text"),
    ("title", "text"),
    ("title_raw", "text"),
    ("title_key", "text"),
    ("abstract", "text"),
    ("abstract_raw", "text"),
    ("authors", "text[]"),
    ("authors_text", "text"),
    ("author_keys", "text[]"),
    ("keywords", "text[]"),
    ("keywords_text", "text"),
    ("categories", "text[]"),
    ("primary_category", "text"),
    ("venue", "text"),
    ("venue_slug", "text"),
    ("year", "int4"),
    ("track", "text"),
    ("status_raw", "text"),
    ("is_published", "bool"),
    ("tldr", "text"),
    ("primary_area", "text"),
    ("published_date", "date"),
    ("updated_date", "date"),
    ("announced_date", "date"),
    ("versions", "jsonb"),
    ("links", "jsonb"),
    ("doi", "text"),
    ("journal_ref", "text"),
    ("comments", "text"),
    ("report_no", "text"),
    ("license", "text"),
    ("submitter", "text"),
    ("record_hash", "text"),
    ("content_hash", "text"),
    ("source_hash", "text"),
)
COLUMN_LIST = ", ".join(name for name, _ in PAPER_COLUMNS)


class EncodedRow(NamedTuple):
    """A papers row ready to COPY: its id and hashes (compared with the stored ones) and its line."""

    public_id: str
    record_hash: str
    source_hash: str | None
    line: bytes


def encode_row(row: dict[str, Any]) -> EncodedRow:
    """A row made by `PaperRecord.to_row`, encoded."""
    values = [row[name] for name in _NAMES]
    line = "\t".join(["\\N" if value is None else encode(value) for encode, value in zip(_ENCODERS, values)])
    return EncodedRow(row["public_id"], row["record_hash"], row["source_hash"], (line + "\n").encode())


def _text(value: str) -> str:
    if "\\" in value or "\n" in value or "\t" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return value


def _array(values: list[str]) -> str:
    """An array literal, every element quoted; escaped all at once, between NULs (which no text
    holds) that then become the separators."""
    if not values:
        return "{}"
    joined = "\x00".join(values)
    if "\\" in joined or '"' in joined:
        joined = joined.replace("\\", "\\\\").replace('"', '\\"')
    return _text('{"' + joined.replace("\x00", '","') + '"}')


def _json(value: Any) -> str:
    return _text(orjson.dumps(value).decode())


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)  # integers; dates as YYYY-MM-DD


_NAMES = [name for name, _ in PAPER_COLUMNS]
_ENCODERS = [{"text": _text, "text[]": _array, "jsonb": _json}.get(kind, _scalar) for _, kind in PAPER_COLUMNS]
