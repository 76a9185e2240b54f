"""The `job_runs` table: one row per attempt (or skipped or requested run). Writes commit at once,
so `papersift jobs` and the admin API of any process see a run while it is going on."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from papersift.models import JobRun

ERROR_LIMIT = 4000  # characters of an error message kept in the row


def _here() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _insert(engine: Engine, **values: Any) -> int:
    with Session(engine) as session, session.begin():
        run = JobRun(**values)
        session.add(run)
        session.flush()
        return run.id


def start_attempt(engine: Engine, job: str, *, trigger: str, attempt: int) -> int:
    """Record an attempt that starts now; returns its run id."""
    return _insert(engine, job=job, trigger=trigger, outcome="running", attempt=attempt,
                   started_at=func.now(), **_here())


def record_skipped(engine: Engine, job: str, *, trigger: str, reason: str) -> int:
    """Record a run that did not start because another one holds the job's lock."""
    return _insert(engine, job=job, trigger=trigger, outcome="skipped", started_at=func.now(),
                   finished_at=func.now(), error=reason, **_here())


def request_run(engine: Engine, job: str, *, trigger: str) -> int:
    """Record a requested run for `papersift schedule` to start; returns its run id."""
    return _insert(engine, job=job, trigger=trigger, outcome="queued")


def claim_requested(engine: Engine, run_id: int) -> bool:
    """Mark a requested run as started by this process; False when another process got it first."""
    with engine.begin() as connection:
        claimed = connection.execute(
            update(JobRun).where(JobRun.id == run_id, JobRun.outcome == "queued")
            .values(outcome="running", started_at=func.now(), **_here()))
        return claimed.rowcount == 1


def finish(engine: Engine, run_id: int, outcome: str, *, counts: dict[str, Any] | None = None,
           error: str | None = None) -> None:
    """Close a run as succeeded or failed."""
    with engine.begin() as connection:
        connection.execute(update(JobRun).where(JobRun.id == run_id).values(
            outcome=outcome, finished_at=func.now(), counts=counts or {},
            error=error[:ERROR_LIMIT] if error else None))


def mark_interrupted(engine: Engine, jobs: Sequence[str], *, reason: str) -> int:
    """Close the `running` rows of these jobs as failed. Call it holding their lock: then no run of
    them is alive, and such a row was left by a process that died mid-run."""
    with engine.begin() as connection:
        closed = connection.execute(
            update(JobRun).where(JobRun.job.in_(jobs), JobRun.outcome == "running")
            .values(outcome="failed", finished_at=func.now(), error=reason))
        return closed.rowcount


def mark_interrupted_here(engine: Engine, *, reason: str) -> int:
    """Close the `running` rows of this process as failed (it is about to exit)."""
    with engine.begin() as connection:
        closed = connection.execute(
            update(JobRun).where(JobRun.outcome == "running", JobRun.host == socket.gethostname(),
                                 JobRun.pid == os.getpid())
            .values(outcome="failed", finished_at=func.now(), error=reason))
        return closed.rowcount


def requested_runs(engine: Engine) -> list[JobRun]:
    """Requested runs not started yet, oldest first."""
    with Session(engine) as session:
        return list(session.scalars(
            select(JobRun).where(JobRun.outcome == "queued").order_by(JobRun.requested_at, JobRun.id)))


def has_open_request(session: Session, job: str) -> bool:
    """Whether a requested run of `job` waits to be started."""
    return session.scalar(select(func.count()).select_from(JobRun).where(
        JobRun.job == job, JobRun.outcome == "queued")) > 0


def recent_runs(session: Session, *, limit: int = 20, job: str | None = None) -> list[JobRun]:
    """The newest runs first."""
    query = select(JobRun).order_by(JobRun.requested_at.desc(), JobRun.id.desc()).limit(limit)
    if job is not None:
        query = query.where(JobRun.job == job)
    return list(session.scalars(query))


def get_run(session: Session, run_id: int) -> JobRun | None:
    return session.get(JobRun, run_id)


def latest_by_job(session: Session) -> dict[str, dict[str, JobRun]]:
    """Per job: its latest run (`last`) and latest successful run (`succeeded`)."""
    latest: dict[str, dict[str, JobRun]] = {}
    for outcome_filter, key in ((None, "last"), ("succeeded", "succeeded")):
        newest = select(func.max(JobRun.id)).group_by(JobRun.job)  # ids grow with every new row
        if outcome_filter:
            newest = newest.where(JobRun.outcome == outcome_filter)
        for run in session.scalars(select(JobRun).where(JobRun.id.in_(newest))):
            latest.setdefault(run.job, {})[key] = run
    return latest
