"""The read path's connections: a small pool of autocommit psycopg connections whose statements
are prepared on the server, so the rows a page shows cost one round trip (no ping, BEGIN or
ROLLBACK around the query) and no ORM. Writes and multi-statement work keep using sessions."""

from __future__ import annotations

import logging

import psycopg
from psycopg_pool import ConnectionPool
from sqlalchemy.engine import make_url

from papersift.errors import DatabaseUnavailable

logger = logging.getLogger(__name__)


def libpq_conninfo(url: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg://...`) as the libpq URI psycopg connects with."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class ReadPool:
    """`rows(sql, params)` on one of up to `size` kept-open connections."""

    def __init__(self, url: str, *, size: int = 4) -> None:
        self._pool = ConnectionPool(libpq_conninfo(url), min_size=1, max_size=size, open=True, name="reads",
                                    kwargs={"autocommit": True, "prepare_threshold": 0})

    def rows(self, sql: str, params: dict | tuple) -> list[tuple]:
        """All rows of one read-only statement. A connection the server dropped since its last use
        (a restart, an idle timeout) is replaced and the statement run once more."""
        try:
            return self._fetch(sql, params)
        except psycopg.OperationalError as error:
            logger.warning("read connection lost (%s); reconnecting", error)
            self._pool.check()  # drops every broken idle connection
            try:
                return self._fetch(sql, params)
            except psycopg.OperationalError as again:
                raise DatabaseUnavailable(f"cannot read from PostgreSQL: {again}",
                                          hint="check that the database server is running") from again

    def _fetch(self, sql: str, params) -> list[tuple]:
        with self._pool.connection() as connection:
            return connection.execute(sql, params).fetchall()

    def close(self) -> None:
        self._pool.close()
