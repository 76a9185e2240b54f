"""`papersift harvest paperlists --url` end to end: the real COLM 2024 paperlists file served from a
local HTTP server, faults injected where the test says so, compared with `papersift import paperlists`
of the same file."""

from __future__ import annotations

import gzip
import json

import pytest

from indexer.harvest.paperlists_url import harvest_paperlists_url, list_file_name
from papersift.db import make_engine
from papersift.settings import Settings
from tests.conftest import Cli, query_rows
from tests.harvest_server import Fault, harvest_server

PAGE = 100


@pytest.fixture(scope="module")
def colm_file(shared_data):
    return shared_data / "venues" / "paperlists" / "colm" / "colm2024.json.gz"


@pytest.fixture(scope="module")
def colm_records(colm_file) -> list[dict]:
    with gzip.open(colm_file) as handle:
        return json.load(handle)


@pytest.fixture
def lists(colm_file):
    with harvest_server() as server:
        data = colm_file.read_bytes()
        server.add(f"{server.url}/lists/colm/colm2024.json.gz", data, content_type="application/gzip")
        server.add(f"{server.url}/lists/colm/colm2024.json", gzip.decompress(data),
                   content_type="application/json")
        server.add(f"{server.url}/download?id=7", data, content_type="application/gzip")
        yield server


def _cli(settings: Settings, **overrides) -> Cli:
    values = {"harvest_page_size": PAGE, "harvest_backoff_seconds": 0.01, "harvest_retries": 2}
    values.update(overrides)
    return Cli(settings.model_copy(update=values))


def _papers(settings: Settings) -> set[tuple[str, str]]:
    return set(query_rows(settings, "SELECT public_id, title_raw FROM papers"))


def test_harvested_list_gives_the_rows_of_an_import_of_the_same_file(settings, lists, colm_file, colm_records):
    cli = _cli(settings)
    url = f"{lists.url}/lists/colm/colm2024.json.gz"
    result = cli("harvest", "paperlists", "--url", url)
    assert result.exit_code == 0, result.output
    assert "harvest paperlists: read 299 · inserted 299 · updated 0 · unchanged 0 · rejected 0" in result.output
    assert _papers(settings) == {(f"openreview:{r['id']}", r["title"]) for r in colm_records}
    assert query_rows(settings, "SELECT DISTINCT venue_slug, year, track FROM papers") == [("colm", 2024, "poster")]
    # the importer maps the local copy to exactly these rows: nothing to insert or update
    imported = cli("import", "paperlists", colm_file)
    assert imported.exit_code == 0, imported.output
    assert "read 299 · inserted 0 · updated 0 · unchanged 299" in imported.output
    pages = query_rows(settings, "SELECT cursor FROM ingest_runs WHERE source = 'paperlists' AND target = "
                                 f"'{url}'")
    assert pages[0][0]["items"] == 299
    assert list((settings.data_dir / "downloads").iterdir()) == []  # the download is removed


def test_plain_json_and_a_name_given_by_options(settings, lists, colm_records):
    cli = _cli(settings)
    nameless = f"{lists.url}/download?id=7"
    refused = cli("harvest", "paperlists", "--url", nameless)
    assert refused.exit_code == 2
    assert f"cannot tell the venue and year from {nameless}: give --venue and --year" in refused.output
    assert lists.requests == []
    result = cli("harvest", "paperlists", "--url", nameless, "--venue", "colm", "--year", 2024)
    assert result.exit_code == 0, result.output
    plain = cli("harvest", "paperlists", "--url", f"{lists.url}/lists/colm/colm2024.json")
    assert plain.exit_code == 0, plain.output
    assert "read 299 · inserted 0 · updated 0 · unchanged 299" in plain.output
    assert _papers(settings) == {(f"openreview:{r['id']}", r["title"]) for r in colm_records}


def test_truncated_download_is_fetched_again(settings, lists, colm_records):
    lists.inject(Fault("truncate", match="colm2024.json.gz"))
    result = _cli(settings)("harvest", "paperlists", "--url", f"{lists.url}/lists/colm/colm2024.json.gz")
    assert result.exit_code == 0, result.output
    assert len(lists.requests) == 2
    assert len(_papers(settings)) == len(colm_records)


@pytest.mark.parametrize("name", ["colm2024.json.gz", "colm2024.json"])
def test_download_that_keeps_breaking_ends_the_run_with_nothing_written(settings, lists, name):
    lists.inject(Fault("truncate", match=name, times=10))
    url = f"{lists.url}/lists/colm/{name}"
    result = _cli(settings)("harvest", "paperlists", "--url", url)
    assert result.exit_code == 4, result.output
    assert f"error: download of {url} kept breaking after 3 tries: truncated or" in result.output
    assert len(lists.requests) == 3
    assert _papers(settings) == set()
    assert query_rows(settings, "SELECT status FROM ingest_runs") == [("failed",)]


def test_busy_server_is_retried_after_retry_after(settings, lists, colm_records):
    lists.inject(Fault("status", match="colm2024", status=503, retry_after="1"))
    result = _cli(settings)("harvest", "paperlists", "--url", f"{lists.url}/lists/colm/colm2024.json.gz")
    assert result.exit_code == 0, result.output
    assert lists.request_times[1] - lists.request_times[0] >= 0.9
    assert len(_papers(settings)) == len(colm_records)


def test_missing_file_is_a_clear_error_naming_the_url(settings, lists):
    url = f"{lists.url}/lists/iclr/iclr2025.json.gz"
    result = _cli(settings)("harvest", "paperlists", "--url", url)
    assert result.exit_code == 4, result.output
    assert f"error: {url}: not found (HTTP 404)" in result.output
    assert len(lists.requests) == 1  # a 404 is not retried


def test_interrupted_run_resumes_after_its_pages_without_duplicates(settings, lists, colm_records):
    cli = _cli(settings)
    url = f"{lists.url}/lists/colm/colm2024.json.gz"
    written = []

    def crash_after_two_pages(page):
        written.append(page)
        if len(written) == 2:
            raise KeyboardInterrupt  # as a killed process: the pages so far are committed

    engine = make_engine(cli.settings)
    try:
        with pytest.raises(KeyboardInterrupt):
            harvest_paperlists_url(cli.settings, engine, url, on_page=crash_after_two_pages)
    finally:
        engine.dispose()
    assert len(_papers(settings)) == 2 * PAGE
    resumed = cli("harvest", "paperlists", "--url", url)
    assert resumed.exit_code == 0, resumed.output
    assert "read 99 · inserted 99 · updated 0 · unchanged 0" in resumed.output
    assert len(lists.requests) == 2  # downloaded again, then the first 200 items skipped
    assert _papers(settings) == {(f"openreview:{r['id']}", r["title"]) for r in colm_records}
    runs = query_rows(settings, "SELECT status FROM ingest_runs ORDER BY id")
    assert [r[0] for r in runs] == ["failed", "succeeded"]


def test_list_file_name_comes_from_the_url_or_the_options():
    assert list_file_name("https://example.org/x/nips2019.json.gz?raw=1") == "nips2019.json.gz"
    assert list_file_name("https://example.org/get?id=7", venue="ICLR", year=2025) == "iclr2025.json"
    with pytest.raises(ValueError, match="give both --venue"):
        list_file_name("https://example.org/iclr2025.json", venue="iclr")
