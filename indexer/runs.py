"""ingest_runs rows: start a run, add a batch's counts and cursor, finish it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from papersift.models import IngestRun


@dataclass
class RunCounts:
    """Counts of one run, also written to its ingest_runs row (all but the duplicates)."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    deleted: int = 0
    duplicate: int = 0
    duplicate_ids: list[str] = field(default_factory=list)
    cursor: dict[str, Any] = field(default_factory=dict)


def start_run(engine: Engine, *, source: str, target: str) -> int:
    """Insert a running ingest_runs row in its own transaction; return its id."""
    with engine.begin() as connection:
        return connection.execute(
            insert(IngestRun).values(source=source, target=target).returning(IngestRun.id)
        ).scalar_one()


def record_batch(connection: Connection, run_id: int, counts: RunCounts) -> None:
    """Write the run's running totals and cursor inside the batch's transaction."""
    connection.execute(
        update(IngestRun)
        .where(IngestRun.id == run_id)
        .values(
            read_count=counts.read,
            inserted_count=counts.inserted,
            updated_count=counts.updated,
            unchanged_count=counts.unchanged,
            rejected_count=counts.rejected,
            deleted_count=counts.deleted,
            cursor=counts.cursor,
        )
    )


def finish_run(engine: Engine, run_id: int, counts: RunCounts, *, error: str | None = None) -> None:
    """Mark the run succeeded (or failed with the error) with its final counts."""
    with engine.begin() as connection:
        record_batch(connection, run_id, counts)
        connection.execute(
            update(IngestRun)
            .where(IngestRun.id == run_id)
            .values(
                status="failed" if error else "succeeded",
                error=error,
                finished_at=datetime.now(UTC),
            )
        )


def interrupted_run(
    engine: Engine, *, source: str, target: str, include_failed: bool = False
) -> tuple[int, dict[str, Any], str] | None:
    """(id, cursor, status) of the newest run of this source and target if it never finished
    (or, with include_failed, ended with an error), to resume."""
    with engine.connect() as connection:
        row = connection.execute(
            select(IngestRun.id, IngestRun.cursor, IngestRun.status)
            .where(IngestRun.source == source, IngestRun.target == target)
            .order_by(IngestRun.started_at.desc(), IngestRun.id.desc())
            .limit(1)
        ).first()
    resumable = ("running", "failed") if include_failed else ("running",)
    if row is None or row.status not in resumable:
        return None
    return row.id, row.cursor, row.status


def last_success_cursor(engine: Engine, *, source: str, target: str) -> dict[str, Any] | None:
    """The cursor of the newest succeeded run of this source and target (its high-water mark)."""
    with engine.connect() as connection:
        return connection.execute(
            select(IngestRun.cursor)
            .where(IngestRun.source == source, IngestRun.target == target,
                   IngestRun.status == "succeeded")
            .order_by(IngestRun.started_at.desc(), IngestRun.id.desc())
            .limit(1)
        ).scalar()


def highest_success_value(
    engine: Engine, *, source: str, target_prefix: str, key: str
) -> str | None:
    """The highest `cursor[key]` (compared as text) over the succeeded runs of this source whose
    target starts with `target_prefix`: a high-water mark shared by runs over different windows."""
    with engine.connect() as connection:
        return connection.execute(
            select(func.max(IngestRun.cursor[key].astext))
            .where(IngestRun.source == source, IngestRun.status == "succeeded",
                   IngestRun.target.startswith(target_prefix, autoescape=True))
        ).scalar()


def mark_interrupted(engine: Engine, run_id: int, *, resumed_by: int) -> None:
    """Close a run that was killed midway; the run that resumes it is named in its error."""
    with engine.begin() as connection:
        connection.execute(
            update(IngestRun)
            .where(IngestRun.id == run_id)
            .values(status="failed", error=f"interrupted; resumed by run {resumed_by}",
                    finished_at=datetime.now(UTC))
        )


def remember_in_cursor(engine: Engine, run_id: int, **values: Any) -> None:
    """Add keys to a finished run's cursor (e.g. the fingerprint of the file it read)."""
    with engine.begin() as connection:
        cursor = connection.execute(
            select(IngestRun.cursor).where(IngestRun.id == run_id).with_for_update()).scalar_one()
        connection.execute(update(IngestRun).where(IngestRun.id == run_id).values(cursor={**cursor, **values}))
