"""Drive a source into the store: batches in one transaction each, counts and cursor per batch.

A crash keeps every finished batch and a correct cursor; the next run of the same source and target
skips what the interrupted run already committed and finishes the job without duplicates.

A raw record whose source hash is the stored paper's is counted unchanged without being mapped
or written (one query per batch reads the stored hashes), so re-importing a file costs little
more than reading it. Two batches are written at once on two connections, but they commit in
batch order: the cursor is always the end of a committed prefix.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

from sqlalchemy import Connection, Engine

from indexer.copy_format import EncodedRow
from indexer.mapping import DEFAULT_PROCESSES, Mappers, encode_items
from indexer.records import PaperRecord, RawRecord, Reject
from indexer.repeats import SeenKeys
from indexer.runs import (
    RunCounts,
    finish_run,
    interrupted_run,
    mark_interrupted,
    record_batch,
    start_run,
)
from indexer.store import store_rejects, stored_source_hashes, upsert_papers

logger = logging.getLogger(__name__)

Item = PaperRecord | RawRecord | Reject
DUPLICATE_IDS_SHOWN = 5


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
        duplicate = ""
        if c.duplicate:
            more = ", …" if c.duplicate > len(c.duplicate_ids) else ""
            duplicate = f" · duplicate {c.duplicate:,} (ids: {', '.join(c.duplicate_ids)}{more})"
        return (
            f"{self.verb} {self.source}: read {c.read:,} · inserted {c.inserted:,} · updated {c.updated:,}"
            f" · unchanged {c.unchanged:,}{duplicate} · rejected {c.rejected:,}{deleted}{resumed}"
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
    writers: int = 2,
    processes: int = DEFAULT_PROCESSES,
) -> ImportSummary:
    """Write `items` in batches; resume an interrupted run of the same source and target.

    A record whose id was read before in this run counts as a duplicate (the last one read is
    stored); a resumed run knows only the ids it read itself. A raw record whose source hash is
    stored already counts as unchanged without being mapped."""
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
    mappers = Mappers(processes)  # before any thread starts (see Mappers)
    stream = iter(items)
    skipped = sum(1 for _ in itertools.islice(stream, skip))
    counts.cursor = {"items": skipped}
    seen = SeenKeys(engine)
    try:
        _write_in_order(engine, run_id, _prepared_batches(engine, stream, batch_size, seen, mappers), counts,
                        writers=writers, on_batch=on_batch)
    except BaseException as error:
        finish_run(engine, run_id, counts, error=f"{type(error).__name__}: {error}")
        raise
    finally:
        mappers.close()
        seen.close()
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
    """A batch ready to write: papers-table rows (already normalized) with ids new to the run,
    rows repeating an id read before, rejects, and how many records were unchanged (not mapped)."""

    rows: list[EncodedRow]
    repeats: list[EncodedRow]
    rejects: list[Reject]
    unchanged: int = 0

    @property
    def size(self) -> int:
        return len(self.rows) + len(self.repeats) + len(self.rejects) + self.unchanged


class _Abandoned(Exception):
    """A batch rolled back because an earlier one failed (it must not commit past the gap)."""


@dataclass
class _Turn:
    """A batch's place in the commit order: set once it committed or failed."""

    done: threading.Event
    committed: bool = False


def _write_in_order(engine: Engine, run_id: int, batches: Iterator[_Batch], counts: RunCounts, *,
                    writers: int, on_batch: Callable[[int], None] | None) -> None:
    """Write batches on up to `writers` connections at once, committing them in order.

    Each batch does its heavy statements, then waits for the previous batch to commit before it
    adds its counts and commits. A batch sharing a paper id (or a reject's location) with one in
    flight waits for that one to finish first: otherwise it could wait on the earlier batch's row
    lock while the earlier batch waits for it to commit.
    """
    in_flight: deque[tuple[Future[int], set[object]]] = deque()
    previous = _Turn(threading.Event(), committed=True)
    previous.done.set()

    def settle_oldest() -> None:
        future, _ = in_flight.popleft()
        size = future.result()  # re-raises the batch's error
        if on_batch:
            on_batch(size)

    # Leaving the pool waits for the batches in flight: after an error they roll back (an earlier
    # batch failed) or commit (the reader failed), so the counts are final when the run is closed.
    with ThreadPoolExecutor(max_workers=max(1, writers), thread_name_prefix="import-writer") as pool:
        for batch in batches:
            ids = ({row.public_id for row in batch.rows + batch.repeats}
                   | {reject.key for reject in batch.rejects})
            while in_flight and (len(in_flight) >= writers or any(ids & shared for _, shared in in_flight)):
                settle_oldest()
            turn = _Turn(threading.Event())
            in_flight.append((pool.submit(_write_batch, engine, run_id, batch, counts,
                                          after=previous, turn=turn), ids))
            previous = turn
        while in_flight:
            settle_oldest()


