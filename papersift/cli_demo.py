"""`papersift demo`, the README's first command: start the database, migrate, import the data
folder (or harvest live), index, serve."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from papersift.errors import PapersiftError
from papersift.settings import Settings

if TYPE_CHECKING:
    from indexer.data_folder import DataFolder


def demo(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    serve_site: Annotated[bool, typer.Option("--serve/--no-serve", help="serve after importing")] = True,
    harvest: Annotated[list[str], typer.Option("--harvest", help="harvest this arXiv category live "
                                               "(repeatable) instead of importing the shared data")] = [],  # noqa: B006
) -> None:
    """Start the database, migrate, import ../shared/data (or harvest live), index, serve; a second
    run skips files that did not change and starts in seconds. Stopping it (Ctrl-C or SIGTERM) stops
    the embedded PostgreSQL too, when the demo started it."""
    from papersift.cli import _settings
    from papersift.demo_exit import stopping_what_it_started

    settings = _settings(ctx)
    with stopping_what_it_started(settings, echo=typer.echo):
        _demo(ctx, settings, host=host, port=port, serve_site=serve_site, harvest=harvest)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def _demo(ctx: typer.Context, settings: Settings, *, host: str, port: int, serve_site: bool,
          harvest: list[str]) -> None:
    from indexer.data_folder import read_data_folder
    from papersift.cli import EXIT_USAGE, _engine, _fail, index_command, serve
    from papersift.db import make_engine, upgrade_schema

    try:
        upgrade_schema(make_engine(settings))
    except PapersiftError as error:
        raise _fail(error) from None
    if harvest:
        _demo_harvest(settings, harvest)
    else:
        folder = read_data_folder(settings.shared_data)
        if not folder.is_usable:
            typer.echo(f"error: {settings.shared_data} has neither arxiv/ nor venues/paperlists/", err=True)
            typer.echo("hint: set PAPERSIFT_SHARED_DATA to the shared data folder", err=True)
            raise typer.Exit(EXIT_USAGE)
        _demo_import(settings, folder)
    if not serve_site:
        index_command(ctx, rebuild=False)
        return
    # Keyword search works as soon as the keyword index is published. Embedding all of the shared
    # data takes hours on a small CPU, so it runs in a child process while the site is served; the
    # service loads the vector index when the child publishes it (a stopped child resumes next time).
    from indexer.lexical import build_catalog
    from indexer.twins import link_twins

    engine = _engine(settings)
    typer.echo(f"demo: {link_twins(engine).line()}")
    catalog = build_catalog(engine, settings.search_dir)
    typer.echo(f"demo: keyword index {catalog.mode} · {catalog.manifest.count:,} papers")
    child = subprocess.Popen([sys.executable, "-m", "papersift.cli", "index"], env=_child_environment(settings))
    typer.echo(f"demo: embedding and vector indexing in the background (pid {child.pid}); "
               "semantic search and related papers appear when it publishes")
    try:
        serve(ctx, host=host, port=port)
    finally:
        child.terminate()
        child.wait(timeout=60)


def _child_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with the settings in effect, for a child `papersift` command."""
    environment = dict(os.environ)
    environment.update({"PAPERSIFT_DATA_DIR": str(settings.data_dir), "PAPERSIFT_MODEL": settings.model,
                        "PAPERSIFT_SHARED_DATA": str(settings.shared_data),
                        "PAPERSIFT_EMBEDDING_BACKEND": settings.embedding_backend,
                        "PAPERSIFT_EMBEDDING_MAX_TOKENS": str(settings.embedding_max_tokens)})
    if settings.database_url is not None:
        environment["PAPERSIFT_DATABASE_URL"] = settings.database_url.get_secret_value()
    return environment


def _demo_import(settings: Settings, folder: DataFolder) -> None:
    """Import the parts the data folder has; a file (or folder) unchanged since its last import is
    skipped."""
    from indexer.files import fingerprint
    from indexer.runs import last_success_cursor, remember_in_cursor
    from indexer.sources.arxiv_snapshot import iter_raw_snapshot
    from indexer.sources.paperlists import iter_raw_paperlists
    from papersift.cli import _engine, _run_import

    for part, label in folder.missing_parts():
        typer.echo(f"demo: {folder.root} has no {part} · the {label} part is skipped")
    engine = _engine(settings)
    inputs = [("arxiv-snapshot", path, iter_raw_snapshot) for path in folder.arxiv_files]
    if folder.venue_dir is not None:
        inputs.append(("paperlists", folder.venue_dir, lambda path: iter_raw_paperlists([path])))
    for source, path, read in inputs:
        target, stamp = str(path.resolve()), fingerprint(path)
        previous = last_success_cursor(engine, source=source, target=target) or {}
        if previous.get("fingerprint") == stamp:
            typer.echo(f"import {source}: {path.name} unchanged since its last import · skipped")
            continue
        summary = _run_import(settings, source, target, read(path))
        remember_in_cursor(engine, summary.run_id, fingerprint=stamp)


def _demo_harvest(settings: Settings, categories: list[str]) -> None:
    """Harvest the categories' new and updated papers from the arXiv API (a week back at first)."""
    from indexer.harvest.arxiv_api import category_harvest, harvest_arxiv
    from papersift.cli import _engine, _fail

    try:
        engine = _engine(settings)
        summary = harvest_arxiv(settings, engine, category_harvest(engine, categories, since=None, until=None))
    except PapersiftError as error:
        raise _fail(error) from None
    typer.echo(summary.line())
