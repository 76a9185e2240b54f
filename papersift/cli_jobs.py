"""`papersift schedule`, `papersift jobs`, `papersift run JOB`: the jobs of papersift/jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

EXIT_JOB_NOT_DONE = 3  # the job failed, or another run held its lock


def schedule_command(ctx: typer.Context) -> None:
    """Run the jobs on their cron settings (UTC) and the runs requested through the admin API."""
    from papersift.cli import EXIT_USAGE, _engine, _fail, _settings
    from papersift.errors import PapersiftError
    from papersift.jobs.schedule import run_scheduler

    settings = _settings(ctx)
    try:
        engine = _engine(settings)
        run_scheduler(settings, engine)
    except PapersiftError as error:
        raise _fail(error) from None
    except ValueError as error:  # a cron setting the scheduler cannot parse
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def jobs_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="how many recent runs to list")] = 20,
) -> None:
    """List the jobs with their schedules and last outcomes, then the recent runs."""
    from sqlalchemy.orm import Session

    from papersift.cli import _engine, _fail, _settings
    from papersift.errors import PapersiftError
    from papersift.jobs.registry import JOBS
    from papersift.jobs.runs import latest_by_job, recent_runs

    settings = _settings(ctx)
    try:
        engine = _engine(settings)
    except PapersiftError as error:
        raise _fail(error) from None
    with Session(engine) as session:
        latest = latest_by_job(session)
        recent = recent_runs(session, limit=limit)
    typer.echo("jobs:")
    for job in JOBS.values():
        cron = (getattr(settings, job.cron_setting) if job.cron_setting else "") or "on request"
        last, succeeded = latest.get(job.name, {}).get("last"), latest.get(job.name, {}).get("succeeded")
        status = (f"last {last.outcome} {_when(last.started_at or last.requested_at)} (run {last.id})"
                  if last else "never run")
        if last and last.outcome != "succeeded":
            status += f" · last success {_when(succeeded.finished_at) if succeeded else 'never'}"
        typer.echo(f"  {job.name:<16} {cron:<16} {status}")
    typer.echo("recent runs:" if recent else "recent runs: none")
    rows = [("run", "job", "trigger", "outcome", "try", "started (UTC)", "took", "counts / error")]
    rows += [(str(r.id), r.job, r.trigger, r.outcome, str(r.attempt), _when(r.started_at or r.requested_at),
              _took(r.started_at, r.finished_at), r.error or _counts(r.counts)) for r in recent]
    if recent:
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            typer.echo("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])


def run_command(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="the job's name (papersift jobs lists them)")],
) -> None:
    """Run one job now (waiting for nothing: if another run holds its lock, it is skipped)."""
    from papersift.cli import _engine, _fail, _settings
    from papersift.errors import PapersiftError
    from papersift.jobs.registry import find_job
    from papersift.jobs.runner import run_job

    settings = _settings(ctx)
    try:
        find_job(job)
        result = run_job(settings, _engine(settings), job, trigger="cli")
    except PapersiftError as error:
        raise _fail(error) from None
    done = True
    for line, ok in _result_lines(result):
        typer.echo(line)
        done = done and ok
    if not done:
        raise typer.Exit(EXIT_JOB_NOT_DONE)


def _result_lines(result, prefix: str = "run") -> list[tuple[str, bool]]:
    """One summary line per run, the chained ones after it."""
    if result.outcome == "succeeded":
        detail = " · ".join(filter(None, [_counts(result.counts), f"{result.seconds:.1f} s"]))
    elif result.outcome == "failed":
        detail = f"after {result.attempts} attempt(s): {result.error}"
    else:
        detail = result.error or ""
    lines = [(f"{prefix} {result.job}: {result.outcome} · {detail} (run {result.run_id})",
              result.outcome == "succeeded")]
    for chained in result.chained:
        lines += _result_lines(chained, prefix="then")
    return lines


def _counts(counts: dict[str, Any]) -> str:
    return " · ".join(f"{key} {value:,}" if type(value) is int else f"{key} {value}"
                      for key, value in counts.items())


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _took(started: datetime | None, finished: datetime | None) -> str:
    return f"{(finished - started).total_seconds():.1f} s" if started and finished else "-"


def register(app: typer.Typer) -> None:
    """Add the job commands to the `papersift` app."""
    app.command("schedule")(schedule_command)
    app.command("jobs")(jobs_command)
    app.command("run")(run_command)
