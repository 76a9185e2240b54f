"""Migrations round trip; `papersift db upgrade/status/stop` with and without PAPERSIFT_DATABASE_URL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Table, inspect, text

from indexer.ingest import run_import
from indexer.sources.arxiv_snapshot import iter_snapshot
from papersift import embedded_pg
from papersift.db import downgrade_schema, make_engine, schema_revisions, upgrade_schema
from papersift.settings import Settings
from tests.conftest import HEAD, Cli, create_database, drop_database

TABLES = {"alembic_version", "ingest_runs", "job_runs", "llm_usage", "paper_embeddings", "paper_generations",
          "paper_removals", "papers", "query_translations", "rejects",
          "accounts", "sign_in_tokens", "account_sessions", "library_marks", "subscriptions", "digest_sends"}
# What the queries of the listings, venue pages, twin links, id lookups and imports use (README).
PAPERS_INDEXES = {"pk_papers", "uq_papers_public_id", "ix_papers_categories", "ix_papers_primary_category_announced",
                  "ix_papers_venue_slug_year", "ix_papers_twin_id", "ix_papers_updated_at"}
# What migration 0008 dropped: maintained on every write, read by nothing since keyword search is tantivy's.
UNREAD_INDEXES = {"ix_papers_search_vector", "ix_papers_title_key_trgm", "ix_papers_author_keys", "ix_papers_title_key",
                  "ix_papers_published_date"}


def test_migrations_go_empty_to_head_to_base_to_head(pg_admin_url):
    url = create_database(pg_admin_url, template=None)
    engine = make_engine(Settings(_env_file=None), url=url)
    try:
        assert set(inspect(engine).get_table_names()) == set()
        upgrade_schema(engine)
        assert set(inspect(engine).get_table_names()) == TABLES
        current, head = schema_revisions(engine)
        assert current == head == HEAD
        assert _papers_indexes(engine) == PAPERS_INDEXES

        downgrade_schema(engine, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        assert schema_revisions(engine)[0] is None

        upgrade_schema(engine)
        assert set(inspect(engine).get_table_names()) == TABLES
    finally:
        engine.dispose()
        drop_database(pg_admin_url, url)


def test_the_models_match_the_migrations(engine):
    """What Alembic would generate from papersift/models.py against a database at head: nothing
    (so the tables the code maps are the tables the migrations make)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from papersift.models import Base

    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    # paper_removals is written by a trigger and read by plain SQL (indexer/catalog_changes.py): unmapped.
    unmapped = {"paper_removals"}
    assert [d for d in differences if _table_of(d) not in unmapped] == []


def _table_of(difference) -> str:
    """The table an autogenerate difference is about (a table, or an index of one)."""
    item = difference[1]
    return item.name if isinstance(item, Table) else item.table.name


@pytest.fixture
def sample_engine(pg_admin_url, shared_data):
    """A new database at the head revision holding the 200 real snapshot records."""
    url = create_database(pg_admin_url, template=None)
    engine = make_engine(Settings(_env_file=None), url=url)
    try:
        upgrade_schema(engine)
        sample = shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl"
        run_import(engine, source="arxiv-snapshot", target="sample", items=iter_snapshot(sample))
        yield engine
    finally:
        engine.dispose()
        drop_database(pg_admin_url, url)


def test_dropping_the_unread_indexes_round_trips_with_real_papers(sample_engine):
    """0008 up, down (the weighted full-text vector and its GIN index computed again for stored
    papers) and up again, on the 200 real snapshot records."""
    engine = sample_engine
    stored = _stored_papers(engine)
    assert len(stored) == 200

    downgrade_schema(engine, "0007")
    assert _papers_indexes(engine) == (PAPERS_INDEXES - {"ix_papers_updated_at"}) | UNREAD_INDEXES
    with engine.connect() as connection:
        connection.execute(text("SET enable_seqscan = off"))
        query = "FROM papers WHERE search_vector @@ to_tsquery('english', 'diphoton & tevatron')"
        plan = "\n".join(connection.execute(text(f"EXPLAIN SELECT public_id {query}")).scalars())
        assert "ix_papers_search_vector" in plan
        assert connection.execute(text(f"SELECT public_id {query}")).scalars().all() == ["arxiv:0704.0001"]
        weights = connection.execute(text(
            "SELECT search_vector FROM papers WHERE public_id = 'arxiv:0704.0001'")).scalar_one()
        assert "'diphoton':4A" in weights  # the title's fourth word, weight A
        assert re.search(r"'balázs':\d+B", weights)  # authors: weight B, not stemmed
    assert _stored_papers(engine) == stored

    upgrade_schema(engine)
    assert _papers_indexes(engine) == PAPERS_INDEXES
    assert "search_vector" not in {column["name"] for column in inspect(engine).get_columns("papers")}
    assert _stored_papers(engine) == stored


