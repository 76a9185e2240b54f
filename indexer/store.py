"""Batched writes of papers and rejects: the only module that writes the papers table.

A batch is COPYed into a temporary staging table, then upserted in one statement that touches a
row only when its record hash changed, so re-importing the same data writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import insert

from indexer.records import PaperRecord, Reject
from papersift.models import Reject as RejectRow

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
)
_NAMES = [name for name, _ in PAPER_COLUMNS]
_COLUMN_LIST = ", ".join(_NAMES)
_UPDATES = ", ".join(f"{name} = EXCLUDED.{name}" for name in _NAMES if name != "public_id")

_CREATE_STAGING = (
    f"CREATE TEMP TABLE IF NOT EXISTS papers_staging ON COMMIT DELETE ROWS AS "
    f"SELECT {_COLUMN_LIST} FROM papers WITH NO DATA"
)
# Rows whose record hash is already stored need no INSERT at all (which would compute their
# search vector only to discard it).
_DROP_UNCHANGED = """
DELETE FROM papers_staging AS s USING papers AS p
WHERE p.public_id = s.public_id AND p.record_hash = s.record_hash
"""
_UPSERT = f"""
INSERT INTO papers ({_COLUMN_LIST})
SELECT {_COLUMN_LIST} FROM papers_staging
ON CONFLICT (public_id) DO UPDATE SET {_UPDATES}, updated_at = now()
WHERE papers.record_hash IS DISTINCT FROM EXCLUDED.record_hash
RETURNING (xmax = 0) AS inserted
"""


@dataclass
class WriteCounts:
    """What one write did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def upsert_papers(connection: Connection, records: Sequence[PaperRecord | dict[str, Any]]) -> WriteCounts:
    """Insert new papers, update changed ones, leave identical ones untouched (one transaction).

    Takes records or rows already made by `PaperRecord.to_row` (the importer makes them in a
    separate thread).
    """
    rows = _dedupe([r if isinstance(r, dict) else r.to_row() for r in records])
    if not rows:
        return WriteCounts()
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor:
        cursor.execute(_CREATE_STAGING)
        with cursor.copy(f"COPY papers_staging ({_COLUMN_LIST}) FROM STDIN") as copy:
            copy.set_types([pg_type for _, pg_type in PAPER_COLUMNS])
            for row in rows:
                copy.write_row([row[name] for name in _NAMES])
        cursor.execute(_DROP_UNCHANGED)
        cursor.execute(_UPSERT)
        results = cursor.fetchall()
        cursor.execute("TRUNCATE papers_staging")
    inserted = sum(1 for (is_new,) in results if is_new)
    updated = len(results) - inserted
    return WriteCounts(inserted=inserted, updated=updated, unchanged=len(records) - inserted - updated)


def store_rejects(connection: Connection, rejects: Sequence[Reject], *, run_id: int) -> None:
    """Record refused records; the same location refused again updates its row, never duplicates."""
    if not rejects:
        return
    unique = {r.key: r for r in rejects}
    statement = insert(RejectRow).values(
        [
            {
                "run_id": run_id,
                "source": r.source,
                "origin": r.origin,
                "locator": r.locator,
                "record_key": r.record_key,
                "reason": r.reason,
                "raw": r.raw,
            }
            for r in unique.values()
        ]
    )
    excluded = statement.excluded
    connection.execute(
        statement.on_conflict_do_update(
            constraint="uq_rejects_location",
            set_={"run_id": excluded.run_id, "reason": excluded.reason, "raw": excluded.raw,
                  "record_key": excluded.record_key},
            where=(RejectRow.reason != excluded.reason) | (RejectRow.raw != excluded.raw),
        )
    )


def delete_papers(connection: Connection, public_ids: Sequence[str]) -> int:
    """Remove papers a source withdrew (their embeddings go with them); returns how many."""
    if not public_ids:
        return 0
    result = connection.execute(
        text("DELETE FROM papers WHERE public_id = ANY(:ids)"), {"ids": list(public_ids)}
    )
    return result.rowcount


def _dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per public id within a batch (the last one wins), as one statement needs."""
    by_id = {row["public_id"]: row for row in rows}
    return list(by_id.values())
