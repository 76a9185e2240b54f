"""Batched writes of papers and rejects: the only module that writes the papers table.

One query per batch reads the stored hashes of its papers. New papers are COPYed straight into
the table; changed ones are COPYed into a temporary staging table and upserted in one statement;
a paper whose record hash is stored already is not written at all (only its source hash, when it
came from other input), so re-importing the same data writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import insert

from indexer.copy_format import COLUMN_LIST, PAPER_COLUMNS, EncodedRow, encode_row
from indexer.records import PaperRecord, Reject
from papersift.models import Reject as RejectRow

_UPDATES = ", ".join(f"{name} = EXCLUDED.{name}" for name, _ in PAPER_COLUMNS if name != "public_id")

# Ids as one JSON array: psycopg turns a Python list into text[] at about 2 µs an id, JSON at 0.1.
_STORED = ("SELECT public_id, record_hash, source_hash FROM papers "
           "WHERE public_id = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)))")
_CREATE_STAGING = (
    f"CREATE TEMP TABLE IF NOT EXISTS papers_staging ON COMMIT DELETE ROWS AS "
    f"SELECT {COLUMN_LIST} FROM papers WITH NO DATA"
)
_UPSERT = f"""
INSERT INTO papers ({COLUMN_LIST})
SELECT {COLUMN_LIST} FROM papers_staging
ON CONFLICT (public_id) DO UPDATE SET {_UPDATES}, updated_at = now()
WHERE papers.record_hash IS DISTINCT FROM EXCLUDED.record_hash
RETURNING (xmax = 0) AS inserted
"""
_SET_SOURCE_HASHES = """
UPDATE papers AS p SET source_hash = v.source_hash
FROM unnest(%s::text[], %s::text[]) AS v (public_id, source_hash)
WHERE p.public_id = v.public_id
"""


@dataclass
class WriteCounts:
    """What one write did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def upsert_papers(connection: Connection,
                  records: Sequence[PaperRecord | dict[str, Any] | EncodedRow]) -> WriteCounts:
    """Insert new papers, update changed ones, leave identical ones untouched (one transaction).

    Takes records, rows made by `PaperRecord.to_row`, or rows encoded already (the importer
    encodes them in its reader thread).
    """
    rows = _dedupe([_encoded(record) for record in records])
    if not rows:
        return WriteCounts()
    with connection.connection.driver_connection.cursor() as cursor:
        stored = stored_hashes(cursor, [row.public_id for row in rows])
        new, changed, relabeled = [], [], []
        for row in rows:
            hashes = stored.get(row.public_id)
            if hashes is None:
                new.append(row)
            elif hashes[0] != row.record_hash:
                changed.append(row)
            elif row.source_hash and hashes[1] != row.source_hash:
                relabeled.append(row)  # the same paper, read from other input (or mapped by other code)
        inserted, updated = 0, 0
        if new and _copy_new(cursor, new):
            inserted = len(new)
        else:
            changed += new  # another writer added some of them meanwhile: upsert them all
        if changed:
            inserted_now, updated = _upsert(cursor, changed)
            inserted += inserted_now
        if relabeled:
            cursor.execute(_SET_SOURCE_HASHES, ([row.public_id for row in relabeled],
                                                [row.source_hash for row in relabeled]))
    return WriteCounts(inserted=inserted, updated=updated, unchanged=len(records) - inserted - updated)


def stored_hashes(cursor: psycopg.Cursor, public_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """{public id: (record hash, source hash)} of the stored papers among `public_ids`."""
    cursor.execute(_STORED, (orjson.dumps(public_ids).decode(),))
    return {public_id: (record, source) for public_id, record, source in cursor.fetchall()}


def stored_source_hashes(connection: Connection, public_ids: list[str]) -> dict[str, str | None]:
    """{public id: source hash} of the stored papers among `public_ids` (one query)."""
    with connection.connection.driver_connection.cursor() as cursor:
        return {public_id: hashes[1] for public_id, hashes in stored_hashes(cursor, public_ids).items()}


def _copy_new(cursor: psycopg.Cursor, rows: list[EncodedRow]) -> bool:
    """COPY papers not stored yet straight into the table; False (and nothing written) when one
    was stored meanwhile by another writer."""
    cursor.execute("SAVEPOINT new_papers")
    try:
        with cursor.copy(f"COPY papers ({COLUMN_LIST}) FROM STDIN") as copy:
            copy.write(b"".join(row.line for row in rows))
    except psycopg.errors.UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT new_papers")
        return False
    cursor.execute("RELEASE SAVEPOINT new_papers")
    return True


def _upsert(cursor: psycopg.Cursor, rows: list[EncodedRow]) -> tuple[int, int]:
    """Upsert through the staging table; (inserted, updated): rows whose record hash is stored
    already are not rewritten."""
    cursor.execute(_CREATE_STAGING)
    with cursor.copy(f"COPY papers_staging ({COLUMN_LIST}) FROM STDIN") as copy:
        copy.write(b"".join(row.line for row in rows))
    cursor.execute(_UPSERT)
    results = cursor.fetchall()
    cursor.execute("TRUNCATE papers_staging")
    inserted = sum(1 for (is_new,) in results if is_new)
    return inserted, len(results) - inserted


def _encoded(record: PaperRecord | dict[str, Any] | EncodedRow) -> EncodedRow:
    if isinstance(record, EncodedRow):
        return record
    return encode_row(record.to_row() if isinstance(record, PaperRecord) else record)


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


def _dedupe(rows: list[EncodedRow]) -> list[EncodedRow]:
    """One row per public id within a batch (the last one wins), as one statement needs."""
    by_id = {row.public_id: row for row in rows}
    return list(by_id.values())
