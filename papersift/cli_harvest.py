"""`papersift harvest …`: fetch live sources into the database, resumably (see indexer/harvest)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import typer

harvest_app = typer.Typer(help="Harvest live sources (arXiv API and OAI-PMH, OpenReview, paperlists).",
                          no_args_is_help=True)


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@harvest_app.command("arxiv")
def harvest_arxiv_command(
    ctx: typer.Context,
    category: Annotated[list[str], typer.Option("--category", "-c", help="e.g. cs.CL (repeatable)")] = [],  # noqa: B006
    since: Annotated[datetime | None, typer.Option(help="updated from (UTC); default: where the "
                                                   "last harvest of these categories ended")] = None,
    until: Annotated[datetime | None, typer.Option(help="updated until (UTC); default: now")] = None,
    query: Annotated[str | None, typer.Option(help="an arXiv API search query instead of categories")] = None,
    arxiv_id: Annotated[list[str], typer.Option("--id", help="fetch these papers (repeatable)")] = [],  # noqa: B006
    max_results: Annotated[int | None, typer.Option(min=1, help="stop after this many papers")] = None,
) -> None:
    """Fetch new and updated papers from the arXiv API (categories, a query, or ids)."""
    from indexer.harvest.arxiv_api import (
        category_harvest,
        harvest_arxiv,
        ids_harvest,
        query_harvest,
    )

    chosen = [name for name, given in (("--category", category), ("--query", query), ("--id", arxiv_id)) if given]
    if len(chosen) != 1:
        typer.echo("error: give exactly one of --category, --query or --id", err=True)
        raise typer.Exit(2)

    def plan(engine):
        if category:
            return category_harvest(engine, category, since=_utc(since), until=_utc(until),
                                    max_results=max_results)
        if query:
            return query_harvest(query, max_results=max_results)
        return ids_harvest(arxiv_id)

    run_harvest_command(ctx, "arxiv", lambda settings, engine, on_page: harvest_arxiv(
        settings, engine, plan(engine), on_page=on_page))


@harvest_app.command("arxiv-oai")
def harvest_arxiv_oai_command(
    ctx: typer.Context,
    start: Annotated[datetime | None, typer.Option(
        "--from", formats=["%Y-%m-%d"], metavar="DATE",
        help="records changed from this day (YYYY-MM-DD); default: the newest datestamp the "
        "finished harvests of this set saw")] = None,
    until: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], metavar="DATE",
        help="records changed until this day, inclusive; default: no end")] = None,
    set_spec: Annotated[str | None, typer.Option(
        "--set", metavar="SET",
        help="an OAI set such as cs, math or physics:hep-th; default: all of arXiv")] = None,
) -> None:
    """Harvest arXiv's OAI-PMH endpoint (arXiv metadata format): a backfill or the daily changes."""
    from indexer.harvest.arxiv_oai import harvest_arxiv_oai, plan_window

    if start is not None and until is not None and start > until:
        typer.echo(f"error: --from {start:%Y-%m-%d} is after --until {until:%Y-%m-%d}", err=True)
        raise typer.Exit(2)

    def window(engine):
        return plan_window(engine, set_spec=set_spec, start=start.date() if start else None,
                           until=until.date() if until else None)

    run_harvest_command(ctx, "arxiv-oai", lambda settings, engine, on_page: harvest_arxiv_oai(
        settings, engine, window(engine), on_page=on_page))


@harvest_app.command("openreview")
def harvest_openreview_command(
    ctx: typer.Context,
    venue: Annotated[str, typer.Option(help="OpenReview venue id, e.g. ICLR.cc/2025/Conference")],
) -> None:
    """Fetch a venue's accepted papers (oral / spotlight / poster) from the OpenReview API v2."""
    from indexer.harvest.openreview import harvest_openreview, venue_year_from_venue_id

    if venue_year_from_venue_id(venue) is None:
        typer.echo(f"error: cannot tell the venue and year from {venue!r}; give an OpenReview "
                   "venue id such as ICLR.cc/2025/Conference", err=True)
        raise typer.Exit(2)
    run_harvest_command(ctx, "openreview", lambda settings, engine, on_page: harvest_openreview(
        settings, engine, venue, on_page=on_page))


