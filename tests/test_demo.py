"""`papersift demo`, the README's first command: import (or harvest), index, serve; a second run
reuses everything and skips the unchanged files."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from urllib.parse import unquote_plus

import httpx
import pytest

from papersift import embedded_pg
from tests.conftest import NO_NETWORK_ARXIV, Cli, query_rows
from tests.harvest_server import Fault, harvest_server, recorded_query_ids


@pytest.fixture
def small_shared_data(tmp_path, shared_data):
    """The shared data's layout with a slice of it: 60 arXiv papers and the RSS 2025 papers."""
    root = tmp_path / "shared"
    (root / "arxiv").mkdir(parents=True)
    (root / "venues" / "paperlists" / "rss").mkdir(parents=True)
    with gzip.open(shared_data / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz", "rt") as handle:
        (root / "arxiv" / "arxiv-slice.jsonl").write_text("".join(itertools.islice(handle, 60)))
    shutil.copy(shared_data / "venues" / "paperlists" / "rss" / "rss2025.json.gz",
                root / "venues" / "paperlists" / "rss")
    return root


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_demo_indexes_then_a_second_run_skips_what_did_not_change_and_serves(index_settings, small_shared_data):
    settings = index_settings.model_copy(update={"shared_data": small_shared_data})
    first = Cli(settings)("demo", "--no-serve")
    assert first.exit_code == 0, first.output
    assert "import arxiv-snapshot: read 60 · inserted 60" in first.output
    assert "import paperlists: read 163 · inserted 163" in first.output
    assert "index: embedded 223" in first.output
    assert first.output.index("demo: preparing the embedding model in the background") < first.output.index(
        "import paperlists: read 163")  # beside the import

    again = Cli(settings)("demo", "--no-serve")
    assert again.exit_code == 0, again.output
    assert "import arxiv-snapshot: arxiv-slice.jsonl unchanged since its last import · skipped" in again.output
    assert "import paperlists: paperlists unchanged since its last import · skipped" in again.output
    assert "embedded 0 (all current)" in again.output

    # a file rewritten since (a newer modification time) is read again
    slice_file = small_shared_data / "arxiv" / "arxiv-slice.jsonl"
    os.utime(slice_file, ns=(time.time_ns(), slice_file.stat().st_mtime_ns + 1_000_000_000))
    changed = Cli(settings)("demo", "--no-serve")
    assert "import arxiv-snapshot: read 60 · inserted 0 · updated 0 · unchanged 60" in changed.output

    # serving: the URL is printed and the site answers searches
    port = _free_port()
    environment = dict(os.environ, PAPERSIFT_DATABASE_URL=settings.database_url.get_secret_value(),
                       PAPERSIFT_DATA_DIR=str(settings.data_dir), PAPERSIFT_SHARED_DATA=str(small_shared_data))
    output = _serve_demo_until(environment, port, signal.SIGINT)
    assert f"serving papersift on http://127.0.0.1:{port}" in output
    assert "unchanged since its last import · skipped" in output
    assert "PostgreSQL" not in output  # an external server is not the demo's to stop


def _serve_demo_until(environment: dict[str, str], port: int, stop: signal.Signals) -> str:
    """Run `papersift demo` until its site answers a search, then send `stop`; its output."""
    server = subprocess.Popen([sys.executable, "-m", "papersift.cli", "demo", "--port", str(port)],
                              env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        body = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/api/v1/search",
                                 params={"q": "robot", "mode": "keyword"}, timeout=5).json()
                break
            except httpx.TransportError:
                time.sleep(0.5)
    finally:
        server.send_signal(stop)
        output = server.communicate(timeout=60)[0]
    assert body is not None and body["total"] > 0, output
    return output


def test_stopping_the_demo_stops_the_embedded_postgresql_it_started(index_settings, small_shared_data):
    pgdata = index_settings.data_dir / "pgdata"
    environment = {name: value for name, value in os.environ.items() if name != "PAPERSIFT_DATABASE_URL"}
    environment.update(PAPERSIFT_DATA_DIR=str(index_settings.data_dir),
                       PAPERSIFT_SHARED_DATA=str(small_shared_data))

    output = _serve_demo_until(environment, _free_port(), signal.SIGTERM)
    assert f"demo: stopped the embedded PostgreSQL (data in {pgdata})" in output, output
    assert not (pgdata / "postmaster.pid").exists()
    assert not embedded_pg.status(pgdata).running

    # a server running before the demo is left running, with a word on how to stop it
    embedded_pg.ensure_running(pgdata)
    try:
        output = _serve_demo_until(environment, _free_port(), signal.SIGTERM)
        assert "was running before the demo and keeps running; stop it with `papersift db stop`" in output
        assert embedded_pg.status(pgdata).running
    finally:
        embedded_pg.stop(pgdata)


def test_demo_harvest_fetches_the_category_live_instead(index_settings, shared_data):
    page = json.loads((shared_data / "arxiv-api" / "id_1707.08567_s0_m100_6a1afebfc6a3.json").read_text())["body"]
    with harvest_server() as arxiv:
        arxiv.add_fallback("/api/query", page)
        settings = index_settings.model_copy(update={"arxiv_api_url": f"{arxiv.url}/api/query",
                                                     "harvest_delay_seconds": 0.0})
        result = Cli(settings)("demo", "--harvest", "cs.CL", "--no-serve")
    assert result.exit_code == 0, result.output
    assert "harvest arxiv-api: read 1 · inserted 1" in result.output
    assert "import" not in result.output
    assert "cat:cs.CL" in arxiv.requests[0].replace("%3A", ":")
    assert query_rows(settings, "SELECT public_id FROM papers") == [("arxiv:1707.08567",)]
    assert "index: embedded 1" in result.output


@pytest.mark.parametrize("part", ["arxiv", "venues"])
def test_a_data_folder_with_one_part_imports_it_and_says_the_other_was_skipped(index_settings, small_shared_data, part):
    shutil.rmtree(small_shared_data / ("venues" if part == "arxiv" else "arxiv"))
    result = Cli(index_settings.model_copy(update={"shared_data": small_shared_data}))("demo", "--no-serve")
    assert result.exit_code == 0, result.output
    if part == "arxiv":
        assert "import arxiv-snapshot: read 60 · inserted 60" in result.output
        assert f"demo: {small_shared_data} has no venues/paperlists/ · the venues part is skipped" in result.output
        assert "import paperlists" not in result.output
    else:
        assert "import paperlists: read 163 · inserted 163" in result.output
        assert f"demo: {small_shared_data} has no arxiv/ · the arXiv part is skipped" in result.output
        assert "import arxiv-snapshot" not in result.output
    assert "harvest" not in result.output  # the part it has is used; nothing is fetched
    assert f"index: embedded {60 if part == 'arxiv' else 163}" in result.output


# Without a data folder: the starter corpus, fetched from local servers replaying real responses.
# The arXiv server answers the category query with the six recorded pages of ten of a real search
# (`testing`; its total of 214,881 cut to those 60 results), the lists server with the real RSS
# 2025 paperlists file.

ARXIV_PAGES = (0, 10, 20, 30, 40, 50)


@pytest.fixture
def starter_server(shared_data):
    pages = {}
    for path in (shared_data / "arxiv-api").glob("q_testing_*_m10_*.json"):
        recording = json.loads(path.read_text())
        start = int(re.search(r"start=(\d+)", recording["url"]).group(1))
        if start in ARXIV_PAGES:
            body = recording["body"].encode("latin-1")
            pages[(start, 10)] = body.replace(b"<opensearch:totalResults>214881<", b"<opensearch:totalResults>60<")
    assert len(pages) == len(ARXIV_PAGES)
    with harvest_server() as server:
        server.add_pages("/api/query", pages)
        server.add(f"{server.url}/lists/rss/rss2025.json.gz",
                   (shared_data / "venues" / "paperlists" / "rss" / "rss2025.json.gz").read_bytes(),
                   content_type="application/gzip")
        yield server


def _starter_settings(settings, tmp_path, *, arxiv: str, lists: str):
    """No data folder; the starter's sources at these URLs; pages of ten, no politeness wait on
    this machine, quick retries."""
    return settings.model_copy(update={
        "shared_data": tmp_path / "no-such-folder", "arxiv_api_url": arxiv, "harvest_paperlists_urls": lists,
        "harvest_page_size": 10, "harvest_delay_seconds": 0.0, "harvest_retries": 0,
        "harvest_backoff_seconds": 0.01})


def _windows(requests: list[str]) -> list[tuple[str, str]]:
    """The (since, until) of each arXiv category query asked for."""
    return [re.search(r"lastUpdatedDate:\[(\d+) TO (\d+)\]", unquote_plus(r)).groups()
            for r in requests if r.startswith("/api/query")]


def test_demo_without_a_data_folder_fetches_a_starter_corpus_and_indexes_it(index_settings, tmp_path,
                                                                              starter_server, shared_data):
    settings = _starter_settings(index_settings, tmp_path, arxiv=f"{starter_server.url}/api/query",
                                 lists=f"{starter_server.url}/lists/rss/rss2025.json.gz")
    arxiv_ids = recorded_query_ids(shared_data / "arxiv-api", ARXIV_PAGES)
    assert len(arxiv_ids) >= 55  # the recorded pages barely overlap
    result = Cli(settings)("demo", "--no-serve")
    assert result.exit_code == 0, result.output
    assert (f"demo: no data folder at {tmp_path / 'no-such-folder'} (neither arxiv/ nor venues/paperlists/) · "
            "fetching a starter corpus instead: arXiv cs.AI cs.CL cs.CV cs.LG, list rss2025.json.gz") in result.output
    assert f"harvest arxiv-api: read 60 · inserted {len(arxiv_ids)} · updated 0" in result.output
    assert "harvest paperlists: read 163 · inserted 163 · updated 0" in result.output
    assert f"harvest starter: 2 of 2 sources fetched · {len(arxiv_ids) + 163} new papers" in result.output
    assert f"index: embedded {len(arxiv_ids) + 163}" in result.output
    arxiv_requests = [unquote_plus(r) for r in starter_server.requests if r.startswith("/api/query")]
    assert [re.search(r"start=(\d+)", r).group(1) for r in arxiv_requests] == ["0", "10", "20", "30", "40", "50"]
    assert all("(cat:cs.AI OR cat:cs.CL OR cat:cs.CV OR cat:cs.LG) AND lastUpdatedDate:[" in r
               and "sortBy=lastUpdatedDate&sortOrder=ascending" in r for r in arxiv_requests)
    since, until = (datetime.strptime(t, "%Y%m%d%H%M") for t in _windows(starter_server.requests)[0])
    assert until - since == timedelta(days=7)  # the first time: the last week's announcements
    rows = query_rows(settings, "SELECT source, public_id FROM papers")
    assert {i for s, i in rows if s == "arxiv"} == {f"arxiv:{i}" for i in arxiv_ids}
    assert sum(s == "venue" for s, _ in rows) == 163

    # a second demo reuses the database: arXiv from where the first harvest ended, the list unchanged
    starter_server.requests.clear()
    again = Cli(settings)("demo", "--no-serve")
    assert again.exit_code == 0, again.output
    assert "harvest arxiv-api: read 60 · inserted 0 · updated 0 · unchanged 60" in again.output
    assert "harvest paperlists: read 163 · inserted 0 · updated 0 · unchanged 163" in again.output
    assert "embedded 0 (all current)" in again.output
    assert _windows(starter_server.requests)[0][0] == until.strftime("%Y%m%d%H%M")


def test_demo_without_a_data_folder_and_its_sources_down_exits_4_naming_them(settings, tmp_path):
    lists = "http://127.0.0.1:9/lists/rss/rss2025.json.gz"  # nothing listens on the discard port
    result = Cli(_starter_settings(settings, tmp_path, arxiv=NO_NETWORK_ARXIV, lists=lists))("demo", "--no-serve")
    assert result.exit_code == 4, result.output
    assert "error: arXiv cs.AI cs.CL cs.CV cs.LG: arXiv could not be reached (" in result.output
    assert f"error: list rss2025.json.gz: {lists} could not be reached: 127.0.0.1: connection refused" in result.output
    assert "harvest starter: 0 of 2 sources fetched · 0 new papers" in result.output
    assert ("hint: re-run to resume; without a network, set PAPERSIFT_SHARED_DATA to a data folder (arxiv/, "
            "venues/paperlists/); or point PAPERSIFT_ARXIV_API_URL and PAPERSIFT_HARVEST_PAPERLISTS_URLS "
            "at a mirror") in result.output
    assert "error: demo: no source of the starter corpus could be fetched" in result.output
    assert "index:" not in result.output
    assert query_rows(settings, "SELECT count(*) FROM papers") == [(0,)]
    assert query_rows(settings, "SELECT source, status FROM ingest_runs ORDER BY id") == [
        ("arxiv-api", "failed"), ("paperlists", "failed")]


def _demo_process(environment: dict[str, str], port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "papersift.cli", "demo", "--port", str(port)],
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stop(process: subprocess.Popen) -> str:
    """Ctrl-C the demo (SIGKILL when it does not end within 90 s, so no test leaves one running); its output."""
    process.send_signal(signal.SIGINT)
    try:
        return process.communicate(timeout=90)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[0]


class _LiveOutput:
    """A process's output read as it is printed, so a test can wait for a line before stopping it."""

    def __init__(self, process: subprocess.Popen) -> None:
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream) -> None:
        for line in stream:
            self._lines.append(line)

    def has(self, text: str) -> bool:
        return any(text in line for line in list(self._lines))

    def text(self, timeout: float = 90) -> str:
        """Everything printed, once the process has closed its output."""
        self._reader.join(timeout)
        return "".join(self._lines)


