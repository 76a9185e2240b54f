"""Jobs (papersift/jobs): recorded runs, the advisory lock, retries with backoff, chaining to
`index`, requested runs, cron settings, and `papersift run` / `papersift jobs`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from papersift.errors import SchemaOutdated
from papersift.jobs import runs
from papersift.jobs.lock import is_locked, lock_key
from papersift.jobs.registry import JOBS, Job, JobOutcome
from papersift.jobs.runner import INTERRUPTED, LOCK_TAKEN, retry_delay, run_job, start_requested
from papersift.jobs.schedule import cron_triggers
from papersift.models import JobRun
from papersift.settings import Settings
from tests.conftest import Cli


class Calls:
    """A job body for the registry that records when it ran and fails its first `failures` calls."""

    def __init__(self, counts=None, *, changed=False, failures=0, error=None):
        self.counts, self.changed, self.failures, self.error = counts or {"seen": 3}, changed, failures, error
        self.times: list[float] = []

    def __call__(self, settings, engine) -> JobOutcome:
        self.times.append(time.monotonic())
        if len(self.times) <= self.failures:
            raise self.error or RuntimeError("source is down")
        return JobOutcome(dict(self.counts), changed=self.changed)


@pytest.fixture
def register(monkeypatch):
    """Register a job for one test: register(name, body, **job fields)."""

    def add(name: str, body, **fields) -> Job:
        job = Job(name, body, f"test job {name}", **fields)
        monkeypatch.setitem(JOBS, name, job)
        return job

    return add


def rows(engine) -> list[JobRun]:
    with Session(engine) as session:
        return list(session.scalars(select(JobRun).order_by(JobRun.id)))


def pg_url(settings: Settings) -> str:
    return settings.database_url.get_secret_value().replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def held_lock(settings):
    """Hold a job lock from another database session: held_lock(name)."""
    connections = []

    def hold(name: str) -> None:
        connection = psycopg.connect(pg_url(settings), autocommit=True)
        connection.execute("SELECT pg_advisory_lock(%s)", (lock_key(name),))
        connections.append(connection)

    yield hold
    for connection in connections:
        connection.close()


# -- the runner ----------------------------------------------------------------------------------
def test_a_run_is_recorded_with_its_counts_host_and_pid(settings, engine, register):
    register("tiny", Calls({"seen": 3, "written": 2}))

    result = run_job(settings, engine, "tiny", trigger="cli")

    assert (result.outcome, result.attempts, result.counts) == ("succeeded", 1, {"seen": 3, "written": 2})
    [run] = rows(engine)
    assert (run.id, run.job, run.trigger, run.outcome, run.attempt) == (result.run_id, "tiny", "cli", "succeeded", 1)
    assert run.counts == {"seen": 3, "written": 2}
    assert (run.host, run.pid, run.error) == (socket.gethostname(), os.getpid(), None)
    assert run.started_at <= run.finished_at <= datetime.now(UTC)
    assert not is_locked(engine, "tiny")  # released after the run


def test_a_run_that_finds_the_lock_taken_is_skipped_and_recorded(settings, engine, register, held_lock):
    body = register("tiny", Calls()).run
    held_lock("tiny")
    assert is_locked(engine, "tiny")

    result = run_job(settings, engine, "tiny", trigger="schedule")

    assert (result.outcome, result.error) == ("skipped", LOCK_TAKEN)
    assert body.times == []
    [run] = rows(engine)
    assert (run.job, run.trigger, run.outcome, run.error) == ("tiny", "schedule", "skipped", LOCK_TAKEN)
    assert run.finished_at is not None


def test_jobs_sharing_a_lock_never_run_together(settings, engine, register, held_lock):
    register("first", Calls(), lock="shared")
    second = register("second", Calls(), lock="shared").run
    held_lock("shared")

    assert run_job(settings, engine, "second").outcome == "skipped"
    assert second.times == []


def test_a_failing_job_is_retried_with_exponential_backoff_then_recorded_failed(settings, engine, register):
    settings = settings.model_copy(update={"job_retry_attempts": 3, "job_retry_base_seconds": 0.2})
    body = register("flaky", Calls(failures=5)).run

    result = run_job(settings, engine, "flaky")

    assert (result.outcome, result.attempts, result.error) == ("failed", 3, "RuntimeError: source is down")
    gaps = [later - earlier for earlier, later in zip(body.times, body.times[1:])]
    assert [retry_delay(settings, 1), retry_delay(settings, 2)] == [0.2, 0.4]
    assert 0.2 <= gaps[0] < 0.4 + 0.5 and 0.4 <= gaps[1] < 0.8 + 0.5
    recorded = rows(engine)
    assert [(r.attempt, r.outcome, r.error) for r in recorded] == [
        (1, "failed", "RuntimeError: source is down"), (2, "failed", "RuntimeError: source is down"),
        (3, "failed", "RuntimeError: source is down")]
    assert all(r.finished_at is not None for r in recorded)


def test_a_job_that_fails_once_succeeds_on_its_second_attempt(settings, engine, register):
    settings = settings.model_copy(update={"job_retry_base_seconds": 0.01})
    register("flaky", Calls(failures=1))

    result = run_job(settings, engine, "flaky")

    assert (result.outcome, result.attempts) == ("succeeded", 2)
    assert [(r.attempt, r.outcome) for r in rows(engine)] == [(1, "failed"), (2, "succeeded")]


def test_an_error_that_waiting_cannot_fix_is_not_retried(settings, engine, register):
    settings = settings.model_copy(update={"job_retry_base_seconds": 0.01})
    error = SchemaOutdated("database schema is at 0003, code needs 0004", hint="run: papersift db upgrade")
    body = register("stuck", Calls(failures=5, error=error)).run

    result = run_job(settings, engine, "stuck")

    assert (result.outcome, len(body.times)) == ("failed", 1)
    assert [r.error for r in rows(engine)] == [
        "SchemaOutdated: database schema is at 0003, code needs 0004 (run: papersift db upgrade)"]


def test_a_job_that_changed_papers_runs_index_after_it(settings, engine, register):
    index = register("index", Calls({"vectors": 10}), lock="index").run
    register("harvest-test", Calls({"inserted": 4}, changed=True))

    result = run_job(settings, engine, "harvest-test", trigger="schedule")

    assert [(c.job, c.outcome) for c in result.chained] == [("index", "succeeded")]
    assert len(index.times) == 1
    assert [(r.job, r.trigger, r.outcome) for r in rows(engine)] == [
        ("harvest-test", "schedule", "succeeded"), ("index", "after harvest-test", "succeeded")]


def test_a_job_that_changed_nothing_runs_nothing_after_it(settings, engine, register):
    index = register("index", Calls(), lock="index").run
    register("harvest-test", Calls({"inserted": 0}, changed=False))

    assert run_job(settings, engine, "harvest-test").chained == []
    assert index.times == []


def test_a_run_left_running_by_a_dead_process_is_closed_when_the_lock_is_next_taken(settings, engine, register):
    register("tiny", Calls())
    orphan = runs.start_attempt(engine, "tiny", trigger="schedule", attempt=1)

    run_job(settings, engine, "tiny")

    by_id = {r.id: r for r in rows(engine)}
    assert (by_id[orphan].outcome, by_id[orphan].error) == ("failed", INTERRUPTED)


def test_requested_runs_are_started_once_when_their_lock_is_free(settings, engine, register, held_lock):
    register("tiny", Calls({"seen": 1}))
    held = register("blocked", Calls())
    first = runs.request_run(engine, "tiny", trigger="admin")
    waiting = runs.request_run(engine, "blocked", trigger="admin")
    held_lock("blocked")

    started = start_requested(settings, engine, submit=lambda run: run())

    assert started == [first]
    assert start_requested(settings, engine, submit=lambda run: run()) == []
    by_id = {r.id: r for r in rows(engine)}
    assert (by_id[first].outcome, by_id[first].trigger, by_id[first].counts) == ("succeeded", "admin", {"seen": 1})
    assert by_id[waiting].outcome == "queued" and held.run.times == []


# -- schedules -----------------------------------------------------------------------------------
def test_every_registered_schedule_names_a_setting():
    for job in JOBS.values():
        assert job.cron_setting is None or job.cron_setting in Settings.model_fields, job.name


def test_cron_settings_become_triggers_in_utc_and_an_empty_one_is_off():
    off = {name: "" for name in Settings.model_fields if name.startswith("cron_")}
    settings = Settings(_env_file=None, **{**off, "cron_index": "15 */2 * * *"})

    scheduled = {job.name: trigger for job, trigger in cron_triggers(settings)}

    assert set(scheduled) == {"index"}
    after = datetime(2026, 11, 24, 9, 50, tzinfo=UTC)
    assert scheduled["index"].get_next_fire_time(None, after) == datetime(2026, 11, 24, 10, 15, tzinfo=UTC)


def test_a_cron_setting_the_scheduler_cannot_read_is_refused_by_name():
    with pytest.raises(ValueError, match="PAPERSIFT_CRON_INDEX: '61 \\* \\* \\* \\*'"):
        cron_triggers(Settings(_env_file=None, cron_index="61 * * * *"))
    with pytest.raises(ValueError, match="PAPERSIFT_CRON_REBUILD: .* is not a crontab expression"):
        Settings(_env_file=None, cron_rebuild="nightly")
    with pytest.raises(ValueError, match="PAPERSIFT_CRON_INDEX: name the weekdays"):
        Settings(_env_file=None, cron_index="0 2 * * 1-5")


# -- the CLI -------------------------------------------------------------------------------------
def test_papersift_run_prints_the_counts_and_the_chained_index(cli, register):
    register("index", Calls({"vectors": 10}), lock="index")
    register("harvest-test", Calls({"inserted": 1234}, changed=True))

    result = cli("run", "harvest-test")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("run harvest-test: succeeded · inserted 1,234 · ") and lines[0].endswith(" s (run 1)")
    assert lines[1].startswith("then index: succeeded · vectors 10 · ") and lines[1].endswith(" s (run 2)")


def test_papersift_run_of_an_unknown_job_lists_the_jobs(cli):
    result = cli("run", "harvest-everything")

    assert result.exit_code == 2
    assert f"error: no job named 'harvest-everything'; the jobs are {', '.join(JOBS)}" in result.output
    assert "index, rebuild" in result.output


def test_papersift_run_of_a_failing_job_exits_3_with_the_error(cli, settings, register):
    cli.settings = settings.model_copy(update={"job_retry_attempts": 2, "job_retry_base_seconds": 0.01})
    register("flaky", Calls(failures=5))

    result = cli("run", "flaky")

    assert result.exit_code == 3
    assert "run flaky: failed · after 2 attempt(s): RuntimeError: source is down (run 2)" in result.output


def test_papersift_jobs_shows_schedules_last_outcomes_and_recent_runs(cli, settings, engine, register):
    register("flaky", Calls(failures=1))
    settings = settings.model_copy(update={"job_retry_attempts": 1})
    run_job(settings, engine, "flaky")
    run_job(settings, engine, "flaky")

    result = cli("jobs", "--limit", "5")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "jobs:"
    jobs = {line.split()[0]: line for line in lines[1:lines.index("recent runs:")]}
    assert list(jobs) == list(JOBS)
    assert jobs["index"].split() == ["index", "30", "*", "*", "*", "*", "never", "run"]
    assert jobs["rebuild"].split() == ["rebuild", "0", "3", "*", "*", "*", "never", "run"]
    assert "on request" in jobs["flaky"] and "last succeeded" in jobs["flaky"] and "(run 2)" in jobs["flaky"]
    assert lines.index("recent runs:") > 0
    table = lines[lines.index("recent runs:") + 1:]
    assert table[0].split()[:5] == ["run", "job", "trigger", "outcome", "try"]
    assert table[1].split()[:5] == ["2", "flaky", "cli", "succeeded", "1"]
    assert table[1].endswith("seen 3")
    assert table[2].split()[:5] == ["1", "flaky", "cli", "failed", "1"]
    assert table[2].endswith("RuntimeError: source is down")


def test_papersift_run_index_runs_the_real_pipeline(corpus):
    result = Cli(corpus)("run", "index")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("run index: succeeded · papers ")
    assert "catalog unchanged · embedded 0 · vectors " in result.output
    assert "index unchanged flat" in result.output


def test_papersift_schedule_starts_a_requested_run_and_stops_on_sigterm(settings, engine):
    requested = runs.request_run(engine, "index", trigger="admin")  # an empty database: nothing to index
    environment = {**os.environ, "PAPERSIFT_DATABASE_URL": settings.database_url.get_secret_value(),
                   "PAPERSIFT_DATA_DIR": str(settings.data_dir), "PAPERSIFT_JOB_POLL_SECONDS": "0.2",
                   "PAPERSIFT_JOB_RETRY_ATTEMPTS": "1"}
    environment.update({f"PAPERSIFT_{name.upper()}": "" for name in Settings.model_fields
                        if name.startswith("cron_")})  # only the requested run
    process = subprocess.Popen([sys.executable, "-m", "papersift.cli", "schedule"], env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            with Session(engine) as session:
                run = runs.get_run(session, requested)
            if run.outcome in ("succeeded", "failed"):
                break
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stderr
    assert (run.outcome, run.trigger, run.pid) == ("failed", "admin", process.pid)
    assert run.error == ("IndexNotReady: no embedded papers to index "
                         "(import papers first, then run papersift index)")
    assert "scheduler started: 0 job(s) on cron" in stderr
    assert "SIGTERM: stopping" in stderr and "scheduler stopped" in stderr
