"""Drive a source into the store: batches in one transaction each, counts and cursor per batch.

A crash keeps every finished batch and a correct cursor; the next run of the same source and target
skips what the interrupted run already committed and finishes the job without duplicates.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from indexer.records import PaperRecord, Reject
from indexer.runs import (
    RunCounts,
    finish_run,
    interrupted_run,
    mark_interrupted,
    record_batch,
    start_run,
)
from indexer.store import store_rejects, upsert_papers

logger = logging.getLogger(__name__)

Item = PaperRecord | Reject


@dataclass
class ImportSummary:
    """What an import did, for the command's one summary line and its exit code."""

    source: str
    run_id: int
    counts: RunCounts
    seconds: float
    resumed_after: int = 0
    verb: str = "import"

    @property
    def rate(self) -> float:
        return self.counts.read / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        c = self.counts
        resumed = f" · resumed after {self.resumed_after:,}" if self.resumed_after else ""
        deleted = f" · deleted {c.deleted:,}" if c.deleted else ""
        return (
            f"{self.verb} {self.source}: read {c.read:,} · inserted {c.inserted:,} · updated {c.updated:,}"
            f" · unchanged {c.unchanged:,} · rejected {c.rejected:,}{deleted}{resumed}"
            f" · {self.rate:,.0f} rec/s · {self.seconds:.1f} s"
        )


def run_import(
    engine: Engine,
    *,
    source: str,
    target: str,
    items: Iterable[Item],
    batch_size: int = 2000,
    on_batch: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Write `items` in batches; resume an interrupted run of the same source and target."""
    started = time.perf_counter()
    previous = interrupted_run(engine, source=source, target=target)
    run_id = start_run(engine, source=source, target=target)
    counts = RunCounts()
    skip = 0
    if previous is not None:
        previous_id, cursor, _ = previous
        skip = int(cursor.get("items", 0))
        mark_interrupted(engine, previous_id, resumed_by=run_id)
        logger.info("resuming run %s of %s after %s items", previous_id, target, skip)
    stream = iter(items)
    skipped = sum(1 for _ in itertools.islice(stream, skip))
    counts.cursor = {"items": skipped}
    try:
        for batch in _prepared_batches(stream, batch_size):
            _write_batch(engine, run_id, batch, counts)
            if on_batch:
                on_batch(batch.size)
    except BaseException as error:
        finish_run(engine, run_id, counts, error=f"{type(error).__name__}: {error}")
        raise
    finish_run(engine, run_id, counts)
    return ImportSummary(
        source=source,
        run_id=run_id,
        counts=counts,
        seconds=time.perf_counter() - started,
        resumed_after=skipped,
    )


@dataclass
class _Batch:
    """A batch ready to write: papers-table rows (already normalized) and rejects."""

    rows: list[dict[str, Any]]
    rejects: list[Reject]

    @property
    def size(self) -> int:
        return len(self.rows) + len(self.rejects)


def _write_batch(engine: Engine, run_id: int, batch: _Batch, counts: RunCounts) -> None:
    with engine.begin() as connection:
        written = upsert_papers(connection, batch.rows)
        store_rejects(connection, batch.rejects, run_id=run_id)
        counts.read += batch.size
        counts.inserted += written.inserted
        counts.updated += written.updated
        counts.unchanged += written.unchanged
        counts.rejected += len(batch.rejects)
        counts.cursor = {"items": counts.cursor.get("items", 0) + batch.size}
        record_batch(connection, run_id, counts)
    logger.info(
        "batch: %d records, %d rejects (inserted %d, updated %d, unchanged %d)",
        len(batch.rows), len(batch.rejects), written.inserted, written.updated, written.unchanged,
    )
    for reject in batch.rejects:
        logger.debug("rejected %s %s: %s", reject.origin, reject.locator, reject.reason)


def _prepared_batches(items: Iterator[Item], size: int) -> Iterator[_Batch]:
    """Read, map and normalize in a background thread while the caller writes the previous batch
    (PostgreSQL works on the other core meanwhile). Errors in the reader surface here."""
    ready: queue.Queue[_Batch | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set() and (chunk := list(itertools.islice(items, size))):
                rows = [item.to_row() for item in chunk if isinstance(item, PaperRecord)]
                rejects = [item for item in chunk if isinstance(item, Reject)]
                ready.put(_Batch(rows, rejects))
            ready.put(None)
        except BaseException as error:  # handed to the writer thread, which re-raises it
            ready.put(error)

    reader = threading.Thread(target=read, name="import-reader", daemon=True)
    reader.start()
    try:
        while (batch := ready.get()) is not None:
            if isinstance(batch, BaseException):
                raise batch
            yield batch
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                pass
