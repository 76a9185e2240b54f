"""Shared fixtures: a real embedded PostgreSQL for the whole run, a fresh migrated database per
test (cloned from a template), settings, the CLI runner and the real data folder."""

from __future__ import annotations

import gzip
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from typer.testing import CliRunner

from papersift import embedded_pg
from papersift.db import make_engine, upgrade_schema
from papersift.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DB = "papersift_template"
# Tests never reach the internet: nothing listens on the discard port, so a fetch fails at once.
NO_NETWORK_ARXIV = "http://127.0.0.1:9/api/query"
# The newest migration, which `db upgrade` must reach.
HEAD = ScriptDirectory(str(REPO_ROOT / "migrations")).get_current_head()
_database_numbers = itertools.count(1)


def shared_data_dir() -> Path:
    """The real data folder: PAPERSIFT_SHARED_DATA or ../shared/data beside the repo."""
    configured = os.environ.get("PAPERSIFT_SHARED_DATA")
    path = Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"
    if not (path / "arxiv").is_dir():
        pytest.fail(f"real data not found at {path}: set PAPERSIFT_SHARED_DATA to ../shared/data")
    return path.resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_data_dir()


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An embedded PostgreSQL started once for the run (stopped at the end); its admin URL."""
    pgdata = tmp_path_factory.mktemp("pg") / "pgdata"
    embedded_pg.ensure_running(pgdata)
    state = embedded_pg.status(pgdata)
    yield f"postgresql://postgres@/postgres?host={state.socket_dir}"
    embedded_pg.stop(pgdata)


@pytest.fixture(scope="session")
def template_url(pg_admin_url: str) -> str:
    """A database migrated to head by Alembic, cloned for every test."""
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"')
        conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    url = _database_url(pg_admin_url, TEMPLATE_DB)
    engine = make_engine(Settings(_env_file=None), url=url)
    upgrade_schema(engine)
    engine.dispose()
    return url


def create_database(pg_admin_url: str, *, template: str | None = TEMPLATE_DB) -> str:
    """A new database (a clone of the migrated template, or empty); returns its psycopg URL."""
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    clause = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{clause}')
    return _database_url(pg_admin_url, name)


def drop_database(pg_admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _database_url(admin_url: str, name: str) -> str:
    host = admin_url.split("?", 1)[1]
    return f"postgresql+psycopg://postgres@/{name}?{host}"


@pytest.fixture
def database_url(pg_admin_url: str, template_url: str) -> Iterator[str]:
    """A fresh database at the schema head, dropped after the test."""
    url = create_database(pg_admin_url)
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, shared_data: Path) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        data_dir=tmp_path / "var",
        shared_data=shared_data,
        import_batch_size=500,
        arxiv_api_url=NO_NETWORK_ARXIV,
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    yield engine
    engine.dispose()


class Cli:
    """Runs `papersift` in-process with the given settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runner = CliRunner()

    def __call__(self, *args: str):
        from papersift.cli import app

        return self.runner.invoke(app, [str(a) for a in args], obj=self.settings)


@pytest.fixture
def cli(settings: Settings) -> Cli:
    return Cli(settings)


@pytest.fixture
def client_for(settings: Settings):
    """Make a TestClient over create_app(settings); use it in a `with` block so the lifespan runs."""
    from fastapi.testclient import TestClient

    from service.app import create_app

    def make(app_settings: Settings | None = None) -> TestClient:
        return TestClient(create_app(app_settings or settings))

    return make


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Exported models shared by every test of the run (the export happens once)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def index_settings(settings: Settings, model_cache: Path) -> Settings:
    """Settings whose data_dir shares the run's exported models; fast index reloads."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not (settings.data_dir / "models").exists():
        (settings.data_dir / "models").symlink_to(model_cache, target_is_directory=True)
    return settings.model_copy(update={"index_reload_seconds": 0.2, "embed_batch_size": 32})


ARXIV_LINES = 200


def query_rows(settings: Settings, sql: str, **params) -> list:
    """Rows of one read-only SQL query (with bound `params`) against the database of `settings`."""
    from sqlalchemy import text

    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql), params).all()
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def corpus(pg_admin_url, template_url, shared_data, model_cache, tmp_path_factory) -> Settings:
    """~700 real papers (arXiv cs 2025, arXiv 2007 physics, COLM 2024) imported and indexed once."""
    url = create_database(pg_admin_url)
    data_dir = tmp_path_factory.mktemp("search-corpus")
    (data_dir / "models").symlink_to(model_cache, target_is_directory=True)
    settings = Settings(_env_file=None, database_url=url, data_dir=data_dir, shared_data=shared_data,
                        index_reload_seconds=0.2, arxiv_api_url=NO_NETWORK_ARXIV)
    with gzip.open(shared_data / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz", "rt") as handle:
        head = list(itertools.islice(handle, ARXIV_LINES))
    cs_file = data_dir / "arxiv-cs-head.jsonl"
    cs_file.write_text("".join(head))
    cli = Cli(settings)
    for args in (("import", "arxiv-snapshot", cs_file),
                 ("import", "arxiv-snapshot", shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl"),
                 ("import", "paperlists", shared_data / "venues" / "paperlists" / "colm" / "colm2024.json.gz")):
        assert cli(*args).exit_code == 0
    result = cli("index")
    assert result.exit_code == 0, result.output
    assert "keyword index full" in result.output
    yield settings
    make_engine(settings).dispose()
    drop_database(pg_admin_url, url)


@pytest.fixture(scope="module")
def client(corpus):
    """A TestClient over the search corpus, its lifespan running, one per test module."""
    from fastapi.testclient import TestClient

    from service.app import create_app

    with TestClient(create_app(corpus)) as client:
        yield client


@pytest.fixture(scope="module")
def llm_papers(pg_admin_url, template_url, shared_data, tmp_path_factory) -> Iterator[Settings]:
    """The language-model tests' papers: the 200 real records of the Kaggle snapshot sample,
    imported once per module into a database of its own."""
    url = create_database(pg_admin_url)
    settings = Settings(_env_file=None, database_url=url, data_dir=tmp_path_factory.mktemp("llm"),
                        shared_data=shared_data, arxiv_api_url=NO_NETWORK_ARXIV)
    result = Cli(settings)("import", "arxiv-snapshot", shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl")
    assert result.exit_code == 0, result.output
    yield settings
    drop_database(pg_admin_url, url)


@pytest.fixture
def chat(llm_papers: Settings):
    """A chat-completions server on 127.0.0.1 (tests/chat_server.py); afterwards nothing generated
    stays stored and the day's budget is unused again."""
    from sqlalchemy import text

    from tests.chat_server import chat_server

    with chat_server() as server:
        yield server
    engine = make_engine(llm_papers)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE paper_generations, llm_usage, query_translations"))
    engine.dispose()
