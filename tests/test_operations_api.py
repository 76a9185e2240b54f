"""/healthz, /readyz, /metrics, request ids and the access log, against a real database and index."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from papersift.db import downgrade_schema, make_engine, upgrade_schema
from papersift.log import JsonFormatter, RequestIdFilter
from papersift.vector_index import read_manifest
from service.app import create_app
from tests.conftest import HEAD


def metric(body: str, name: str, **labels: str) -> float:
    """The value of one sample in the Prometheus text format (fails when absent)."""
    rendered = ",".join(f'{key}="{value}"' for key, value in labels.items())
    sample = f"{name}{{{rendered}}}" if labels else name
    for line in body.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not in /metrics")


@pytest.fixture
def corpus_client(corpus):
    """A fresh app over the indexed corpus (its own metrics start at zero)."""
    with TestClient(create_app(corpus)) as client:
        yield client


# -- readiness -----------------------------------------------------------------------------------
def test_ready_when_database_schema_and_index_are(corpus_client):
    response = corpus_client.get("/readyz")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True, "schema": True, "keyword_index": True, "vector_index": True}
    assert body["checks"]["schema"]["detail"] == f"at {HEAD}"
    assert re.fullmatch(r"generation \d+, [\d,]+ vectors", body["checks"]["vector_index"]["detail"])


def test_not_ready_before_an_index_is_published(client_for):
    with client_for() as client:
        response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "not_ready"
    assert body["error"]["message"].startswith("not ready: keyword_index: no search catalog published under ")
    assert body["checks"]["database"] == {"ok": True, "required": True, "detail": "reachable",
                                          "generation": None, "age_seconds": None}
    assert body["checks"]["schema"]["ok"] is True
    assert body["checks"]["keyword_index"]["ok"] is False
    assert body["checks"]["vector_index"]["required"] is False


def test_not_ready_when_the_schema_is_not_the_codes(client_for, settings):
    engine = make_engine(settings)
    try:
        with client_for() as client:
            downgrade_schema(engine, "0003")
            response = client.get("/readyz")
            upgrade_schema(engine)
            again = client.get("/readyz").json()
    finally:
        engine.dispose()

    assert response.status_code == 503
    schema = response.json()["checks"]["schema"]
    assert schema["ok"] is False
    assert schema["detail"] == f"at 0003, code needs {HEAD} (run papersift db upgrade, or deploy the matching code)"
    assert again["checks"]["schema"]["ok"] is True


def test_liveness_answers_without_the_database_checks(client_for):
    with client_for() as client:
        response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


# -- metrics -------------------------------------------------------------------------------------
def test_metrics_count_requests_by_route_template_and_time_search_stages(corpus_client, corpus):
    assert corpus_client.get("/api/v1/search", params={"q": "language models"}).status_code == 200
    assert corpus_client.get("/api/v1/papers/arxiv:0704.0001").status_code == 200
    assert corpus_client.get("/api/v1/papers/arxiv:9999.99999").status_code == 404

    response = corpus_client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    histogram = "papersift_http_request_duration_seconds_count"
    assert metric(body, histogram, method="GET", route="/api/v1/search", status="200") == 1
    assert metric(body, histogram, method="GET", route="/api/v1/papers/{paper_id:path}", status="200") == 1
    assert metric(body, histogram, method="GET", route="/api/v1/papers/{paper_id:path}", status="404") == 1
    for stage in ("parse", "lexical", "encode", "vector", "fuse", "facets", "fetch"):
        assert metric(body, "papersift_search_stage_duration_seconds_count", stage=stage) == 1, stage
    manifest = read_manifest(corpus.index_dir)
    assert metric(body, "papersift_vector_index_vectors") == manifest.count
    assert metric(body, "papersift_vector_index_generation") == manifest.generation
    assert metric(body, "papersift_vector_index_bytes") == (corpus.index_dir / manifest.file).stat().st_size
    age_now = datetime.now(UTC).timestamp() - datetime.fromisoformat(manifest.built_at).timestamp()
    assert 0 <= age_now - metric(body, "papersift_vector_index_age_seconds") < 60  # scraped a moment ago
    papers = corpus_client.get("/readyz").json()["checks"]["keyword_index"]["detail"]
    assert f"{metric(body, 'papersift_keyword_index_papers'):,.0f} papers" in papers


def test_metrics_show_the_last_successful_ingest_per_source(client_for, engine):
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO ingest_runs (source, target, status, started_at, finished_at) VALUES "
            "('arxiv-api', 'cs.CL', 'succeeded', '2026-01-02 03:00:00+00', '2026-01-02 03:04:05+00'),"
            "('arxiv-api', 'cs.CL', 'succeeded', '2026-01-01 03:00:00+00', '2026-01-01 03:04:05+00'),"
            "('arxiv-api', 'cs.CL', 'failed', '2026-01-03 03:00:00+00', '2026-01-03 03:04:05+00'),"
            "('openreview', 'iclr', 'failed', '2026-01-03 03:00:00+00', '2026-01-03 03:04:05+00')"))

    with client_for() as client:
        body = client.get("/metrics").text

    expected = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    assert metric(body, "papersift_ingest_last_success_timestamp_seconds", source="arxiv-api") == expected
    assert 'source="openreview"' not in body  # it never succeeded
    assert metric(body, "papersift_vector_index_loaded") == 0


# -- request ids and logs ------------------------------------------------------------------------
@pytest.fixture
def json_log(caplog):
    """The JSON lines papersift's handler would write for the service's loggers."""
    caplog.set_level(logging.INFO, logger="service")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logging.getLogger("service").addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logging.getLogger("service").removeHandler(handler)


def test_a_request_id_is_echoed_and_on_the_requests_log_records(client_for, json_log):
    with client_for() as client:
        given = client.get("/api/v1/stats", headers={"X-Request-ID": "req-42.a"})
        made = client.get("/api/v1/stats")
        refused = client.get("/api/v1/stats", headers={"X-Request-ID": "bad id\twith spaces"})

    assert given.headers["X-Request-ID"] == "req-42.a"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", refused.headers["X-Request-ID"])
    access = [record for record in json_log() if record["logger"] == "service.observability"]
    assert [(r["request_id"], r["level"]) for r in access] == [
        ("req-42.a", "INFO"), (made.headers["X-Request-ID"], "INFO"), (refused.headers["X-Request-ID"], "INFO")]
    assert re.fullmatch(r"GET /api/v1/stats 200 \d+\.\d ms", access[0]["message"])


# -- several workers -----------------------------------------------------------------------------
def _serve_two_workers(settings) -> tuple[subprocess.Popen, str]:
    """`papersift serve --workers 2` on a free port, once it answers; (process, base URL)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "PAPERSIFT_DATABASE_URL": settings.database_url.get_secret_value(),
                   "PAPERSIFT_DATA_DIR": str(settings.data_dir)}
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen([sys.executable, "-m", "papersift.cli", "serve", "--port", str(port),
                                "--workers", "2"], env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(f"{base}/healthz", timeout=5)
            return process, base
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"the server did not start: {process.communicate()[1]}") from None
            time.sleep(0.3)


