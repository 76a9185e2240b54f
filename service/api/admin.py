"""/api/v1/admin: request a job run, see job runs and the index status.

Off (every route answers 404) unless PAPERSIFT_ADMIN_TOKEN is set; then each request needs
`Authorization: Bearer <token>`, compared in constant time (401 otherwise). A requested run is
recorded as `queued` and started by `papersift schedule`, the process that may write the index
(the API's index volume is read-only, and an embedding run must not take the API's cores).
"""

from __future__ import annotations

import hmac
import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from papersift.errors import JobAlreadyRunning
from papersift.jobs import runs
from papersift.jobs.lock import is_locked
from papersift.jobs.registry import JOBS, find_job
from papersift.models import JobRun
from service.deps import SessionDep
from service.errors import ErrorPublic

bearer = HTTPBearer(auto_error=False, description="the value of PAPERSIFT_ADMIN_TOKEN")


def require_admin(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """404 while the admin API is off; 401 without the right bearer token."""
    token = request.app.state.settings.admin_token
    if token is None:
        raise HTTPException(status_code=404)
    given = credentials.credentials.encode() if credentials else b""
    if not hmac.compare_digest(given, token.get_secret_value().encode()):
        raise HTTPException(status_code=401, detail="missing or wrong admin token",
                            headers={"WWW-Authenticate": "Bearer"})


router = APIRouter(
    prefix="/api/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)],
    responses={401: {"model": ErrorPublic, "description": "missing or wrong bearer token"},
               404: {"model": ErrorPublic, "description": "the admin API is off (no PAPERSIFT_ADMIN_TOKEN), "
                                                          "or no such job or run"}},
)


class JobRunPublic(BaseModel):
    """One attempt of a job (or a skipped or requested run)."""

    id: int
    job: str
    trigger: str
    outcome: str
    attempt: int
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, Any]
    error: str | None
    host: str | None
    pid: int | None

    @classmethod
    def of(cls, run: JobRun) -> JobRunPublic:
        return cls(id=run.id, job=run.job, trigger=run.trigger, outcome=run.outcome, attempt=run.attempt,
                   requested_at=run.requested_at, started_at=run.started_at, finished_at=run.finished_at,
                   counts=run.counts, error=run.error, host=run.host, pid=run.pid)


class JobPublic(BaseModel):
    name: str
    description: str
    schedule: str | None  # crontab (UTC); None: on request only
    last_run: JobRunPublic | None
    last_success: JobRunPublic | None


class JobsPublic(BaseModel):
    jobs: list[JobPublic]
    runs: list[JobRunPublic]


class VectorIndexStatePublic(BaseModel):
    loaded: bool
    model: str
    vectors: int | None = None
    index_type: str | None = None
    generation: int | None = None
    built_at: str | None = None
    age_seconds: float | None = None
    problem: str | None = None


class KeywordIndexStatePublic(BaseModel):
    loaded: bool
    papers: int | None = None
    generation: int | None = None
    built_at: str | None = None
    age_seconds: float | None = None
    problem: str | None = None


class IndexStatePublic(BaseModel):
    vector_index: VectorIndexStatePublic
    keyword_index: KeywordIndexStatePublic


@router.post("/jobs/{job}", status_code=202, response_model=JobRunPublic,
             responses={409: {"model": ErrorPublic, "description": "a run of the job is going on or waiting"}})
def request_job(job: str, request: Request, session: SessionDep, response: Response) -> JobRunPublic:
    """Request a run of `job`; `papersift schedule` starts it within PAPERSIFT_JOB_POLL_SECONDS."""
    chosen = find_job(job)
    engine = request.app.state.engine
    if is_locked(engine, chosen.lock_name) or runs.has_open_request(session, chosen.name):
        raise JobAlreadyRunning(f"a run of {chosen.name} (or of a job sharing its lock) is going on or waiting",
                                hint="GET /api/v1/admin/jobs shows the runs")
    run_id = runs.request_run(engine, chosen.name, trigger="admin")
    response.headers["Location"] = f"/api/v1/admin/runs/{run_id}"
    return JobRunPublic.of(runs.get_run(session, run_id))


@router.get("/jobs", response_model=JobsPublic)
def list_jobs(request: Request, session: SessionDep,
              limit: Annotated[int, Query(ge=1, le=200, description="recent runs to list")] = 20) -> JobsPublic:
    """The jobs with their schedules and last outcomes, and the recent runs (newest first)."""
    settings = request.app.state.settings
    latest = runs.latest_by_job(session)

    def public(run: JobRun | None) -> JobRunPublic | None:
        return JobRunPublic.of(run) if run else None

    jobs = [JobPublic(name=job.name, description=job.description,
                      schedule=(getattr(settings, job.cron_setting) or None) if job.cron_setting else None,
                      last_run=public(latest.get(job.name, {}).get("last")),
                      last_success=public(latest.get(job.name, {}).get("succeeded")))
            for job in JOBS.values()]
    return JobsPublic(jobs=jobs, runs=[JobRunPublic.of(r) for r in runs.recent_runs(session, limit=limit)])


@router.get("/runs/{run_id}", response_model=JobRunPublic)
def get_run(run_id: Annotated[int, Path(ge=1, le=2**63 - 1)], session: SessionDep) -> JobRunPublic:
    """One run, e.g. the one a request created."""
    run = runs.get_run(session, run_id)
    if run is None:
        raise HTTPException(status_code=404)
    return JobRunPublic.of(run)


@router.get("/index", response_model=IndexStatePublic)
def index_state(request: Request) -> IndexStatePublic:
    """The loaded vector and keyword indexes: size, generation, age, or why none is loaded."""
    now = time.time()
    holder, catalog_holder = request.app.state.index, request.app.state.search.catalog
    loaded = holder.current_or_none()
    if loaded:
        m = loaded.manifest
        vector = VectorIndexStatePublic(loaded=True, model=m.model, vectors=m.count, index_type=m.index_type,
                                        generation=m.generation, built_at=m.built_at,
                                        age_seconds=round(now - datetime.fromisoformat(m.built_at).timestamp(), 1))
    else:
        vector = VectorIndexStatePublic(loaded=False, model=holder.model, problem=_problem(holder))
    catalog = catalog_holder.current_or_none()
    if catalog:
        age = round(now - datetime.fromisoformat(catalog.built_at).timestamp(), 1) if catalog.built_at else None
        keyword = KeywordIndexStatePublic(loaded=True, papers=catalog.count, generation=catalog.generation,
                                          built_at=catalog.built_at or None, age_seconds=age)
    else:
        keyword = KeywordIndexStatePublic(loaded=False, problem=_problem(catalog_holder))
    return IndexStatePublic(vector_index=vector, keyword_index=keyword)


def _problem(holder) -> str:
    return holder.problem.message if holder.problem is not None else "not loaded yet"