def _stop_live(process: subprocess.Popen, output: _LiveOutput) -> str:
    """Ctrl-C a demo whose output a _LiveOutput reads (SIGKILL after 90 s); everything it printed."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return output.text()


def _starter_environment(settings, tmp_path, *, arxiv: str, lists: str) -> dict[str, str]:
    environment = dict(os.environ, PAPERSIFT_DATABASE_URL=settings.database_url.get_secret_value(),
                       PAPERSIFT_DATA_DIR=str(settings.data_dir),
                       PAPERSIFT_SHARED_DATA=str(tmp_path / "no-such-folder"),
                       PAPERSIFT_ARXIV_API_URL=arxiv, PAPERSIFT_HARVEST_PAPERLISTS_URLS=lists,
                       PAPERSIFT_HARVEST_PAGE_SIZE="10", PAPERSIFT_HARVEST_DELAY_SECONDS="0",
                       PAPERSIFT_HARVEST_RETRIES="0", PAPERSIFT_HARVEST_TIMEOUT_SECONDS="120",
                       PAPERSIFT_INDEX_RELOAD_SECONDS="0.2")
    return environment


def _browse(port: int, **filters) -> dict | None:
    """The site's answer to an empty keyword query (every paper), or None while it is not up."""
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/api/v1/search",
                             params={"q": "", "mode": "keyword", "limit": 100, **filters}, timeout=5)
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None


