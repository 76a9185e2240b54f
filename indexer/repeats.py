"""Public ids already read in this import run, to tell a repeated record from an unchanged one.

The ids live in a temporary table on a connection of their own, so memory stays constant on a
snapshot of millions of records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import orjson
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

T = TypeVar("T")


class SeenKeys:
    """The ids of one run, in reading order; close it when the run ends."""

    def __init__(self, engine: Engine) -> None:
        self._connection = engine.connect()
        self._connection.execute(text(
            "CREATE TEMP TABLE IF NOT EXISTS import_seen_keys (public_id text PRIMARY KEY)"))
        self._connection.execute(text("TRUNCATE import_seen_keys"))
        self._connection.commit()

    def split(self, entries: list[T], key: Callable[[T], str]) -> tuple[list[T], list[T]]:
        """(entries whose id is new to this run, entries repeating an id read before), each in
        reading order."""
        first: dict[str, T] = {}
        repeats: list[T] = []
        for entry in entries:
            if key(entry) in first:
                repeats.append(entry)
            else:
                first[key(entry)] = entry
        if not first:
            return [], repeats
        new = set(self._connection.execute(text(  # the ids as JSON: far cheaper to send than a list
            "INSERT INTO import_seen_keys SELECT jsonb_array_elements_text(CAST(:ids AS jsonb)) "
            "ON CONFLICT DO NOTHING RETURNING public_id"), {"ids": orjson.dumps(list(first)).decode()}).scalars())
        self._connection.commit()
        earlier = [entry for public_id, entry in first.items() if public_id not in new]
        return [entry for public_id, entry in first.items() if public_id in new], earlier + repeats

    def close(self) -> None:
        """Drop the table (the connection goes back to the pool) and release the connection. A
        connection that Ctrl-C broke off mid-statement is discarded instead: its session, table
        included, ends with it, and the interrupt is not hidden behind a failing DROP."""
        try:
            self._connection.rollback()
            self._connection.execute(text("DROP TABLE IF EXISTS import_seen_keys"))
            self._connection.commit()
        except SQLAlchemyError:
            self._connection.invalidate()
        finally:
            self._connection.close()