def test_deleted_papers_are_logged_with_their_twins_and_the_log_round_trips(sample_engine):
    """0010: a deleted paper leaves its id and its twin's in `paper_removals` (the incremental
    keyword catalog reads them); down to 0009 and back up on real records."""
    engine = sample_engine
    with engine.begin() as connection:
        first, second, third = connection.execute(text("SELECT id FROM papers ORDER BY id LIMIT 3")).scalars()
        connection.execute(text("UPDATE papers SET twin_id = :b WHERE id = :a"), {"a": first, "b": second})
        connection.execute(text("DELETE FROM papers WHERE id IN (:a, :c)"), {"a": first, "c": third})
        logged = connection.execute(text("SELECT paper_id, twin_id FROM paper_removals ORDER BY paper_id")).all()
    assert [tuple(row) for row in logged] == [(first, second), (third, None)]
    downgrade_schema(engine, "0009")
    assert "paper_removals" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM papers WHERE id = :b"), {"b": second})  # no trigger left
    upgrade_schema(engine)
    assert "ix_papers_updated_at" in _papers_indexes(engine)
    assert len(_stored_papers(engine)) == 197


def _papers_indexes(engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'papers'")).scalars())


def _stored_papers(engine) -> list[tuple]:
    with engine.connect() as connection:
        return connection.execute(text("SELECT id, public_id, record_hash, title FROM papers ORDER BY id")).all()


def test_db_status_names_the_external_server_and_schema(cli, database_url):
    result = cli("db", "status")
    assert result.exit_code == 0, result.output
    assert "server: external, PAPERSIFT_DATABASE_URL = postgresql+psycopg://postgres@/test_" in result.output
    assert f"schema: {HEAD} (code needs {HEAD}) · current" in result.output


def test_a_command_prints_only_its_own_lines(database_url, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PAPERSIFT_DATABASE_URL": database_url, "PAPERSIFT_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "papersift.cli", "db", "status"], env=env,
                            capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["server", "schema"], lines  # no alembic, no faiss


def test_db_status_reports_an_outdated_schema_with_the_fix(pg_admin_url, tmp_path):
    url = create_database(pg_admin_url, template=None)
    try:
        cli = Cli(Settings(_env_file=None, database_url=url, data_dir=tmp_path))
        result = cli("db", "status")
        assert f"schema: empty (code needs {HEAD}) · outdated: run papersift db upgrade" in result.output
        upgraded = cli("db", "upgrade")
        assert upgraded.exit_code == 0, upgraded.output
        assert f"db upgrade: schema empty → {HEAD}" in upgraded.output
    finally:
        drop_database(pg_admin_url, url)


def test_embedded_server_starts_under_its_data_dir_is_reused_and_stops(tmp_path: Path):
    settings = Settings(_env_file=None, data_dir=tmp_path / "var")
    cli = Cli(settings)
    try:
        stopped = cli("db", "status")
        assert f"server: embedded PostgreSQL under {tmp_path / 'var' / 'pgdata'} · stopped" in stopped.output

        assert cli("db", "upgrade").exit_code == 0
        running = cli("db", "status")
        pid = embedded_pg.status(settings.pgdata_dir).pid
        assert f"· running (pid {pid})" in running.output
        assert f"schema: {HEAD} (code needs {HEAD}) · current" in running.output

        other = Settings(_env_file=None, data_dir=tmp_path / "other")
        other_url = embedded_pg.ensure_running(other.pgdata_dir)
        assert embedded_pg.status(other.pgdata_dir).pid != pid  # never a shared server
        assert str(other.pgdata_dir) in other_url
        embedded_pg.stop(other.pgdata_dir)

        again = cli("db", "upgrade")  # reuses the running server
        assert embedded_pg.status(settings.pgdata_dir).pid == pid
        assert f"db upgrade: schema {HEAD} → {HEAD}" in again.output
    finally:
        result = cli("db", "stop")
    assert f"db stop: stopped ({settings.pgdata_dir})" in result.output
    assert not embedded_pg.status(settings.pgdata_dir).running
