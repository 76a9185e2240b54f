"""`papersift faq generate`: pre-generate the FAQs of an arXiv listing day (papersift/llm/batch.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

EXIT_MODEL_DOWN = 4  # the model kept failing; re-running resumes

faq_app = typer.Typer(help="Paper FAQs written by the configured language model.", no_args_is_help=True)


@faq_app.command("generate")
def faq_generate_command(
    ctx: typer.Context,
    category: Annotated[str, typer.Option(help="an arXiv category or expression, e.g. cs.CL or cs.AI+cs.LG")],
    day: Annotated[datetime | None, typer.Option(
        "--date", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="announcement day; default: the category's latest")] = None,
) -> None:
    """Generate the FAQ of every paper of a listing day (new and cross-listed) that has none stored."""
    from sqlalchemy.orm import Session

    from papersift.cli import EXIT_USAGE, _engine, _fail, _settings
    from papersift.errors import PapersiftError
    from papersift.llm.batch import generate_faqs
    from papersift.progress import progress_bar
    from service.api.browse import listing_for, parse_category_expression
    from service.reads import ReadPool

    settings = _settings(ctx)
    if not settings.llm_enabled:
        typer.echo("error: no language model is configured", err=True)
        typer.echo("hint: set PAPERSIFT_LLM_BASE_URL and PAPERSIFT_LLM_MODEL", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        engine = _engine(settings)
        include, exclude = parse_category_expression(category)
        reads = ReadPool(engine.url.render_as_string(hide_password=False), size=1)
        try:
            with Session(engine) as session:
                listing = listing_for(session, reads, include, exclude, day.date() if day else None)
        finally:
            reads.close()
        ids = [paper.id for paper in listing.new + listing.cross_lists]
        with progress_bar(f"faq {listing.category} {listing.date}", total=len(ids), unit="paper") as bar:
            summary = generate_faqs(settings, engine, ids, on_paper=bar.advance)
    except PapersiftError as error:
        raise _fail(error) from None
    typer.echo(summary.line(f"{listing.category} {listing.date}"))
    if summary.stopped:
        typer.echo(f"stopped: {summary.stop_message}")
    if summary.stopped == "model":
        raise typer.Exit(EXIT_MODEL_DOWN)
