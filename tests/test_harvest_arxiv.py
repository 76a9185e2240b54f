"""`papersift harvest arxiv` end to end through the `arxiv` package, against the recorded real API
responses served from a local HTTP server, with faults injected where the test says so."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime

import pytest

from indexer.lexical import build_catalog
from papersift.settings import Settings
from tests.conftest import Cli, query_rows
from tests.harvest_server import Fault, harvest_server, recorded_query_ids

PAGE = 10
RECORDED_PAGES = (0, 10, 20, 30, 40, 50)


@pytest.fixture
def recorded(shared_data):
    with harvest_server() as server:
        server.add_recordings(shared_data / "arxiv-api")
        yield server


def _cli(settings: Settings, server, **overrides) -> Cli:
    values = {"arxiv_api_url": f"{server.url}/api/query", "harvest_page_size": PAGE,
              "harvest_delay_seconds": 0.0, "harvest_backoff_seconds": 0.01, "harvest_retries": 2}
    values.update(overrides)
    return Cli(settings.model_copy(update=values))


def _recorded_ids(shared_data, starts=RECORDED_PAGES) -> list[str]:
    """The arXiv ids on the recorded pages of the `testing` query, in order, without duplicates."""
    return recorded_query_ids(shared_data / "arxiv-api", starts)


def _papers(settings: Settings) -> dict[str, tuple]:
    rows = query_rows(settings, "SELECT public_id, title, primary_category, announced_date, "
                                "updated_date, versions, links FROM papers")
    return {row[0]: row[1:] for row in rows}


def test_query_harvest_pages_through_the_recorded_api(settings, recorded, shared_data):
    result = _cli(settings, recorded)("harvest", "arxiv", "--query", "testing", "--max-results", 60)
    assert result.exit_code == 0, result.output
    expected = _recorded_ids(shared_data)
    assert len(expected) >= 55  # the recorded pages barely overlap
    papers = _papers(settings)
    assert set(papers) == {f"arxiv:{i}" for i in expected}
    assert [re.search(r"start=(\d+)", r).group(1) for r in recorded.requests] == ["0", "10", "20", "30", "40", "50"]
    assert "read 60 · " in result.output  # six pages of ten; the few repeats are upserted once
    assert f"inserted {len(expected)}" in result.output
    title, primary, announced, _, versions, links = papers["arxiv:2202.12139"]
    assert title == "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques"
    assert primary == "cs.SE"
    # submitted Thursday 2022-02-24 15:05 UTC (10:05 ET, before the 14:00 cutoff): listed Friday
    assert announced == date(2022, 2, 25)
    assert versions == [{"version": "v1", "created": "Thu, 24 Feb 2022 15:05:19 GMT"}]
    assert links["abs"] == "https://arxiv.org/abs/2202.12139"


def test_harvest_again_writes_nothing_new(settings, recorded):
    cli = _cli(settings, recorded)
    assert cli("harvest", "arxiv", "--query", "testing", "--max-results", 20).exit_code == 0
    again = cli("harvest", "arxiv", "--query", "testing", "--max-results", 20)
    assert again.exit_code == 0
    assert "inserted 0 · updated 0 · unchanged 20" in again.output


def test_ids_harvest_stores_known_papers_and_rejects_unknown_and_invalid_ids(settings, recorded):
    cli = _cli(settings, recorded, harvest_page_size=100)
    result = cli("harvest", "arxiv", "--id", "0808.05394", "--id", "1707.08567", "--id", "abc")
    assert result.exit_code == 1, result.output  # done, with rejects
    assert set(_papers(settings)) == {"arxiv:1707.08567"}
    rejects = {row[0]: row[1] for row in query_rows(settings, "SELECT locator, reason FROM rejects")}
    assert rejects == {"id 0808.05394": "arXiv has no paper with this id",
                       "id abc": "not an arXiv identifier"}
    # the invalid id never reached arXiv
    assert all("abc" not in r for r in recorded.requests)


def test_old_style_and_versioned_ids(settings, recorded):
    cli = _cli(settings, recorded, harvest_page_size=100)
    assert cli("harvest", "arxiv", "--id", "astro-ph/0601001").exit_code == 0
    assert cli("harvest", "arxiv", "--id", "quant-ph/0201082v1").exit_code == 0
    papers = _papers(settings)
    assert set(papers) == {"arxiv:astro-ph/0601001", "arxiv:quant-ph/0201082"}
    assert papers["arxiv:astro-ph/0601001"][1] == "astro-ph"


def test_a_new_version_updates_the_paper_in_place_and_marks_it_a_replacement(settings, recorded, shared_data):
    cli = _cli(settings, recorded, harvest_page_size=100)
    assert cli("harvest", "arxiv", "--id", "2104.12255v1").exit_code == 0
    first = query_rows(settings, "SELECT id, content_hash, updated_date FROM papers")[0]
    # the same paper, now in version 2 with a new abstract, a week later
    body = json.loads((shared_data / "arxiv-api" / "id_2104.12255v1_s0_m100_6ae69987ffe1.json").read_text())["body"]
    body = (body.replace("2104.12255v1", "2104.12255v2")
                .replace("<updated>2021-04-20T16:07:14Z</updated>", "<updated>2021-04-27T16:07:14Z</updated>")
                .replace("What is the funniest number", "What, really, is the funniest number"))
    recorded.add(f"{recorded.url}/api/query?search_query=&id_list=2104.12255&sortBy=relevance&sortOrder=descending"
                 "&start=0&max_results=100", body)
    result = cli("harvest", "arxiv", "--id", "2104.12255")
    assert result.exit_code == 0, result.output
    assert "inserted 0 · updated 1" in result.output
    paper_id, content_hash, updated = query_rows(settings, "SELECT id, content_hash, updated_date FROM papers")[0]
    assert paper_id == first[0]
    assert content_hash != first[1]  # the embedding of this paper is now stale
    assert updated == date(2021, 4, 28)  # the replacement's listing day


def test_category_harvest_asks_for_the_update_window_in_ascending_order(settings, recorded, shared_data):
    since, until = "2026-11-16T00:00:00", "2026-11-20T00:00:00"
    query = "search_query=%28cat%3Acs.CL+OR+cat%3Acs.LG%29+AND+lastUpdatedDate%3A%5B202611160000+TO+202611200000%5D"
    page = json.loads((shared_data / "arxiv-api" / "id_1707.08567_s0_m100_6a1afebfc6a3.json").read_text())["body"]
    recorded.add(f"{recorded.url}/api/query?{query}&id_list=&sortBy=lastUpdatedDate&sortOrder=ascending"
                 f"&start=0&max_results={PAGE}", page)
    cli = _cli(settings, recorded)
    result = cli("harvest", "arxiv", "-c", "cs.LG", "-c", "cs.CL", "--since", since, "--until", until)
    assert result.exit_code == 0, result.output
    assert set(_papers(settings)) == {"arxiv:1707.08567"}
    # the next harvest of the same categories starts where this one ended
    cursor = query_rows(settings, "SELECT cursor FROM ingest_runs WHERE status = 'succeeded'")[0][0]
    assert datetime.fromisoformat(cursor["until"]) == datetime(2026, 11, 20, tzinfo=UTC)


def test_busy_server_is_retried_after_retry_after(settings, recorded):
    recorded.inject(Fault("status", match="start=10", status=503, retry_after="1"))
    recorded.inject(Fault("status", match="start=20", status=429, retry_after="1"))
    result = _cli(settings, recorded)("harvest", "arxiv", "--query", "testing", "--max-results", 30)
    assert result.exit_code == 0, result.output
    assert len(_papers(settings)) >= 28
    retried = [t for r, t in zip(recorded.requests, recorded.request_times) if "start=10" in r]
    assert len(retried) == 2 and retried[1] - retried[0] >= 0.9  # waited as told


def test_truncated_xml_is_retried_and_never_half_written(settings, recorded):
    recorded.inject(Fault("truncate", match="start=10"))
    result = _cli(settings, recorded)("harvest", "arxiv", "--query", "testing", "--max-results", 20)
    assert result.exit_code == 0, result.output
    assert sum("start=10" in r for r in recorded.requests) == 2
    assert len(_papers(settings)) == len(_recorded_ids(settings.shared_data, (0, 10)))


def test_connection_reset_is_retried(settings, recorded):
    recorded.inject(Fault("reset", match="start=0"))
    result = _cli(settings, recorded)("harvest", "arxiv", "--query", "testing", "--max-results", 10)
    assert result.exit_code == 0, result.output
    assert len(_papers(settings)) == 10


def test_an_unreachable_server_is_tried_retries_plus_one_times_and_named(settings, recorded):
    recorded.inject(Fault("reset", match="start=0", times=50))
    result = _cli(settings, recorded)("harvest", "arxiv", "--query", "testing", "--max-results", 10)
    assert result.exit_code == 4
    assert "error: arXiv could not be reached" in result.output and "after 3 tries" in result.output
    assert len(recorded.requests) == 3  # harvest_retries=2; the arxiv client does not retry them again


def test_timeout_is_retried(settings, recorded):
    recorded.inject(Fault("slow", match="start=0", seconds=1.5))
    result = _cli(settings, recorded, harvest_timeout_seconds=0.5)("harvest", "arxiv", "--query", "testing",
                                                                   "--max-results", 10)
    assert result.exit_code == 0, result.output
    assert len(_papers(settings)) == 10


def test_persistent_failure_ends_the_run_clearly_and_the_rerun_resumes(settings, recorded):
    recorded.inject(Fault("status", match="start=20", status=503, times=50))
    cli = _cli(settings, recorded)
    failed = cli("harvest", "arxiv", "--query", "testing", "--max-results", 40)
    assert failed.exit_code == 4
    assert "error: arXiv answered HTTP 503" in failed.output and "after 3 tries" in failed.output
    assert "re-run to resume" in failed.output
    assert sum("start=20" in r for r in recorded.requests) == 3  # harvest_retries=2: three tries, not nine
    kept = len(_papers(settings))
    assert kept == len(_recorded_ids(settings.shared_data, (0, 10)))  # two whole pages, nothing more
    recorded.faults.clear()
    recorded.requests.clear()
    resumed = cli("harvest", "arxiv", "--query", "testing", "--max-results", 40)
    assert resumed.exit_code == 0, resumed.output
    assert [re.search(r"start=(\d+)", r).group(1) for r in recorded.requests] == ["20", "30"]
    assert len(_papers(settings)) == len(_recorded_ids(settings.shared_data, (0, 10, 20, 30)))
    runs = query_rows(settings, "SELECT status, error FROM ingest_runs ORDER BY id")
    assert runs[0][0] == "failed" and runs[1][0] == "succeeded"


def test_empty_page_in_the_middle_ends_the_run_with_a_message(settings, recorded):
    empty = json.loads((settings.shared_data / "arxiv-api" / "id_0000.0000_s0_m100_8b51d9633a68.json").read_text())
    empty_feed = empty["body"].replace("<opensearch:totalResults>0", "<opensearch:totalResults>214881").encode()
    recorded.inject(Fault("empty", match="start=10", times=10, body=empty_feed))
    result = _cli(settings, recorded)("harvest", "arxiv", "--query", "testing", "--max-results", 30)
    assert result.exit_code == 4
    assert "empty page in the middle" in result.output
    assert len(_papers(settings)) == 10


def test_killed_harvest_resumes_and_finishes_with_exactly_the_expected_rows(settings, recorded, shared_data):
    """SIGKILL a harvest after its second page is committed; the re-run fetches only what is left."""
    recorded.delay = 0.4
    environment = dict(os.environ, PAPERSIFT_DATABASE_URL=settings.database_url.get_secret_value(),
                       PAPERSIFT_DATA_DIR=str(settings.data_dir), PAPERSIFT_ARXIV_API_URL=f"{recorded.url}/api/query",
                       PAPERSIFT_HARVEST_PAGE_SIZE=str(PAGE), PAPERSIFT_HARVEST_DELAY_SECONDS="0")
    command = [sys.executable, "-m", "papersift.cli", "harvest", "arxiv", "--query", "testing", "--max-results", "60"]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    committed = 0
    deadline = time.monotonic() + 60
    while committed < 20 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        rows = query_rows(settings, "SELECT cursor FROM ingest_runs")
        committed = int(rows[0][0].get("start", 0)) if rows and rows[0][0] else 0
    assert process.poll() is None, process.stdout.read().decode()
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = int(query_rows(settings, "SELECT cursor FROM ingest_runs")[0][0]["start"])
    assert 20 <= killed_at < 60
    assert query_rows(settings, "SELECT count(*) FROM papers")[0][0] == len(
        _recorded_ids(shared_data, tuple(range(0, killed_at, PAGE))))

    recorded.requests.clear()
    recorded.delay = 0
    result = _cli(settings, recorded)("harvest", "arxiv", "--query", "testing", "--max-results", 60)
    assert result.exit_code == 0, result.output
    assert [int(re.search(r"start=(\d+)", r).group(1)) for r in recorded.requests] == list(range(killed_at, 60, PAGE))
    expected = {f"arxiv:{i}" for i in _recorded_ids(shared_data)}
    rows = query_rows(settings, "SELECT public_id FROM papers")
    assert len(rows) == len(expected) and {r[0] for r in rows} == expected
    runs = query_rows(settings, "SELECT status, error FROM ingest_runs ORDER BY id")
    assert runs[0][0] == "failed" and runs[0][1].startswith("interrupted; resumed by run")
    assert runs[1][0] == "succeeded"


def test_search_for_an_unknown_arxiv_id_fetches_it_on_demand(settings, engine, recorded, client_for):
    build_catalog(engine, settings.search_dir)  # an empty catalog: papersift knows no paper yet
    app_settings = settings.model_copy(update={"arxiv_api_url": f"{recorded.url}/api/query",
                                               "harvest_delay_seconds": 0.0})
    with client_for(app_settings) as client:
        body = client.get("/api/v1/search", params={"q": "https://arxiv.org/abs/1605.08386", "mode": "keyword"}).json()
        assert [r["id"] for r in body["results"]] == ["arxiv:1605.08386"]
        assert any("fetched from arXiv just now" in n for n in body["notices"])
        again = client.get("/api/v1/search", params={"q": "id:1605.08386", "mode": "keyword"}).json()
        assert [r["id"] for r in again["results"]] == ["arxiv:1605.08386"]
        assert not any("fetched" in n for n in again["notices"])
        assert sum("1605.08386" in r for r in recorded.requests) == 1

        unknown = client.get("/api/v1/search", params={"q": "id:0000.0000", "mode": "keyword"}).json()
        assert unknown["results"] == []
        assert "arXiv has no paper 0000.0000" in unknown["notices"]


def test_unreachable_arxiv_says_plainly_that_the_paper_is_not_indexed(settings, engine, client_for):
    build_catalog(engine, settings.search_dir)
    with client_for(settings) as client:  # the tests' arXiv URL refuses connections
        body = client.get("/api/v1/search", params={"q": "id:1605.08386", "mode": "keyword"}).json()
        assert body["results"] == []
        assert "arxiv:1605.08386: not in papersift yet, and arXiv could not be asked just now" in body["notices"]
        assert "arxiv:1605.08386 is not indexed by papersift yet" in body["notices"]


def test_a_window_that_ends_before_it_starts_is_refused(settings, recorded):
    result = _cli(settings, recorded)("harvest", "arxiv", "-c", "cs.CL", "--since", "2026-11-20", "--until", "2026-11-19")
    assert result.exit_code == 2
    assert "--since 2026-11-20 00:00 is after --until 2026-11-19 00:00" in result.output
    assert recorded.requests == []
