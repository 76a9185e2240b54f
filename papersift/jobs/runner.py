"""Run a job: take its lock (or record a skipped run), record each attempt, retry failures with
exponential backoff, then run `index` when the job changed papers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from papersift.errors import (
    EmbeddingUnavailable,
    IndexModelMismatch,
    IndexNotReady,
    SchemaOutdated,
    UnknownJob,
    UnreadableInput,
)
from papersift.jobs import runs
from papersift.jobs.lock import try_lock
from papersift.jobs.registry import INDEX_JOB, JOBS, Job, find_job, jobs_after, jobs_sharing_lock
from papersift.settings import Settings

logger = logging.getLogger(__name__)

# Waiting does not fix these: each names a setting, a command or an input to change.
NOT_RETRIED = (SchemaOutdated, IndexModelMismatch, IndexNotReady, EmbeddingUnavailable, UnreadableInput)
LOCK_TAKEN = "another run holds the lock"
INTERRUPTED = "interrupted: the process running it ended before it finished"


@dataclass
class RunResult:
    """How a run ended (after its retries), and the runs it triggered."""

    job: str
    run_id: int
    outcome: str  # succeeded | failed | skipped
    attempts: int = 0
    counts: dict[str, Any] = field(default_factory=dict)
    changed: bool = False
    error: str | None = None
    seconds: float = 0.0
    chained: list[RunResult] = field(default_factory=list)


def run_job(settings: Settings, engine: Engine, name: str, *, trigger: str = "cli") -> RunResult:
    """Run `name` now in this thread, unless another run holds its lock (then a skipped run is
    recorded). Raises UnknownJob for a name that is not registered."""
    job = find_job(name)
    lock = try_lock(engine, job.lock_name)
    if lock is None:
        run_id = runs.record_skipped(engine, job.name, trigger=trigger, reason=LOCK_TAKEN)
        logger.warning("job %s skipped (run %d, %s): %s", job.name, run_id, trigger, LOCK_TAKEN)
        return RunResult(job.name, run_id, "skipped", error=LOCK_TAKEN)
    with lock:
        _close_interrupted(engine, job)
        result = _attempts(settings, engine, job, trigger=trigger)
    return _chain(settings, engine, job, result)


def start_requested(settings: Settings, engine: Engine,
                    submit: Callable[[Callable[[], RunResult]], object]) -> list[int]:
    """Start the runs requested through the admin API whose lock is free, oldest first; each one is
    handed to `submit` (a thread pool's submit, or a direct call). Returns the run ids started.
    A request whose lock is taken waits for the next call."""
    started = []
    for requested in runs.requested_runs(engine):
        job = JOBS.get(requested.job)
        if job is None:
            runs.finish(engine, requested.id, "failed", error=str(UnknownJob(f"no job named {requested.job!r}")))
            continue
        lock = try_lock(engine, job.lock_name)
        if lock is None:
            continue
        _close_interrupted(engine, job)
        if not runs.claim_requested(engine, requested.id):  # another scheduler claimed it first
            lock.release()
            continue

        def run(job: Job = job, run_id: int = requested.id, trigger: str = requested.trigger,
                lock=lock) -> RunResult:
            with lock:
                result = _attempts(settings, engine, job, trigger=trigger, first_run_id=run_id)
            return _chain(settings, engine, job, result)

        try:
            submit(run)
        except Exception as error:  # not started (the pool is stopping): record it, free the lock
            lock.release()
            runs.finish(engine, requested.id, "failed", error=f"not started: {type(error).__name__}: {error}")
            raise
        started.append(requested.id)
    return started


def retry_delay(settings: Settings, attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): base, 2×base, 4×base, ..."""
    return settings.job_retry_base_seconds * 2 ** (attempt - 1)


def _attempts(settings: Settings, engine: Engine, job: Job, *, trigger: str,
              first_run_id: int | None = None) -> RunResult:
    """Run the job up to job_retry_attempts times, one recorded row per attempt."""
    began = time.perf_counter()
    attempts, attempt = settings.job_retry_attempts, 0
    while True:
        attempt += 1
        if attempt == 1 and first_run_id is not None:
            run_id = first_run_id
        else:
            run_id = runs.start_attempt(engine, job.name, trigger=trigger, attempt=attempt)
        logger.info("job %s started (run %d, attempt %d/%d, %s)", job.name, run_id, attempt, attempts, trigger)
        try:
            outcome = job.run(settings, engine)
        except Exception as error:  # recorded, retried and reported below, never swallowed
            message = f"{type(error).__name__}: {error}"
            runs.finish(engine, run_id, "failed", error=message)
            retried = attempt < attempts and not isinstance(error, NOT_RETRIED)
            logger.error("job %s failed (run %d, attempt %d/%d): %s", job.name, run_id, attempt, attempts,
                         message, exc_info=not isinstance(error, NOT_RETRIED))
            if not retried:
                return RunResult(job.name, run_id, "failed", attempt, error=message,
                                 seconds=time.perf_counter() - began)
            delay = retry_delay(settings, attempt)
            logger.info("job %s: attempt %d in %.1f s", job.name, attempt + 1, delay)
            time.sleep(delay)
            continue
        runs.finish(engine, run_id, "succeeded", counts=outcome.counts)
        seconds = time.perf_counter() - began
        logger.info("job %s succeeded (run %d, %.1f s): %s", job.name, run_id, seconds,
                    ", ".join(f"{k} {v}" for k, v in outcome.counts.items()) or "no counts")
        return RunResult(job.name, run_id, "succeeded", attempt, dict(outcome.counts), outcome.changed,
                         seconds=seconds)


def _chain(settings: Settings, engine: Engine, job: Job, result: RunResult) -> RunResult:
    """Embed and index after a job that changed papers (once its own lock is released), then run
    the jobs that follow it (the daily digest after harvest-arxiv)."""
    if result.outcome == "succeeded" and result.changed and job.name != INDEX_JOB:
        result.chained.append(run_job(settings, engine, INDEX_JOB, trigger=f"after {job.name}"))
    if result.outcome == "succeeded":
        for follower in jobs_after(job.name):
            result.chained.append(run_job(settings, engine, follower, trigger=f"after {job.name}"))
    return result


def _close_interrupted(engine: Engine, job: Job) -> None:
    closed = runs.mark_interrupted(engine, jobs_sharing_lock(job), reason=INTERRUPTED)
    if closed:
        logger.warning("job %s: %d earlier run(s) were left running by a process that ended", job.name, closed)
