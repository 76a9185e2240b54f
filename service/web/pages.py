"""HTML pages. Each page calls the same functions as the REST API and renders a template."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from sqlalchemy import func, select

from papersift.errors import IndexNotReady, PapersiftError
from papersift.models import Paper
from service.api.browse import listing_for, parse_category_expression, venue_year, venues
from service.api.llm import page_context as llm_page_context
from service.api.papers import find_paper, nearest_papers, to_public
from service.api.search import run_search
from service.accounts.deps import OptionalAccount
from service.deps import IndexDep, ReadsDep, SessionDep
from service.search.filters import make_filters
from service.web.for_me import Order, order_for_reader
from service.web.render import TEMPLATES, bibtex

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
FACET_PARAMS = {"category": "category", "venue": "venue", "year": "year", "track": "track"}


def page(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> HTMLResponse:
    categories, venue_list, total = _home_summary(request, session)
    return page(request, "home.html", categories=categories, venues=venue_list, stats={"total": f"{total:,}"})


def _home_summary(request: Request, session) -> tuple[list[dict], list, int]:
    """The busiest categories' newest days, the venues and the paper count: three queries that
    read every paper (about 0.4 s at 160k), so kept per worker until the keyword catalog's next
    generation, which every index run that saw new papers publishes."""
    catalog = request.app.state.search.catalog.current_or_none()
    cached = getattr(request.app.state, "home_summary", None)
    if catalog is not None and cached is not None and cached[0] == catalog.generation:
        return cached[1]
    latest = (select(Paper.primary_category, func.max(Paper.announced_date).label("day"))
              .where(Paper.source == "arxiv", Paper.is_published, Paper.primary_category.is_not(None))
              .group_by(Paper.primary_category).subquery())
    rows = session.execute(
        select(latest.c.primary_category, latest.c.day, func.count())
        .join(Paper, (Paper.primary_category == latest.c.primary_category) & (Paper.announced_date == latest.c.day))
        .group_by(latest.c.primary_category, latest.c.day).order_by(func.count().desc()).limit(12)
    ).all()
    categories = [{"category": c, "day": d, "papers": n} for c, d, n in rows]
    summary = categories, venues(session), session.scalar(select(func.count()).where(Paper.is_published))
    if catalog is not None:
        request.app.state.home_summary = (catalog.generation, summary)
    return summary


@router.get("/help", response_class=HTMLResponse)
def help_page(request: Request) -> HTMLResponse:
    return page(request, "help.html")


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request, q: str = "",
    category: Annotated[list[str] | None, Query()] = None, venue: Annotated[list[str] | None, Query()] = None,
    track: Annotated[list[str] | None, Query()] = None, year: Annotated[list[int] | None, Query()] = None,
    source: str | None = None, sort: str = "relevance", mode: str = "hybrid", translate: bool = True,
    page_number: Annotated[int, Query(alias="page", ge=1, le=40)] = 1,
) -> HTMLResponse:
    """Results with highlights, facets that narrow, sort, pagination and the took-ms figure; for a
    query searched by its English translation, the phrase and a link that searches the text as typed
    (translate=0, kept by the page's links and search box)."""
    params = {"q": q, "category": category or [], "venue": venue or [], "track": track or [],
              "year": [str(y) for y in year or []], "source": source or "", "sort": sort, "mode": mode,
              "translate": "" if translate else "0"}
    years = sorted(year or [])
    try:
        filters = make_filters(source=source, category=category, venue=venue, track=track,
                               year_from=years[0] if years else None, year_to=years[-1] if years else None)
        response = run_search(request.app.state.search, q=q, filters=filters, mode=mode, sort=sort,
                              limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE, explain=True,
                              translate=translate)
    except PapersiftError as error:
        status = 400 if error.code == "invalid_query" else 503
        return page(request, "search.html", status_code=status, q=q, translate=translate, error=error)

    encoded = {k: urlencode({k: v}, doseq=True) for k, v in params.items() if v not in ("", [], None)}

    def url(**changes) -> str:
        """This page's URL with some parameters changed (None or empty: left out), in the order of
        `params`; each unchanged parameter is encoded once, not once per link."""
        parts = []
        for name in {**params, **changes}:
            if name not in changes:
                parts.append(encoded.get(name, ""))
            elif changes[name] not in ("", [], None):
                parts.append(urlencode({name: changes[name]}, doseq=True))
        return "/search?" + "&".join(part for part in parts if part)

    def facet_url(name: str, value: str) -> str:
        """Toggle a facet value. Values of a kind are alternatives, except years: filters hold a
        year range, so a year facet selects one year (two would mean every year between them)."""
        current = list(params[FACET_PARAMS[name]])
        if value in current:
            updated = [v for v in current if v != value]
        else:
            updated = [value] if name == "year" else current + [value]
        return url(**{FACET_PARAMS[name]: updated, "page": None})

    more = response.offset + len(response.results) < min(response.total, 1000)
    return page(
        request, "search.html", q=q, results=response.results, total=response.total, took_ms=response.took_ms,
        facets=response.facets.model_dump(), notices=response.notices, sort=sort, translate=translate,
        searched_for=response.searched_for, original_url=url(translate="0", page=None),
        active={"category": params["category"], "venue": params["venue"], "track": params["track"],
                "year": params["year"]},
        any_filter=any(params[k] for k in ("category", "venue", "track", "year", "source")),
        facet_url=facet_url, sort_url=lambda s: url(sort=s, page=None),
        prev_url=url(page=page_number - 1) if page_number > 1 else None,
        next_url=url(page=page_number + 1) if more else None,
        query_string=urlencode({k: v for k, v in params.items() if v not in ("", [])}, doseq=True),
    )


@router.post("/search", response_class=HTMLResponse)
async def search_page_posted(request: Request) -> HTMLResponse:
    """The search page for a form posted because its text is too long for a URL (the search box
    posts above 8,000 URL-encoded characters; servers cap URLs near 64 KB)."""
    form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
    first = {name: values[0] for name, values in form.items() if values}
    return await run_in_threadpool(
        search_page, request, q=first.get("q", ""), sort=first.get("sort", "relevance"),
        mode=first.get("mode", "hybrid"), translate=first.get("translate") != "0",
        category=form.get("category"), venue=form.get("venue"), track=form.get("track"),
        year=[int(y) for y in form.get("year", []) if y.isdigit()] or None, source=first.get("source"),
        page_number=1)


@router.get("/paper/{paper_id:path}", response_class=HTMLResponse)
def paper_page(request: Request, paper_id: str, session: SessionDep, reads: ReadsDep,
               holder: IndexDep) -> HTMLResponse:
    paper = find_paper(session, paper_id)
    public = to_public(paper)
    related, problem = [], None
    try:
        related = nearest_papers(reads, holder.current(), paper, limit=10)
    except IndexNotReady as error:
        problem = f"Related papers appear once the paper is indexed ({error.message})."
    return page(request, "paper.html", p=public, related=related, related_problem=problem,
                bibtex=bibtex(public), versions=paper.versions or [], venue_slug=paper.venue_slug,
                llm=llm_page_context(request.app.state.settings))


@router.get("/arxiv/{expression}", response_class=HTMLResponse)
def listing_page(request: Request, expression: str, session: SessionDep, reads: ReadsDep, holder: IndexDep,
                 account: OptionalAccount, day: Annotated[date | None, Query(alias="date")] = None,
                 order: Order = "default") -> HTMLResponse:
    include, exclude = parse_category_expression(expression)
    listing = listing_for(session, reads, include, exclude, day)
    why = {}
    if order == "for-me" and account is not None:
        (listing.new, listing.cross_lists), why = order_for_reader(session, holder, account, listing.new,
                                                                   listing.cross_lists)
    return page(request, "listing.html", listing=listing, order=order, why=why)


@router.get("/venues", response_class=HTMLResponse)
def venues_page(request: Request, session: SessionDep) -> HTMLResponse:
    return page(request, "venues.html", venues=venues(session))


@router.get("/venue/{venue}/{year}", response_class=HTMLResponse)
def venue_page(request: Request, venue: str, year: Annotated[int, Path(ge=1000, le=9999)],
               session: SessionDep, reads: ReadsDep, holder: IndexDep, account: OptionalAccount,
               order: Order = "default") -> HTMLResponse:
    listing = venue_year(venue, year, session, reads, track=None, limit=10_000, offset=0)
    papers, why = listing.results, {}
    if order == "for-me" and account is not None:
        (papers,), why = order_for_reader(session, holder, account, papers)
        groups = [("for me", papers)]
    else:
        grouped: dict[str, list] = {}
        for paper in papers:
            grouped.setdefault(paper.track or "unspecified", []).append(paper)
        groups = list(grouped.items())
    return page(request, "venue.html", listing=listing, groups=groups, order=order, why=why)


@router.get("/stars", response_class=HTMLResponse)
def stars_page(request: Request) -> HTMLResponse:
    return page(request, "stars.html")
