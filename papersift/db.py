"""Engines and sessions made from Settings; nothing connects at import."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from papersift import embedded_pg
from papersift.errors import DatabaseUnavailable, SchemaOutdated
from papersift.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def resolve_database_url(settings: Settings) -> str:
    """The URL to connect to: PAPERSIFT_DATABASE_URL, or the embedded server (started if needed)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return embedded_pg.ensure_running(settings.pgdata_dir)


def make_engine(settings: Settings, *, url: str | None = None, pool_size: int = 5) -> Engine:
    """A psycopg 3 engine for the configured database; checks that the server answers."""
    engine = create_engine(
        url or resolve_database_url(settings),
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_pre_ping=True,
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as error:
        engine.dispose()
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {engine.url.render_as_string(hide_password=True)}: "
            f"{error.orig}",
            hint="start the server or fix PAPERSIFT_DATABASE_URL",
        ) from error
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (rows are read-only snapshots)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str):
    """An Alembic Config pointing at this project's migrations and the given database."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The code's newest migration."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def schema_revisions(engine: Engine) -> tuple[str | None, str]:
    """(the database's current revision, the code's head revision)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    url = engine.url.render_as_string(hide_password=False)
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head


def check_schema_current(engine: Engine) -> None:
    """Raise SchemaOutdated, naming the fix, unless the database is at the code's head revision."""
    current, head = schema_revisions(engine)
    if current != head:
        raise SchemaOutdated(
            f"database schema is at {current or 'nothing (empty database)'}, code needs {head}",
            hint="run: papersift db upgrade",
        )


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Run Alembic migrations up to `revision` on the engine's database."""
    from alembic import command

    url = engine.url.render_as_string(hide_password=False)
    command.upgrade(alembic_config(url), revision)


def downgrade_schema(engine: Engine, revision: str = "base") -> None:
    """Run Alembic migrations down to `revision`."""
    from alembic import command

    url = engine.url.render_as_string(hide_password=False)
    command.downgrade(alembic_config(url), revision)