def _wait_for(probe, process: subprocess.Popen, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        answer = probe()
        if answer:
            return answer
        time.sleep(0.3)
    return None


def test_demo_without_a_data_folder_serves_the_first_page_and_fills_as_the_rest_arrive(
        index_settings, tmp_path, starter_server, shared_data):
    first_page = recorded_query_ids(shared_data / "arxiv-api", (0,))
    arxiv_ids = recorded_query_ids(shared_data / "arxiv-api", ARXIV_PAGES)
    held = Fault("hold", match="start=10&")  # the second arXiv page waits until the test lets it go
    starter_server.inject(held)
    port = _free_port()
    process = _demo_process(_starter_environment(
        index_settings, tmp_path, arxiv=f"{starter_server.url}/api/query",
        lists=f"{starter_server.url}/lists/rss/rss2025.json.gz"), port)
    live = _LiveOutput(process)
    try:
        served = _wait_for(lambda: _browse(port), process)
        # up with the first page alone: the rest of the harvest has not been answered yet
        assert served is not None and served["total"] == len(first_page)
        assert {r["id"] for r in served["results"]} == {f"arxiv:{i}" for i in first_page}
        assert not any("start=20" in r for r in starter_server.requests)
        held.release.set()

        def filled():
            arxiv, venues = _browse(port, source="arxiv"), _browse(port, source="venue")
            return (arxiv, venues) if arxiv and venues and arxiv["total"] == len(arxiv_ids) \
                and venues["total"] == 163 else None

        assert _wait_for(filled, process) is not None
        # the fetch child publishes its last keyword index before it exits; the embedding child follows
        assert _wait_for(lambda: live.has("demo: starter corpus fetched"), process)
    finally:
        output = _stop_live(process, live)
    assert "demo: no data folder at" in output
    assert f"demo: keyword index of {len(first_page)} papers · serving now" in output, output
    assert f"serving papersift on http://127.0.0.1:{port}" in output
    assert f"harvest arxiv-api: read 60 · inserted {len(arxiv_ids)}" in output
    assert "harvest paperlists: read 163 · inserted 163" in output
    assert "demo: starter corpus fetched · embedding and vector indexing in the background" in output


def test_demo_without_a_data_folder_and_its_sources_down_exits_4_without_serving(settings, tmp_path):
    lists = "http://127.0.0.1:9/lists/rss/rss2025.json.gz"
    port = _free_port()
    process = _demo_process(_starter_environment(settings, tmp_path, arxiv=NO_NETWORK_ARXIV, lists=lists), port)
    try:
        output = process.communicate(timeout=120)[0]
    finally:
        if process.poll() is None:
            _stop(process)
    assert process.returncode == 4, output
    assert "error: arXiv cs.AI cs.CL cs.CV cs.LG: arXiv could not be reached" in output
    assert f"error: list rss2025.json.gz: {lists} could not be reached" in output
    assert "hint: re-run to resume; without a network, set PAPERSIFT_SHARED_DATA" in output
    assert "error: demo: no papers arrived, so there is nothing to serve" in output
    assert "serving papersift" not in output