@harvest_app.command("paperlists")
def harvest_paperlists_command(
    ctx: typer.Context,
    url: Annotated[str, typer.Option(help="URL of a paperlists JSON file (plain or .gz)")],
    venue: Annotated[str | None, typer.Option(help="venue slug, e.g. iclr (default: from the "
                                              "URL's file name, iclr2025.json)")] = None,
    year: Annotated[int | None, typer.Option(min=1900, max=2100, help="year (default: from the "
                                             "URL's file name)")] = None,
) -> None:
    """Download a paperlists file and import it like `papersift import paperlists` (resumable)."""
    from indexer.harvest.paperlists_url import harvest_paperlists_url, list_file_name

    try:
        list_file_name(url, venue=venue, year=year)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    run_harvest_command(ctx, "paperlists", lambda settings, engine, on_page: harvest_paperlists_url(
        settings, engine, url, venue=venue, year=year, on_page=on_page))


def run_harvest_command(ctx: typer.Context, name: str, harvest) -> None:
    """Run `harvest(settings, engine, on_page)` with a progress bar; print its summary line and
    exit 1 when records were rejected, or with the error's code and message when it failed."""
    from papersift.cli import EXIT_REJECTS, _engine, _fail, _settings
    from papersift.errors import PapersiftError
    from papersift.progress import progress_bar

    settings = _settings(ctx)
    try:
        engine = _engine(settings)
        with progress_bar(f"harvest {name}") as bar:
            summary = harvest(settings, engine, lambda page: bar.advance(len(page.items)))
    except PapersiftError as error:
        raise _fail(error) from None
    typer.echo(summary.line())
    if summary.counts.rejected:
        typer.echo(f"rejected records are in the rejects table (run {summary.run_id})", err=True)
        raise typer.Exit(EXIT_REJECTS)


@harvest_app.command("starter")
def harvest_starter_command(
    ctx: typer.Context,
    keyword_index: Annotated[bool, typer.Option(
        "--keyword-index", help="publish the keyword index after the first page, every 30 s and "
        "after each source, so a site already serving fills as papers arrive")] = False,
) -> None:
    """Fetch a starter corpus (what `papersift demo` does without a data folder): the new papers of
    PAPERSIFT_HARVEST_CATEGORIES from the arXiv API, then the conference lists of
    PAPERSIFT_HARVEST_PAPERLISTS_URLS (empty: a few recent ones)."""
    from papersift.cli import _settings

    outcome = fetch_starter_corpus(_settings(ctx), keyword_index=keyword_index)
    raise typer.Exit(outcome.exit_code)


@dataclass
class StarterOutcome:
    """How a starter fetch went: sources fetched and failed, records rejected."""

    fetched: int = 0
    failed: int = 0
    rejected: int = 0

    @property
    def exit_code(self) -> int:
        from papersift.cli import EXIT_REJECTS
        from papersift.errors import HarvestFailed

        return HarvestFailed.exit_code if self.failed else EXIT_REJECTS if self.rejected else 0


def fetch_starter_corpus(settings, *, keyword_index: bool = False) -> StarterOutcome:
    """Fetch every starter source with a progress bar and a summary line each; a source that keeps
    failing gets an error line naming it, and one hint at the end says what to do."""
    from indexer.harvest.starter import fetch_starter, starter_sources
    from papersift.cli import _engine, _fail
    from papersift.errors import HarvestFailed, PapersiftError

    started = time.perf_counter()
    try:
        engine = _engine(settings)
        sources = starter_sources(settings)
    except PapersiftError as error:
        raise _fail(error) from None
    refresher = None
    if keyword_index:
        from indexer.catalog_refresh import CatalogRefresher

        refresher = CatalogRefresher(engine, settings.search_dir, echo=typer.echo)
    outcome, inserted, mirrors = StarterOutcome(), 0, []
    for source, result in fetch_starter(settings, engine, sources,
                                        after_page=refresher.after_page if refresher else None):
        if isinstance(result, HarvestFailed):
            outcome.failed += 1
            mirrors.append(source.mirror_setting)
            typer.echo(f"error: {source.name}: {result.message}", err=True)
        else:
            outcome.fetched += 1
            outcome.rejected += result.counts.rejected
            inserted += result.counts.inserted
            typer.echo(f"{result.line()} · {source.name}")
        if refresher:
            refresher.flush()
    typer.echo(f"harvest starter: {outcome.fetched} of {len(sources)} sources fetched · "
               f"{inserted:,} new papers · {time.perf_counter() - started:.1f} s")
    if outcome.rejected:
        typer.echo("rejected records are in the rejects table", err=True)
    if outcome.failed:
        typer.echo(f"hint: re-run to resume; without a network, set PAPERSIFT_SHARED_DATA to a data "
                   f"folder (arxiv/, venues/paperlists/); or point {' and '.join(dict.fromkeys(mirrors))} "
                   "at a mirror", err=True)
    return outcome
