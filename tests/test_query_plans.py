"""The queries that need an index still use one (README, "What PostgreSQL indexes").

The statements are the ones the code runs: recorded while the listing, venue, paper, home-page and
twin code runs against real papers, then EXPLAINed with their parameters. With a few thousand rows
PostgreSQL may rightly prefer a sequential scan, so the plans are taken with `enable_seqscan = off`:
a statement that still scans the table has no index it can use.
"""

from __future__ import annotations

import gzip
import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from indexer.catalog_changes import read_change_point, read_changes
from indexer.ingest import run_import
from indexer.sources.arxiv_snapshot import iter_raw_snapshot
from indexer.sources.paperlists import iter_raw_paperlists
from indexer.store import _STORED, stored_source_hashes
from indexer.twins import _UNLINK_STALE_SQL, link_twins
from papersift.db import make_engine
from papersift.settings import Settings
from service.api.browse import listing_for, venue_year
from service.api.papers import find_paper
from service.reads import ReadPool
from service.search.cards import load_cards
from tests.conftest import create_database, drop_database

ARXIV_LINES = 3_000
_INDEX = re.compile(r"(?:Index|Index Only|Bitmap Index) Scan (?:Backward )?(?:using |on )(\w+)")


@pytest.fixture(scope="module")
def engine(pg_admin_url, template_url, shared_data, tmp_path_factory) -> Iterator[Engine]:
    """The first 3,000 cs records of 2025 and COLM 2024 and 2025 (47 twins), twins linked."""
    url = create_database(pg_admin_url)
    engine = make_engine(Settings(_env_file=None), url=url)
    head = tmp_path_factory.mktemp("plans") / "arxiv-head.jsonl"
    with gzip.open(shared_data / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz", "rb") as source:
        head.write_bytes(b"".join(itertools.islice(source, ARXIV_LINES)))
    lists = shared_data / "venues" / "paperlists"
    run_import(engine, source="arxiv-snapshot", target="head", items=iter_raw_snapshot(head))
    run_import(engine, source="paperlists", target="lists", items=iter_raw_paperlists(
        [lists / "colm" / "colm2024.json.gz", lists / "colm" / "colm2025.json.gz"]))
    link_twins(engine)  # also analyzes the table
    yield engine
    engine.dispose()
    drop_database(pg_admin_url, url)


@contextmanager
def recorded(engine: Engine | type[Engine]) -> Iterator[list[tuple[str, object]]]:
    """The SELECTs run through `engine` (or through every engine, given the class: the app makes
    its own) inside the block, with their parameters."""
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


class RecordingReads(ReadPool):
    """The service's read pool, also recording the statements it runs into `statements`."""

    def __init__(self, engine: Engine, statements: list[tuple[str, object]]) -> None:
        super().__init__(engine.url.render_as_string(hide_password=False), size=1)
        self.statements = statements

    def rows(self, sql: str, params):
        self.statements.append((sql, params))
        return super().rows(sql, params)


def index_use(engine: Engine, statement: str, parameters: object = None) -> tuple[set[str], bool]:
    """(the indexes its plan reads, whether it still scans papers whole) with seq scans off."""
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + statement, parameters)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    finally:
        raw.rollback()
        raw.close()
    return set(_INDEX.findall(plan)), bool(re.search(r"Seq Scan on papers\b", plan))


def _plans(engine: Engine, statements) -> list[tuple[str, set[str], bool]]:
    return [(statement, *index_use(engine, statement, parameters)) for statement, parameters in statements
            if "FROM papers" in statement or "JOIN papers" in statement]


def test_an_arxiv_listing_day_reads_the_category_and_day_indexes(engine):
    day = date(2025, 3, 25)
    with recorded(engine) as statements, Session(engine) as session:
        reads = RecordingReads(engine, statements)
        listing = listing_for(session, reads, ["cs.CL", "cs.AI"], ["cs.CY"], day)
        listing_for(session, reads, ["cs.LG"], [], None)  # the latest day
        reads.close()
    assert listing.counts["new"] > 10

    plans = _plans(engine, statements)
    assert len(plans) >= 9
    for statement, indexes, scans in plans:
        assert not scans, statement
        if "papers.categories &&" in statement:  # which papers are in the listing, and which days
            assert indexes & {"ix_papers_categories", "ix_papers_primary_category_announced"}, statement
        else:  # the cards of the day's papers
            assert "pk_papers" in indexes, statement
    day_queries = [indexes for statement, indexes, _ in plans if "papers.announced_date = " in statement]
    assert day_queries and all("ix_papers_categories" in indexes for indexes in day_queries)


