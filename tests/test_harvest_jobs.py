"""The scheduled harvest jobs: `papersift run harvest-arxiv` fetches the configured categories and,
when papers changed, the index job follows; the daily digest follows every successful harvest."""

from __future__ import annotations

import json

from tests.conftest import Cli, query_rows
from tests.harvest_server import harvest_server


def test_harvest_arxiv_job_fetches_the_categories_then_indexes(index_settings, shared_data):
    page = json.loads((shared_data / "arxiv-api" / "id_1707.08567_s0_m100_6a1afebfc6a3.json").read_text())["body"]
    with harvest_server() as server:
        server.add_fallback("/api/query", page)  # the window's end is "now": any query gets this page
        settings = index_settings.model_copy(update={
            "arxiv_api_url": f"{server.url}/api/query", "harvest_delay_seconds": 0.0,
            "harvest_categories": "cs.CL, cs.LG"})
        cli = Cli(settings)
        first = cli("run", "harvest-arxiv")
        assert first.exit_code == 0, first.output
        assert "cat:cs.CL OR cat:cs.LG" in server.requests[0].replace("%3A", ":").replace("+", " ")
        assert query_rows(settings, "SELECT public_id FROM papers") == [("arxiv:1707.08567",)]
        runs = query_rows(settings, "SELECT job, outcome, counts FROM job_runs ORDER BY id")
        assert [(job, outcome) for job, outcome, _ in runs] == [
            ("harvest-arxiv", "succeeded"), ("index", "succeeded"), ("digest", "succeeded")]
        assert runs[0][2]["inserted"] == 1
        # the next run starts where this window ended and, with nothing new, does not index
        second = cli("run", "harvest-arxiv")
        assert second.exit_code == 0, second.output
        runs = query_rows(settings, "SELECT job FROM job_runs ORDER BY id")
        assert [r[0] for r in runs] == ["harvest-arxiv", "index", "digest", "harvest-arxiv", "digest"]
        windows = [c[0]["query"] for c in query_rows(settings, "SELECT cursor FROM ingest_runs ORDER BY id")]
        first_end = windows[0].split(" TO ")[1].rstrip("]")
        assert windows[1].split("lastUpdatedDate:[")[1].startswith(first_end)
