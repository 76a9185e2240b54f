"""`papersift schedule`: fire each job on its cron setting (UTC) and start the runs requested
through the admin API, until SIGTERM or SIGINT.

Every scheduler process may fire every job: the job's advisory lock lets one run at a time
across processes and machines, and the others record a skipped run.
"""

from __future__ import annotations

import logging
import os
import signal
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from papersift.jobs import runs
from papersift.jobs.registry import JOBS, Job
from papersift.jobs.runner import run_job, start_requested
from papersift.settings import Settings

logger = logging.getLogger(__name__)

REQUESTED_RUNS = "requested-runs"


def cron_triggers(settings: Settings) -> list[tuple[Job, CronTrigger]]:
    """Each scheduled job with its trigger; ValueError names a setting that is not a valid crontab."""
    scheduled = []
    for job in JOBS.values():
        expression = getattr(settings, job.cron_setting, "").strip() if job.cron_setting else ""
        if not expression:
            continue
        try:
            scheduled.append((job, CronTrigger.from_crontab(expression, timezone=UTC)))
        except ValueError as error:
            raise ValueError(f"PAPERSIFT_{job.cron_setting.upper()}: {expression!r}: {error}") from None
    return scheduled


def build_scheduler(settings: Settings, engine: Engine, *, workers: int = 4) -> BlockingScheduler:
    """A scheduler with every cron job and the poll for requested runs (not started)."""
    scheduler = BlockingScheduler(
        timezone=UTC, executors={"default": ThreadPoolExecutor(workers)},
        # A run missed while the scheduler was down happens once on start, not once per missed time.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    now = datetime.now(UTC)
    for job, trigger in cron_triggers(settings):
        scheduler.add_job(run_job, trigger, args=(settings, engine, job.name), kwargs={"trigger": "schedule"},
                          id=job.name, name=f"job {job.name}")
        upcoming = trigger.get_next_fire_time(None, now)
        logger.info("scheduled %s: %s (next %s)", job.name, getattr(settings, job.cron_setting),
                    upcoming.isoformat(timespec="minutes") if upcoming else "never")

    def submit(run) -> None:
        scheduler.add_job(run, id=None, name="requested run")  # no trigger: runs now in the pool

    scheduler.add_job(start_requested, "interval", seconds=settings.job_poll_seconds,
                      args=(settings, engine, submit), id=REQUESTED_RUNS, name="start requested runs")
    return scheduler


def run_scheduler(settings: Settings, engine: Engine) -> None:
    """Run until SIGTERM or SIGINT: the first lets running jobs finish and starts no new ones; a
    second exits at once, recording this process's unfinished runs as failed."""
    scheduler = build_scheduler(settings, engine)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        name = signal.Signals(signum).name
        if stopping:
            closed = runs.mark_interrupted_here(engine, reason=f"interrupted: {name} while stopping")
            logger.warning("%s again: exiting now (%d unfinished run(s) recorded failed)", name, closed)
            os._exit(1)
        stopping = True
        logger.info("%s: stopping; running jobs finish, no new ones start (send it again to exit now)", name)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("scheduler started: %d job(s) on cron, requested runs checked every %.1f s",
                len(scheduler.get_jobs()) - 1, settings.job_poll_seconds)
    scheduler.start()  # blocks until stop() shuts it down
    logger.info("scheduler stopped")
