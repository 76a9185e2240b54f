"""`papersift demo`, the README's first command: import (or harvest), index, serve; a second run
reuses everything and skips the unchanged files."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from papersift import embedded_pg
from tests.conftest import Cli, query_rows
from tests.harvest_server import harvest_server


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
