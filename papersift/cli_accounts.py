"""`papersift accounts`: readers' accounts as an operator sees them; delete one with all its data."""

from __future__ import annotations

from typing import Annotated

import typer

accounts_app = typer.Typer(help="Readers' accounts: list them, delete one.", no_args_is_help=True)


@accounts_app.command("list")
def accounts_list_command(ctx: typer.Context) -> None:
    """Every account: address, when made and last signed in, stars, subscriptions, live sessions."""
    from sqlalchemy.orm import Session

    from papersift.cli import _engine, _settings
    from service.accounts.store import list_accounts

    engine = _engine(_settings(ctx))
    with Session(engine) as db:
        lines = list_accounts(db)
    engine.dispose()
    for line in lines:
        last = line.last_sign_in_at.strftime("%Y-%m-%d %H:%M") if line.last_sign_in_at else "never"
        typer.echo(f"{line.email}  made {line.created_at:%Y-%m-%d}  last sign-in {last}  "
                   f"{line.stars} stars  {line.subscriptions} subscriptions  {line.sessions} sessions")
    typer.echo(f"accounts: {len(lines)}")


@accounts_app.command("delete")
def accounts_delete_command(
    ctx: typer.Context, email: Annotated[str, typer.Argument(help="the account's address")],
) -> None:
    """Delete an account and everything kept about it (library, subscriptions, digests, sessions,
    sign-in links). Exits 2 when there is no such account."""
    from sqlalchemy.orm import Session

    from papersift.cli import _engine, _settings
    from service.accounts.store import delete_account

    engine = _engine(_settings(ctx))
    with Session(engine) as db, db.begin():
        deleted = delete_account(db, email.strip().lower())
    engine.dispose()
    if not deleted:
        typer.echo(f"error: no account for {email}", err=True)
        raise typer.Exit(2)
    typer.echo(f"accounts delete: {email} and all its data deleted")