def test_a_venue_year_reads_the_venue_index_and_cards_by_id(engine):
    with recorded(engine) as statements, Session(engine) as session:
        reads = RecordingReads(engine, statements)
        page = venue_year("colm", 2025, session, reads, track=["poster"], limit=50, offset=0)
        reads.close()
    assert page.total > 100 and len(page.results) == 50

    plans = _plans(engine, statements)
    venue_queries = [indexes for statement, indexes, _ in plans if "papers.venue_slug =" in statement]
    assert len(venue_queries) == 3  # counts per track, total, the page's ids
    assert all("ix_papers_venue_slug_year" in indexes for indexes in venue_queries)
    assert all(not scans for _, _, scans in plans)
    assert any("pk_papers" in indexes for statement, indexes, _ in plans if "ANY" in statement)


def test_a_paper_by_public_id_and_the_importers_lookups_read_the_public_id_key(engine):
    with engine.connect() as connection:
        arxiv_id, venue_id = connection.execute(text(
            "SELECT min(public_id) FILTER (WHERE source = 'arxiv' AND twin_id IS NOT NULL), "
            "min(public_id) FILTER (WHERE source = 'venue') FROM papers")).one()
    with recorded(engine) as statements, Session(engine) as session:
        assert find_paper(session, arxiv_id).twin is not None  # its twin loaded by id
        assert find_paper(session, venue_id).public_id == venue_id
    with engine.connect() as connection:  # the importer's one lookup per batch (psycopg directly)
        assert len(stored_source_hashes(connection, [arxiv_id, venue_id, "arxiv:9999.99999"])) == 2

    plans = _plans(engine, statements)
    by_public_id = [indexes for statement, indexes, _ in plans if "papers.public_id =" in statement]
    assert len(by_public_id) == 2 and all("uq_papers_public_id" in indexes for indexes in by_public_id)
    assert all(not scans for _, _, scans in plans)
    assert index_use(engine, _STORED, (f'["{arxiv_id}", "{venue_id}"]',)) == ({"uq_papers_public_id"}, False)


def test_twins_are_found_by_id_and_stale_links_through_the_twin_index(engine):
    with engine.connect() as connection:
        linked = connection.execute(text("SELECT id FROM papers WHERE twin_id IS NOT NULL ORDER BY id")).scalars().all()
    assert len(linked) >= 2  # COLM papers that are in the arXiv head, both halves

    statements: list[tuple[str, object]] = []
    reads = RecordingReads(engine, statements)
    cards = load_cards(reads, linked)
    reads.close()
    assert all(card.twin is not None for card in cards.values())
    (cards_query, indexes, scans), = _plans(engine, statements)
    assert indexes == {"pk_papers"} and not scans  # the paper and its twin, by id

    unlink_indexes, unlink_scans = index_use(engine, _UNLINK_STALE_SQL)
    assert "ix_papers_twin_id" in unlink_indexes and not unlink_scans


def test_the_home_pages_newest_days_read_the_category_day_index(engine, shared_data, tmp_path):
    from fastapi.testclient import TestClient

    from service.app import create_app

    settings = Settings(_env_file=None, database_url=engine.url.render_as_string(hide_password=False),
                        data_dir=tmp_path / "var", shared_data=shared_data)
    with recorded(Engine) as statements, TestClient(create_app(settings)) as client:
        assert client.get("/").status_code == 200
    newest = [(statement, parameters) for statement, parameters in statements
              if "max(papers.announced_date)" in statement and "GROUP BY papers.primary_category" in statement]
    assert len(newest) == 1
    indexes, scans = index_use(engine, *newest[0])
    assert "ix_papers_primary_category_announced" in indexes and not scans


def test_the_catalogs_changes_since_a_generation_are_read_through_the_updated_at_index(engine):
    """The incremental keyword catalog's questions (what changed, and since when) stay index
    lookups however large the table grows."""
    with recorded(engine) as statements:
        point = read_change_point(engine)
        read_change_point(engine, since=point.since)
        changes = read_changes(engine, since="2000-01-01T00:00:00+00:00")
    assert len(changes.touched_ids) > 3000 and changes.entries

    plans = [(statement, *index_use(engine, statement, parameters)) for statement, parameters in statements]
    assert len(plans) == 6  # the newest change twice, counts since a point twice, touched ids, entries
    for statement, indexes, scans in plans:
        assert not scans, statement
        if "ANY(" in statement:  # the entries among the touched papers
            assert "pk_papers" in indexes, statement
        if "updated_at" in statement:
            assert "ix_papers_updated_at" in indexes, statement
        if "paper_removals" in statement:
            assert "ix_paper_removals_removed_at" in indexes, statement
