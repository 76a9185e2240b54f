"""One run of a job at a time across processes and machines: a PostgreSQL session-level advisory
lock on a key derived from the lock's name, taken with pg_try_advisory_lock on a dedicated
connection that is held (in autocommit, so never idle in a transaction) for the whole run. If the
process dies, PostgreSQL drops the connection and with it the lock."""

from __future__ import annotations

import hashlib
import logging
from typing import Self

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

logger = logging.getLogger(__name__)

_IS_HELD = """
SELECT EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 1
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND classid::bigint = :high AND objid::bigint = :low)
"""


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a lock name."""
    digest = hashlib.blake2b(f"papersift-job:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class JobLock:
    """A held advisory lock; `release()` (or leaving the `with` block) unlocks and closes."""

    def __init__(self, connection: Connection, name: str) -> None:
        self.connection = connection
        self.name = name
        self.released = False

    def release(self) -> None:
        """Unlock and close the connection (once; later calls do nothing)."""
        if self.released:
            return
        self.released = True
        try:
            self.connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key(self.name)})
        except DBAPIError as error:  # the connection broke: the server released the lock with it
            logger.warning("lock %s: the connection was lost before unlocking (%s)", self.name, error.orig)
        finally:
            self.connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def try_lock(engine: Engine, name: str) -> JobLock | None:
    """Take the named lock, or return None at once when another session holds it."""
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                   {"key": lock_key(name)}).scalar_one()
    except BaseException:
        connection.close()
        raise
    if not taken:
        connection.close()
        return None
    return JobLock(connection, name)


def is_locked(engine: Engine, name: str) -> bool:
    """Whether any session holds the named lock (read from pg_locks; takes nothing)."""
    unsigned = lock_key(name) & 0xFFFF_FFFF_FFFF_FFFF
    with engine.connect() as connection:
        return connection.execute(text(_IS_HELD), {"high": unsigned >> 32,
                                                   "low": unsigned & 0xFFFF_FFFF}).scalar_one()
