"""Mapping, normalizing and encoding records for the importer."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future

from indexer.copy_format import EncodedRow, encode_row
from indexer.records import PaperRecord, RawRecord, Reject

DEFAULT_PROCESSES = 0


def encode_items(items: Sequence[PaperRecord | RawRecord]) -> list[EncodedRow | Reject]:
    """Each item mapped (a raw record), normalized and encoded, in order; or its reject."""
    encoded: list[EncodedRow | Reject] = []
    for item in items:
        mapped = item.mapped() if isinstance(item, RawRecord) else item
        if isinstance(mapped, Reject):
            encoded.append(mapped)
        else:
            source_hash = item.source_hash if isinstance(item, RawRecord) else None
            encoded.append(encode_row(mapped.to_row(source_hash=source_hash)))
    return encoded


class Mappers:
    """Where batches are mapped (in this process)."""

    def __init__(self, processes: int = 0) -> None:
        self.processes = processes

    def submit(self, items: Sequence[PaperRecord | RawRecord]) -> Future[list[EncodedRow | Reject]]:
        future: Future[list[EncodedRow | Reject]] = Future()
        try:
            future.set_result(encode_items(items))
        except Exception as error:  # raised where the result is read
            future.set_exception(error)
        return future

    def close(self) -> None:
        pass
