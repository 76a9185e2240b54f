"""/api/v1/admin: off without a token, 401 without the right one, requested runs, index status."""

from __future__ import annotations

import psycopg
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from pydantic import SecretStr
from schemathesis.checks import response_schema_conformance

from papersift.jobs.lock import lock_key
from papersift.jobs.registry import JOBS, Job, JobOutcome
from papersift.jobs.runner import start_requested
from papersift.vector_index import read_manifest
from service.app import create_app

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def admin(settings, client_for):
    """A client of an app whose admin API is on."""
    with client_for(settings.model_copy(update={"admin_token": SecretStr(TOKEN)})) as client:
        yield client


@pytest.fixture
def tiny_job(monkeypatch):
    calls = []

    def tiny(settings, engine) -> JobOutcome:
        calls.append(1)
        return JobOutcome({"seen": 7})

    monkeypatch.setitem(JOBS, "tiny", Job("tiny", tiny, "a test job"))
    return calls


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/admin/jobs"), ("POST", "/api/v1/admin/jobs/index"), ("GET", "/api/v1/admin/index"),
    ("GET", "/api/v1/admin/runs/1"),
])
def test_the_admin_api_is_off_without_a_token(client_for, method, path):
    with client_for() as client:
        response = client.request(method, path, headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"] == {"status": 404, "code": "http_error", "message": "no such page", "hint": None}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": f"Bearer {TOKEN}x"}])
def test_a_missing_or_wrong_token_gets_401(admin, headers):
    response = admin.post("/api/v1/admin/jobs/index", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["message"] == "missing or wrong admin token"


def test_a_requested_run_is_queued_then_started_by_the_scheduler_and_recorded(admin, settings, engine, tiny_job):
    response = admin.post("/api/v1/admin/jobs/tiny", headers=AUTH)

    assert response.status_code == 202, response.text
    queued = response.json()
    assert (queued["job"], queued["trigger"], queued["outcome"], queued["started_at"]) == ("tiny", "admin", "queued", None)
    assert response.headers["Location"] == f"/api/v1/admin/runs/{queued['id']}"
    again = admin.post("/api/v1/admin/jobs/tiny", headers=AUTH)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "job_already_running"

    assert start_requested(settings, engine, submit=lambda run: run()) == [queued["id"]]

    run = admin.get(f"/api/v1/admin/runs/{queued['id']}", headers=AUTH).json()
    assert (run["outcome"], run["counts"], run["attempt"]) == ("succeeded", {"seen": 7}, 1)
    assert run["started_at"] and run["finished_at"] and run["pid"]
    assert tiny_job == [1]
    listing = admin.get("/api/v1/admin/jobs", headers=AUTH, params={"limit": 5}).json()
    assert [r["id"] for r in listing["runs"]] == [queued["id"]]
    jobs = {job["name"]: job for job in listing["jobs"]}
    assert jobs["tiny"]["last_success"]["id"] == queued["id"] and jobs["tiny"]["schedule"] is None
    assert (jobs["index"]["schedule"], jobs["index"]["last_run"]) == ("30 * * * *", None)


def test_a_job_whose_lock_is_held_gets_409(admin, settings, tiny_job):
    url = settings.database_url.get_secret_value().replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (lock_key("tiny"),))
        response = admin.post("/api/v1/admin/jobs/tiny", headers=AUTH)

    assert response.status_code == 409
    assert admin.get("/api/v1/admin/jobs", headers=AUTH).json()["runs"] == []


def test_an_unknown_job_gets_404_naming_the_jobs(admin):
    response = admin.post("/api/v1/admin/jobs/harvest-everything", headers=AUTH)

    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"no job named 'harvest-everything'; the jobs are {', '.join(JOBS)}"


def test_index_status_gives_vectors_generation_age_and_catalog_size(corpus):
    app = create_app(corpus.model_copy(update={"admin_token": SecretStr(TOKEN)}))
    with TestClient(app) as client:
        body = client.get("/api/v1/admin/index", headers=AUTH).json()
        ready = client.get("/readyz").json()

    manifest = read_manifest(corpus.index_dir)
    vector = body["vector_index"]
    assert (vector["loaded"], vector["model"], vector["vectors"], vector["generation"], vector["index_type"]) == (
        True, "all-MiniLM-L6-v2", manifest.count, manifest.generation, "flat")
    assert vector["age_seconds"] >= 0
    keyword = body["keyword_index"]
    assert keyword["loaded"] is True and keyword["age_seconds"] >= 0
    assert ready["checks"]["keyword_index"]["detail"] == f"generation {keyword['generation']}, {keyword['papers']:,} papers"


def test_admin_operations_answer_as_documented_with_the_token(settings):
    app = create_app(settings.model_copy(update={"admin_token": SecretStr(TOKEN)}))
    with TestClient(app) as client:
        assert client.post("/api/v1/admin/jobs/index", headers=AUTH).status_code == 202  # run 1 exists
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()
                      if result.ok().path.startswith("/api/v1/admin")]
        assert {(o.method.upper(), o.path) for o in operations} == {
            ("POST", "/api/v1/admin/jobs/{job}"), ("GET", "/api/v1/admin/jobs"),
            ("GET", "/api/v1/admin/runs/{run_id}"), ("GET", "/api/v1/admin/index"),
            ("POST", "/api/v1/admin/papers/{paper_id}/regenerate")}
        for operation in operations:

            @given(case=operation.as_strategy())
            @hypothesis_settings(max_examples=15, deadline=None, database=None,
                                 suppress_health_check=list(HealthCheck))
            def check(case) -> None:
                response = case.call(headers=AUTH)
                assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
                if response.status_code < 400:
                    case.validate_response(response, checks=(response_schema_conformance,))
                else:
                    assert response.json()["error"]["message"]

            check()
