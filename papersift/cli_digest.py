"""`papersift digest send` and `papersift digest preview`: the mailed digests (papersift/digest)."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

EXIT_NOT_ALL_SENT = 1  # some mails were refused (later runs retry them) or the run was stopped

digest_app = typer.Typer(help="The mailed digests of readers' subscriptions.", no_args_is_help=True)

Cadence = Annotated[str, typer.Option(help="daily (the newest announcement day) or weekly (the week that ended)")]
PeriodKey = Annotated[str | None, typer.Option(
    "--period", help="the day (2026-12-01) or ISO week (2026-W48); default: the newest day / last week")]


@digest_app.command("send")
def digest_send_command(
    ctx: typer.Context, cadence: Cadence = "daily", period: PeriodKey = None,
    resend_interrupted: Annotated[bool, typer.Option(
        help="also mail readers whose digest a killed run left unconfirmed (they may get it twice)")] = False,
) -> None:
    """Mail the period's digest to every subscriber who has not had it. SIGTERM or Ctrl-C stops
    after the mail in flight; a re-run carries on."""
    from papersift.cli import _engine, _fail, _settings
    from papersift.digest.run import send_digests
    from papersift.errors import PapersiftError
    from papersift.progress import progress_bar

    settings = _settings(ctx)
    stopping: list[str] = []

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signal.Signals(signum).name)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        engine = _engine(settings)
        with progress_bar(f"digest {cadence}", unit="reader") as bar:
            summary = send_digests(settings, engine, cadence=cadence, period_key=period,
                                   resend_interrupted=resend_interrupted, on_subscriber=bar.advance,
                                   should_stop=lambda: bool(stopping))
    except PapersiftError as error:
        raise _fail(error) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    typer.echo(summary.line())
    if stopping:
        typer.echo(f"stopped by {stopping[0]}: run it again to mail the rest", err=True)
    if summary.interrupted:
        typer.echo(f"{summary.interrupted} reader(s) have a digest a killed run left unconfirmed; "
                   "--resend-interrupted mails them again", err=True)
    if summary.failed or stopping:
        raise typer.Exit(EXIT_NOT_ALL_SENT)


@digest_app.command("preview")
def digest_preview_command(
    ctx: typer.Context, email: Annotated[str, typer.Argument(help="the reader's address")],
    cadence: Cadence = "daily", period: PeriodKey = None,
) -> None:
    """Print the digest a reader would get (plain text), without sending it."""
    from papersift.cli import _engine, _fail, _settings
    from papersift.digest.run import preview_digest
    from papersift.errors import PapersiftError

    settings = _settings(ctx)
    try:
        typer.echo(preview_digest(settings, _engine(settings), email, cadence=cadence, period_key=period), nl=False)
    except PapersiftError as error:
        raise _fail(error) from None