def test_serve_with_several_workers_sums_their_request_metrics(settings):
    process, base = _serve_two_workers(settings)
    try:
        for _ in range(10):  # a new connection each time, taken by either worker
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        body = httpx.get(f"{base}/metrics", timeout=5).text
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)

    assert "with 2 workers" in stderr
    assert metric(body, "papersift_http_request_duration_seconds_count",
                  method="GET", route="/healthz", status="200") == 11


def _workers_of(pid: int) -> set[int]:
    """The child processes of `pid` (the serve command's forked workers)."""
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def test_a_worker_that_dies_is_replaced_and_sigterm_stops_them_all(settings):
    process, base = _serve_two_workers(settings)
    try:
        workers = _workers_of(process.pid)
        assert len(workers) == 2  # forked by the serve process itself

        killed = min(workers)
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (_workers_of(process.pid) & workers) != workers - {killed} or len(_workers_of(process.pid)) < 2:
            assert time.monotonic() < deadline, _workers_of(process.pid)
            time.sleep(0.1)
        replaced = _workers_of(process.pid)
        for _ in range(10):  # both workers answer, the new one included
            assert httpx.get(f"{base}/healthz", timeout=5, headers={"Connection": "close"}).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stderr
    assert f"worker {killed} ended (signal SIGKILL); starting another" in stderr
    assert not any(Path(f"/proc/{pid}").exists() for pid in replaced)  # stopped with the parent
