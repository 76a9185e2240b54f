"""Drive a harvester: each page is written in one transaction together with the cursor after it.

A harvester is a function from the cursor of an interrupted run (or None) to an iterator of pages.
A crash (even SIGKILL) keeps every finished page and the cursor that follows it, so the next run of
the same source and target continues there, and never writes a page twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from indexer.ingest import ImportSummary
from indexer.records import PaperRecord, Reject
from indexer.runs import (
    RunCounts,
    finish_run,
    interrupted_run,
    mark_interrupted,
    record_batch,
    start_run,
)
from indexer.store import delete_papers, store_rejects, upsert_papers

logger = logging.getLogger(__name__)


@dataclass
class Page:
    """One response's worth of records, and where the next page starts."""

    items: list[PaperRecord | Reject]
    cursor: dict[str, Any]
    deleted: list[str] = field(default_factory=list)  # public ids the source withdrew


PageSource = Callable[[dict[str, Any] | None], Iterator[Page]]


def run_harvest(
    engine: Engine,
    *,
    source: str,
    target: str,
    pages: PageSource,
    on_page: Callable[[Page], None] | None = None,
) -> ImportSummary:
    """Write every page `pages` yields; resume an interrupted run of the same source and target."""
    started = time.perf_counter()
    previous = interrupted_run(engine, source=source, target=target, include_failed=True)
    run_id = start_run(engine, source=source, target=target)
    resume_cursor = None
    if previous is not None:
        previous_id, resume_cursor, status = previous
        if status == "running":  # killed: say so; a failed run keeps its own error
            mark_interrupted(engine, previous_id, resumed_by=run_id)
        logger.info("resuming run %s of %s %s at %s", previous_id, source, target, resume_cursor)
    counts = RunCounts(cursor=dict(resume_cursor or {}))
    try:
        for page in pages(resume_cursor or None):
            _write_page(engine, run_id, page, counts)
            if on_page:
                on_page(page)
    except BaseException as error:
        finish_run(engine, run_id, counts, error=f"{type(error).__name__}: {error}")
        raise
    finish_run(engine, run_id, counts)
    return ImportSummary(
        source=source, run_id=run_id, counts=counts, seconds=time.perf_counter() - started,
        verb="harvest",
    )


def _write_page(engine: Engine, run_id: int, page: Page, counts: RunCounts) -> None:
    records = [item for item in page.items if isinstance(item, PaperRecord)]
    rejects = [item for item in page.items if isinstance(item, Reject)]
    with engine.begin() as connection:
        written = upsert_papers(connection, records)
        store_rejects(connection, rejects, run_id=run_id)
        deleted = delete_papers(connection, page.deleted)
        counts.read += len(page.items) + len(page.deleted)
        counts.inserted += written.inserted
        counts.updated += written.updated
        counts.unchanged += written.unchanged
        counts.rejected += len(rejects)
        counts.deleted += deleted
        counts.cursor = page.cursor
        record_batch(connection, run_id, counts)
    logger.info("page: %d records, %d rejects, %d deleted (inserted %d, updated %d) · next %s",
                len(records), len(rejects), deleted, written.inserted, written.updated, page.cursor)
