"""Mapping, normalizing and encoding records, in worker processes.

Python, not PostgreSQL, bounds a first import: mapping and normalizing a record costs about twice
what PostgreSQL spends storing it, and one Python process computes on one core at a time. So the
importer maps its batches in worker processes while it reads, compares hashes and writes.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from indexer.copy_format import EncodedRow, encode_row
from indexer.records import PaperRecord, RawRecord, Reject
from papersift.child_process import exit_with_parent

# One per core, up to two.
DEFAULT_PROCESSES = min(2, os.cpu_count() or 1) if (os.cpu_count() or 1) > 1 else 0


def encode_items(items: Sequence[PaperRecord | RawRecord]) -> list[EncodedRow | Reject]:
    """Each item mapped (a raw record), normalized and encoded, in order; or its reject."""
    return [_encode(item) for item in items]


def _encode(item: PaperRecord | RawRecord) -> EncodedRow | Reject:
    mapped = item.mapped() if isinstance(item, RawRecord) else item
    if isinstance(mapped, Reject):
        return mapped
    return encode_row(mapped.to_row(source_hash=item.source_hash if isinstance(item, RawRecord) else None))


class Mappers:
    """Where batches are mapped: in `processes` worker processes, or in this one (processes=0)."""

    def __init__(self, processes: int = DEFAULT_PROCESSES) -> None:
        self._pool: ProcessPoolExecutor | None = None
        if processes > 0:
            # Forked now, before the importer starts its own threads (a fork copies a lock another
            # thread holds as held); forking copies the loaded modules, where spawning would import
            # them again (a second of CPU per worker). Workers only map: no connection, no logging.
            self._pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"),
                                             initializer=exit_with_parent)
            self._pool.submit(int).result()

    def submit(self, items: Sequence[PaperRecord | RawRecord]) -> Future[list[EncodedRow | Reject]]:
        if self._pool is not None and items:
            return self._pool.submit(encode_items, items)
        future: Future[list[EncodedRow | Reject]] = Future()
        try:
            future.set_result(encode_items(items))
        except Exception as error:  # raised where the result is read, as from a worker
            future.set_exception(error)
        return future

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