def _write_batch(engine: Engine, run_id: int, batch: _Batch, counts: RunCounts, *,
                 after: _Turn, turn: _Turn) -> int:
    """One batch in one transaction, committed only after the batch before it (`after`)."""
    try:
        with engine.begin() as connection:
            written = upsert_papers(connection, batch.rows)
            upsert_papers(connection, batch.repeats)  # after the first ones: the last one read wins
            store_rejects(connection, batch.rejects, run_id=run_id)
            after.done.wait()
            if not after.committed:
                raise _Abandoned("an earlier batch failed")
            totals = replace(
                counts,
                read=counts.read + batch.size,
                inserted=counts.inserted + written.inserted,
                updated=counts.updated + written.updated,
                unchanged=counts.unchanged + written.unchanged + batch.unchanged,
                duplicate=counts.duplicate + len(batch.repeats),
                duplicate_ids=(counts.duplicate_ids
                               + [row.public_id for row in batch.repeats])[:DUPLICATE_IDS_SHOWN],
                rejected=counts.rejected + len(batch.rejects),
                cursor={"items": counts.cursor.get("items", 0) + batch.size},
            )
            record_batch(connection, run_id, totals)
        vars(counts).update(vars(totals))  # the run's counts become the committed totals
        turn.committed = True
    finally:
        turn.done.set()
    logger.debug(  # the progress bar and the run's summary line say this on the console
        "batch: %d records, %d rejects (inserted %d, updated %d, unchanged %d)",
        batch.size - len(batch.rejects), len(batch.rejects), written.inserted, written.updated,
        written.unchanged + batch.unchanged,
    )
    for reject in batch.rejects:
        logger.debug("rejected %s %s: %s", reject.origin, reject.locator, reject.reason)
    return batch.size


def _prepared_batches(engine: Engine, items: Iterator[Item], size: int, seen: SeenKeys,
                      mappers: Mappers) -> Iterator[_Batch]:
    """Read in a background thread and map, normalize and encode in `mappers` while the caller
    writes earlier batches; then set apart repeated ids in reading order. A raw record whose source
    hash is stored is not mapped. Errors in the reader or a mapper surface here."""
    ready: queue.Queue[_Chunk | BaseException | None] = queue.Queue(maxsize=3)
    stop = threading.Event()

    def read() -> None:
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                while not stop.is_set() and (chunk := list(itertools.islice(items, size))):
                    ready.put(_Chunk.start(connection, chunk, mappers))
            ready.put(None)
        except BaseException as error:  # handed to the writer thread, which re-raises it
            ready.put(error)

    reader = threading.Thread(target=read, name="import-reader", daemon=True)
    reader.start()
    try:
        while (chunk := ready.get()) is not None:
            if isinstance(chunk, BaseException):
                raise chunk
            entries, rejects = chunk.result()
            first, repeats = seen.split(entries, key=lambda entry: entry.public_id)
            batch = _Batch([entry for entry in first if isinstance(entry, EncodedRow)], [], rejects)
            batch.unchanged = len(first) - len(batch.rows)
            for entry in repeats:  # an unchanged record read again is still written after the earlier copy
                if isinstance(entry, RawRecord):
                    (entry,) = encode_items([entry])
                (batch.rejects if isinstance(entry, Reject) else batch.repeats).append(entry)
            yield batch
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                pass


@dataclass
class _Chunk:
    """Items read, being mapped: in reading order, each unchanged raw record (not mapped) or
    source reject as it is, None for an item being mapped; and the mapping of those."""

    layout: list[RawRecord | Reject | None]
    mapped: Future[list[EncodedRow | Reject]]

    @classmethod
    def start(cls, connection: Connection, items: list[Item], mappers: Mappers) -> _Chunk:
        """Read the stored source hashes of the raw records (one query), send the others to map."""
        raw_ids = [item.public_id for item in items if isinstance(item, RawRecord)]
        stored = stored_source_hashes(connection, raw_ids) if raw_ids else {}
        layout: list[RawRecord | Reject | None] = []
        to_map: list[PaperRecord | RawRecord] = []
        for item in items:
            if isinstance(item, Reject) or (isinstance(item, RawRecord)
                                            and stored.get(item.public_id) == item.source_hash):
                layout.append(item)
            else:
                layout.append(None)
                to_map.append(item)
        return cls(layout, mappers.submit(to_map))

    def result(self) -> tuple[list[EncodedRow | RawRecord], list[Reject]]:
        """(rows and unchanged raw records, in reading order; rejects), once mapped."""
        mapped = iter(self.mapped.result())
        entries: list[EncodedRow | RawRecord] = []
        rejects: list[Reject] = []
        for item in self.layout:
            entry = next(mapped) if item is None else item
            (rejects if isinstance(entry, Reject) else entries).append(entry)
        return entries, rejects
