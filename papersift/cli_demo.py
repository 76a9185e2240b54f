"""`papersift demo`, the README's first command: start the database, migrate, import the data
folder (without one, fetch a starter corpus; or harvest live), index, serve."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from papersift.demo_children import DemoChildren
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
    """Start the database, migrate, import ../shared/data (without it: fetch a starter corpus; or
    harvest live), index, serve; a second run skips files that did not change and starts in seconds.
    Stopping it (Ctrl-C or SIGTERM) stops the embedded PostgreSQL too, when the demo started it."""
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
    from papersift.cli import _fail, index_command
    from papersift.db import make_engine, upgrade_schema

    try:
        upgrade_schema(make_engine(settings))
    except PapersiftError as error:
        raise _fail(error) from None
    preparation = DemoChildren(settings)  # the model export and backend choice, beside the import
    try:
        if harvest:
            _demo_harvest(settings, harvest)
        else:
            folder = read_data_folder(settings.shared_data)
            if not folder.is_usable:
                _say_what_the_starter_fetches(settings)
                if serve_site:
                    _serve_while_fetching(ctx, settings, preparation, host=host, port=port)
                else:
                    _fetch_then_index(ctx, settings)
                return
            _demo_import(settings, folder, on_papers=lambda: _start_preparing(preparation))
        if not serve_site:
            index_command(ctx, rebuild=False)
            return
        _serve_while_indexing(ctx, settings, host=host, port=port)
    finally:
        preparation.stop()


def _start_preparing(preparation: DemoChildren) -> None:
    """Export the embedding model and make the `auto` backend choice (about a minute, once per
    machine) in a child while the rest is imported, so embedding starts as soon as the site is up."""
    child = preparation.start("prepare-embedder")
    typer.echo(f"demo: preparing the embedding model in the background (pid {child.pid})")


def _serve_while_indexing(ctx: typer.Context, settings: Settings, *, host: str, port: int) -> None:
    """Keyword search works as soon as the keyword index is published. Embedding all of the shared
    data takes hours on a small CPU, so it runs in a child process while the site is served; the
    service loads the vector index when the child publishes it (a stopped child resumes next time)."""
    from indexer.lexical import build_catalog
    from indexer.twins import link_twins
    from papersift.cli import _engine, serve

    engine = _engine(settings)
    typer.echo(f"demo: {link_twins(engine).line()}")
    catalog = build_catalog(engine, settings.search_dir)
    typer.echo(f"demo: keyword index {catalog.mode} · {catalog.manifest.count:,} papers")
    children = DemoChildren(settings)
    child = children.start("index")
    typer.echo(f"demo: embedding and vector indexing in the background (pid {child.pid}); "
               "semantic search and related papers appear when it publishes")
    try:
        serve(ctx, host=host, port=port)
    finally:
        children.stop()


def _say_what_the_starter_fetches(settings: Settings) -> None:
    from indexer.data_folder import ARXIV_PART, VENUES_PART
    from indexer.harvest.starter import starter_sources
    from papersift.cli import _fail

    try:
        sources = starter_sources(settings)
    except PapersiftError as error:
        raise _fail(error) from None
    typer.echo(f"demo: no data folder at {settings.shared_data} (neither {ARXIV_PART} nor {VENUES_PART}) · "
               f"fetching a starter corpus instead: {', '.join(source.name for source in sources)}")


def _fetch_then_index(ctx: typer.Context, settings: Settings) -> None:
    """--no-serve without a data folder: fetch the starter corpus, index what arrived, and exit 4
    when a source failed (at once when every source failed)."""
    from papersift.cli import index_command
    from papersift.cli_harvest import fetch_starter_corpus

    outcome = fetch_starter_corpus(settings)
    if outcome.failed and not outcome.fetched:
        typer.echo("error: demo: no source of the starter corpus could be fetched", err=True)
        raise typer.Exit(outcome.exit_code)
    index_command(ctx, rebuild=False)
    if outcome.failed:
        raise typer.Exit(outcome.exit_code)


def _serve_while_fetching(ctx: typer.Context, settings: Settings, preparation: DemoChildren, *,
                          host: str, port: int) -> None:
    """Fetch the starter corpus in a child process that publishes the keyword index after its
    first page and as the rest arrive; serve as soon as a keyword index is published, and embed
    (another child) when the fetch ends. A fetch that ends before any paper arrived ends the demo
    with its exit code."""
    from papersift.cli import serve
    from papersift.errors import HarvestFailed

    children = DemoChildren(settings)
    fetch = children.start("harvest", "starter", "--keyword-index")
    try:
        manifest = _first_keyword_index(settings, fetch)
        if manifest is None:
            typer.echo("error: demo: no papers arrived, so there is nothing to serve "
                       "(the lines above say what failed)", err=True)
            raise typer.Exit(fetch.returncode or HarvestFailed.exit_code)
        typer.echo(f"demo: keyword index of {manifest.count:,} papers · serving now; the rest arrive "
                   f"in the background (pid {fetch.pid}), then embedding and vector indexing")
        _start_preparing(preparation)

        def report(code: int, child: subprocess.Popen) -> None:
            ended = ("fetched" if code in (0, 1) else
                     f"fetch ended with errors (exit {code}, see above); the site keeps what arrived")
            typer.echo(f"demo: starter corpus {ended} · embedding and vector indexing in the background "
                       f"(pid {child.pid}); semantic search and related papers appear when it publishes")

        children.then(fetch, "index", on_start=report)
        serve(ctx, host=host, port=port)
    finally:
        children.stop()


def _first_keyword_index(settings: Settings, fetch: subprocess.Popen):
    """The published keyword index's manifest as soon as it holds papers (at once when an earlier
    run left one); None when the fetch ended without publishing any."""
    from indexer.lexical import read_catalog_manifest

    def published():
        manifest = read_catalog_manifest(settings.search_dir)
        return manifest if manifest is not None and manifest.count else None

    while fetch.poll() is None:
        if (manifest := published()) is not None:
            return manifest
        time.sleep(0.2)
    return published()


def _demo_import(settings: Settings, folder: DataFolder, *, on_papers: Callable[[], object]) -> None:
    """Import the parts the data folder has; a file (or folder) unchanged since its last import is
    skipped. `on_papers` is called once, after the first part (the database holds papers then)."""
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
        else:
            summary = _run_import(settings, source, target, read(path))
            remember_in_cursor(engine, summary.run_id, fingerprint=stamp)
        if on_papers is not None:
            on_papers()
            on_papers = None


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
