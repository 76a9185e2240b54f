"""`papersift harvest starter` (what the demo fetches without a data folder) and its parts: the
sources, a source that keeps failing while the others are fetched, and the keyword index it
publishes as pages arrive. Local servers replay the real recorded responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.catalog_refresh import CatalogRefresher
from indexer.harvest.starter import DEFAULT_PAPERLISTS_URLS, PAPERLISTS, starter_sources
from indexer.lexical import read_catalog_manifest
from indexer.sources.paperlists import iter_list_file
from indexer.store import upsert_papers
from papersift.errors import InvalidQuery
from tests.conftest import REPO_ROOT, Cli, query_rows
from tests.harvest_server import harvest_server


def test_the_lists_default_to_a_few_recent_conferences_named_in_the_readme(settings):
    sources = starter_sources(settings)
    assert [s.name for s in sources] == ["arXiv cs.AI cs.CL cs.CV cs.LG", "list icml2025.json",
                                         "list nips2024.json", "list cvpr2025.json", "list colm2025.json"]
    assert [s.mirror_setting for s in sources] == ["PAPERSIFT_ARXIV_API_URL"] + 4 * ["PAPERSIFT_HARVEST_PAPERLISTS_URLS"]
    readme = (REPO_ROOT / "README.md").read_text()
    assert f"`{PAPERLISTS}`" in readme
    assert [url for url in DEFAULT_PAPERLISTS_URLS if f"`{url.removeprefix(PAPERLISTS + '/')}`" not in readme] == []


def test_configured_categories_and_lists_replace_the_defaults(settings):
    configured = settings.model_copy(update={"harvest_categories": "cs.RO, cs.CL",
                                             "harvest_paperlists_urls": "https://mirror.example/rss/rss2025.json.gz"})
    assert [s.name for s in starter_sources(configured)] == ["arXiv cs.CL cs.RO", "list rss2025.json.gz"]
    no_arxiv = configured.model_copy(update={"harvest_categories": ""})
    assert [s.name for s in starter_sources(no_arxiv)] == ["list rss2025.json.gz"]


def test_a_list_url_without_venue_and_year_is_refused_before_anything_is_fetched(settings):
    refused = settings.model_copy(update={"harvest_paperlists_urls": "https://mirror.example/download?id=7"})
    with pytest.raises(InvalidQuery, match="PAPERSIFT_HARVEST_PAPERLISTS_URLS: cannot tell the venue and year"):
        starter_sources(refused)


def test_a_failing_source_is_named_and_the_others_are_fetched_all_the_same(settings, shared_data):
    page = json.loads((shared_data / "arxiv-api" / "id_1707.08567_s0_m100_6a1afebfc6a3.json").read_text())["body"]
    rss = shared_data / "venues" / "paperlists" / "rss" / "rss2025.json.gz"
    with harvest_server() as server:
        server.add_fallback("/api/query", page)
        server.add(f"{server.url}/lists/rss/rss2025.json.gz", rss.read_bytes(), content_type="application/gzip")
        missing = f"{server.url}/lists/iclr/iclr2025.json"
        cli = Cli(settings.model_copy(update={
            "arxiv_api_url": f"{server.url}/api/query", "harvest_delay_seconds": 0.0, "harvest_retries": 0,
            "harvest_paperlists_urls": f"{missing} {server.url}/lists/rss/rss2025.json.gz"}))
        result = cli("harvest", "starter")
    assert result.exit_code == 4, result.output
    assert "harvest arxiv-api: read 1 · inserted 1 · updated 0 · unchanged 0 · rejected 0" in result.output
    assert f"error: list iclr2025.json: {missing}: not found (HTTP 404)" in result.output
    assert "harvest paperlists: read 163 · inserted 163" in result.output
    assert "harvest starter: 2 of 3 sources fetched · 164 new papers" in result.output
    assert "point PAPERSIFT_HARVEST_PAPERLISTS_URLS at a mirror" in result.output
    assert "PAPERSIFT_ARXIV_API_URL" not in result.output  # arXiv answered
    assert query_rows(settings, "SELECT source, count(*) FROM papers GROUP BY source ORDER BY source") == [
        ("arxiv", 1), ("venue", 163)]
    assert read_catalog_manifest(settings.search_dir) is None  # only --keyword-index publishes


def _store_list(engine, path: Path, count: int) -> None:
    records = [r for r in iter_list_file(path)][:count]
    with engine.begin() as connection:
        upsert_papers(connection, records)


def test_keyword_index_is_published_after_the_first_page_then_every_interval_and_on_flush(settings, engine, shared_data):
    now = [100.0]
    said: list[str] = []
    refresher = CatalogRefresher(engine, settings.search_dir, every=30.0, clock=lambda: now[0], echo=said.append)
    rss = shared_data / "venues" / "paperlists" / "rss" / "rss2025.json.gz"

    refresher.flush()  # no page yet: nothing is published (an empty index would put an empty site up)
    assert read_catalog_manifest(settings.search_dir) is None
    _store_list(engine, rss, 10)
    refresher.after_page()  # the first page: at once
    assert read_catalog_manifest(settings.search_dir).count == 10

    _store_list(engine, rss, 20)
    now[0] += 29
    refresher.after_page()  # too soon
    assert read_catalog_manifest(settings.search_dir).count == 10
    now[0] += 1
    refresher.after_page()  # 30 s after the last
    assert read_catalog_manifest(settings.search_dir).count == 20

    _store_list(engine, rss, 30)
    now[0] += 1
    refresher.after_page()
    assert read_catalog_manifest(settings.search_dir).count == 20
    refresher.flush()  # the end of a source: what arrived is published
    assert read_catalog_manifest(settings.search_dir).count == 30
    generation = read_catalog_manifest(settings.search_dir).generation
    refresher.flush()  # nothing new since
    assert read_catalog_manifest(settings.search_dir).generation == generation
    assert [line.split(" (")[0] for line in said] == [
        "keyword index published: full · 10 papers",
        "keyword index published: incremental · 10 new, 0 updated, 0 removed · 20 papers",
        "keyword index published: incremental · 10 new, 0 updated, 0 removed · 30 papers"]
