"""The `papersift` command. Thin: options → one call into indexer or service → summary → exit code.

Exit codes: 0 done · 1 done, but records were rejected · 2 bad usage or unreadable input ·
3 environment problem (database unreachable, schema outdated).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from papersift.errors import PapersiftError
from papersift.log import configure_logging
from papersift.settings import Settings, describe_settings, get_settings

app = typer.Typer(help="papersift: search and recommendations over arXiv and conference papers.",
                  no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="The database: migrations and the embedded server.", no_args_is_help=True)
import_app = typer.Typer(help="Import metadata files.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")

EXIT_OK, EXIT_REJECTS, EXIT_USAGE, EXIT_ENVIRONMENT = 0, 1, 2, 3


@app.callback()
def main(ctx: typer.Context) -> None:
    """Read settings once (unless a caller passed them as the context object) and configure logging."""
    if isinstance(ctx.obj, Settings):
        return
    try:
        settings = get_settings()
    except ValueError as error:
        typer.echo(f"error: invalid settings: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    configure_logging(settings.log_level)
    ctx.obj = settings


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj


def _fail(error: PapersiftError) -> typer.Exit:
    typer.echo(f"error: {error.message}", err=True)
    if error.hint:
        typer.echo(f"hint: {error.hint}", err=True)
    return typer.Exit(error.exit_code)


def _engine(settings: Settings, *, check_schema: bool = True):
    from papersift.db import check_schema_current, make_engine

    engine = make_engine(settings)
    if check_schema:
        check_schema_current(engine)
    return engine


@app.command("config")
def config_command(ctx: typer.Context) -> None:
    """Print the effective settings (secrets masked)."""
    for variable, value, description in describe_settings(_settings(ctx)):
        typer.echo(f"{variable} = {value}\n    {description}")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, revision: str = typer.Argument("head")) -> None:
    """Migrate the database schema up to REVISION (default: the newest)."""
    from papersift.db import schema_revisions, upgrade_schema

    try:
        engine = _engine(_settings(ctx), check_schema=False)
        before, _ = schema_revisions(engine)
        upgrade_schema(engine, revision)
        after, _ = schema_revisions(engine)
    except PapersiftError as error:
        raise _fail(error) from None
    typer.echo(f"db upgrade: schema {before or 'empty'} → {after}")


@db_app.command("downgrade")
def db_downgrade(ctx: typer.Context, revision: str = typer.Argument(..., help="e.g. base")) -> None:
    """Migrate the database schema down to REVISION."""
    from papersift.db import downgrade_schema, schema_revisions

    try:
        engine = _engine(_settings(ctx), check_schema=False)
        before, _ = schema_revisions(engine)
        downgrade_schema(engine, revision)
        after, _ = schema_revisions(engine)
    except PapersiftError as error:
        raise _fail(error) from None
    typer.echo(f"db downgrade: schema {before or 'empty'} → {after or 'empty'}")


@db_app.command("status")
def db_status(ctx: typer.Context) -> None:
    """Say which PostgreSQL server is in use, whether it runs, and the schema revision."""
    from papersift import embedded_pg
    from papersift.db import schema_revisions
    from papersift.settings import mask_value

    settings = _settings(ctx)
    if settings.uses_embedded_database:
        state = embedded_pg.status(settings.pgdata_dir)
        running = f"running (pid {state.pid})" if state.running else "stopped"
        typer.echo(f"server: embedded PostgreSQL under {state.pgdata} · {running}")
        if not state.running:
            typer.echo("schema: unknown (server stopped; any papersift command starts it)")
            return
    else:
        typer.echo(f"server: external, PAPERSIFT_DATABASE_URL = {mask_value(settings.database_url)}")
    try:
        current, head = schema_revisions(_engine(settings, check_schema=False))
    except PapersiftError as error:
        raise _fail(error) from None
    verdict = "current" if current == head else "outdated: run papersift db upgrade"
    typer.echo(f"schema: {current or 'empty'} (code needs {head}) · {verdict}")


@db_app.command("stop")
def db_stop(ctx: typer.Context) -> None:
    """Stop the embedded PostgreSQL of this data directory."""
    from papersift import embedded_pg

    settings = _settings(ctx)
    if not settings.uses_embedded_database:
        typer.echo("db stop: PAPERSIFT_DATABASE_URL is set; papersift does not manage that server")
        return
    stopped = embedded_pg.stop(settings.pgdata_dir)
    typer.echo(f"db stop: {'stopped' if stopped else 'was not running'} ({settings.pgdata_dir})")


@import_app.command("arxiv-snapshot")
def import_arxiv_snapshot(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="JSON lines, plain or .gz")],
) -> None:
    """Import the arXiv metadata snapshot (streamed in constant memory)."""
    from indexer.sources.arxiv_snapshot import SOURCE, iter_raw_snapshot

    _exit_for(_run_import(_settings(ctx), SOURCE, str(file.resolve()), iter_raw_snapshot(file)))


@import_app.command("paperlists")
def import_paperlists(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="list files or folders of them")],
) -> None:
    """Import conference paper lists (paperlists JSON arrays, plain or .gz; files or folders)."""
    from indexer.sources.paperlists import SOURCE, iter_raw_paperlists

    target = " ".join(str(p.resolve()) for p in paths)
    _exit_for(_run_import(_settings(ctx), SOURCE, target, iter_raw_paperlists(paths)))


def _exit_for(summary) -> None:
    """Exit 1 when the import rejected records (they are in the rejects table)."""
    if summary.counts.rejected:
        raise typer.Exit(EXIT_REJECTS)


def _run_import(settings: Settings, source: str, target: str, items):
    """Run one import with a progress bar and print its summary line; returns the summary."""
    from indexer.ingest import run_import
    from papersift.progress import progress_bar

    try:
        engine = _engine(settings)
        with progress_bar(f"import {source}") as bar:
            summary = run_import(
                engine, source=source, target=target, items=items,
                batch_size=settings.import_batch_size, on_batch=bar.advance,
            )
    except PapersiftError as error:
        raise _fail(error) from None
    typer.echo(summary.line())
    if summary.counts.rejected:
        typer.echo(f"rejected records are in the rejects table (run {summary.run_id})", err=True)
    return summary


@app.command("index")
def index_command(
    ctx: typer.Context,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="rebuild the index from all vectors")] = False,
    backend: Annotated[str | None, typer.Option(help="embedding backend for this run (default: "
                                                "PAPERSIFT_EMBEDDING_BACKEND, auto)")] = None,
) -> None:
    """Embed papers whose text changed (newest first, resumable), then build and publish the faiss index."""
    from indexer.pipeline import update_indexes

    settings = _settings(ctx)
    if _checked_backend(backend) is not None:
        settings = settings.model_copy(update={"embedding_backend": backend})

    def report_catalog(catalog) -> None:
        typer.echo(f"index: keyword index {catalog.line()}")

    try:
        update = update_indexes(settings, _engine(settings), rebuild=rebuild, progress=True,
                                on_catalog=report_catalog, echo=typer.echo)
    except PapersiftError as error:
        raise _fail(error) from None
    embedded, built = update.embedded, update.built
    if update.twins:
        typer.echo(f"index: {update.twins.line()}")
    m = built.manifest
    embed_part = (f"embedded {embedded.embedded:,} · {embedded.rate:,.1f} doc/s · {embedded.seconds:.1f} s"
                  if embedded else "embedded 0 (all current)")
    change = f" (+{built.added:,}, {built.retired:,} retired)" if built.mode == "incremental" else ""
    typer.echo(f"index: {embed_part} · {built.mode}{change} {m.index_type} index of {m.count:,} vectors "
               f"(generation {m.generation}, {built.seconds:.1f} s, {m.backend} · {m.max_tokens} tokens) · "
               f"{settings.index_dir}")
    if built.mode == "kept":
        typer.echo("index: the published index (another embedding space) keeps serving until every "
                   "paper has a vector in the new one; run `papersift index` again to continue", err=True)


@app.command("prepare-embedder")
def prepare_embedder_command(
    ctx: typer.Context,
    backend: Annotated[str | None, typer.Option(help="embedding backend (default: "
                                                "PAPERSIFT_EMBEDDING_BACKEND, auto)")] = None,
) -> None:
    """Choose the embedding backend (auto: measured once per CPU on the stored papers) and export
    the model it needs, so the next `papersift index` starts embedding at once."""
    from indexer.pipeline import prepare_embedder

    settings = _settings(ctx)
    started = time.perf_counter()
    try:
        chosen = prepare_embedder(settings, _engine(settings), backend=_checked_backend(backend), echo=typer.echo)
    except PapersiftError as error:
        raise _fail(error) from None
    if chosen is None:
        typer.echo("prepare-embedder: no papers with abstracts to measure the backends on yet · nothing done")
        return
    typer.echo(f"prepare-embedder: {settings.model} ready on {chosen} at {settings.embedding_max_tokens} tokens "
               f"· {time.perf_counter() - started:.1f} s · {settings.model_cache_dir}")


def _checked_backend(backend: str | None) -> str | None:
    """--backend as given, or a usage error naming the choices."""
    from papersift.embedding import BACKENDS

    if backend is not None and backend not in ("auto", *BACKENDS):
        typer.echo(f"error: --backend {backend!r} is not one of auto, {', '.join(BACKENDS)}", err=True)
        raise typer.Exit(EXIT_USAGE)
    return backend


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="worker processes (default: one per "
                                                "core); they share the indexes through the page cache")] = None,
) -> None:
    """Serve the web UI and the REST API (refuses an outdated schema)."""
    settings = _settings(ctx)
    try:
        _engine(settings).dispose()
    except PapersiftError as error:
        raise _fail(error) from None
    workers = workers or default_workers()
    # Every worker thread searches on one OpenMP thread (a single query gains nothing from more, and
    # idle OpenMP threads spin on the cores other requests need); set before faiss loads anywhere.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # glibc gives each thread of the request pool its own malloc arena; two keep a worker's private
    # memory (what each extra worker adds) small. The variable is read when a process starts (a child
    # process, the forked workers: see service/prefork.py, which sets it in this process).
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    typer.echo(f"serving papersift on http://{host}:{port}"
               + (f" with {workers} workers" if workers > 1 else ""), err=True)
    if workers == 1:
        import uvicorn

        from service.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
        return
    if code := _serve_workers(settings, host, port, workers):
        typer.echo("error: serve: the workers kept failing (see the log above)", err=True)
        raise typer.Exit(code)


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _serve_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """Several workers forked from this process once it has imported the app and loaded the query
    encoder, so they share both (service/prefork.py); their metrics are summed through
    PROMETHEUS_MULTIPROC_DIR (a fresh folder unless one is set). The exit code: 0 after a stop."""
    import functools
    import tempfile

    import uvicorn

    with tempfile.TemporaryDirectory(prefix="papersift-metrics-") as metrics_dir:
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)
        _metrics_across_processes()
        from service.app import create_app
        from service.prefork import serve_forked
        from service.search.runtime import preload_query_encoder

        config = uvicorn.Config(functools.partial(create_app, settings), factory=True, host=host, port=port,
                                log_level="warning")
        return serve_forked(config, workers, preload=lambda: preload_query_encoder(settings))


def _metrics_across_processes() -> None:
    """prometheus_client picks where metric values live when it is imported; if this process
    imported it before PROMETHEUS_MULTIPROC_DIR was set, pick again so the workers share files."""
    values = sys.modules.get("prometheus_client.values")
    if values is not None:
        values.ValueClass = values.get_value_class()


from papersift.cli_demo import register as register_demo_command  # noqa: E402

register_demo_command(app)

from papersift.cli_harvest import harvest_app  # noqa: E402  (its commands use the helpers above)

app.add_typer(harvest_app, name="harvest")

from papersift.cli_jobs import register as register_job_commands

register_job_commands(app)

from papersift.cli_faq import faq_app  # noqa: E402

app.add_typer(faq_app, name="faq")

from papersift.cli_accounts import accounts_app  # noqa: E402

app.add_typer(accounts_app, name="accounts")

from papersift.cli_digest import digest_app  # noqa: E402

app.add_typer(digest_app, name="digest")

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
