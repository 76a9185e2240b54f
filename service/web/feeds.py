"""Atom and RSS feeds (feedgen) for a category listing, a venue-year and any search, and the
OpenSearch description that lets a browser's address bar search papersift."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated
from xml.sax.saxutils import escape

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from service.api.browse import listing_for, parse_category_expression, venue_year
from service.api.search import run_search
from service.deps import ReadsDep, SessionDep
from service.search.filters import make_filters

router = APIRouter(include_in_schema=False)
FEED_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml"}


def _feed(request: Request, *, title: str, link: str, papers, kind: str) -> Response:
    from feedgen.feed import FeedGenerator

    base = str(request.base_url).rstrip("/")
    feed = FeedGenerator()
    feed.id(base + link)
    feed.title(title)
    feed.link(href=base + link, rel="alternate")
    feed.description(title)
    feed.updated(datetime.now(UTC))
    for paper in papers:
        entry = feed.add_entry(order="append")
        entry.id(f"{base}/paper/{paper.id}")
        entry.title(paper.title)
        entry.link(href=f"{base}/paper/{paper.id}")
        entry.description(paper.abstract or paper.title)
        for author in paper.authors[:20]:
            entry.author(name=author)
        if paper.published:
            entry.published(datetime.combine(paper.published, time(), tzinfo=UTC))
    body = feed.atom_str(pretty=True) if kind == "atom" else feed.rss_str(pretty=True)
    return Response(body, media_type=FEED_TYPES[kind])


@router.get("/feeds/arxiv/{expression}.{kind}")
def arxiv_feed(request: Request, expression: str, kind: str, session: SessionDep, reads: ReadsDep) -> Response:
    _check_kind(kind)
    include, exclude = parse_category_expression(expression)
    listing = listing_for(session, reads, include, exclude, None)
    return _feed(request, title=f"papersift · arXiv {listing.category} · {listing.date}",
                 link=f"/arxiv/{listing.category}", papers=listing.new + listing.cross_lists, kind=kind)


@router.get("/feeds/venue/{venue}/{year}.{kind}")
def venue_feed(request: Request, venue: str, year: Annotated[int, Path(ge=1000, le=9999)], kind: str,
               session: SessionDep, reads: ReadsDep) -> Response:
    _check_kind(kind)
    listing = venue_year(venue, year, session, reads, track=None, limit=1000, offset=0)
    return _feed(request, title=f"papersift · {listing.name} {year}", link=f"/venue/{listing.venue}/{year}",
                 papers=listing.results, kind=kind)


@router.get("/feeds/search.{kind}")
def search_feed(request: Request, kind: str, q: str = "",
                category: Annotated[list[str] | None, Query()] = None,
                venue: Annotated[list[str] | None, Query()] = None, sort: str = "newest",
                translate: bool = True) -> Response:
    _check_kind(kind)
    response = run_search(request.app.state.search, q=q, sort=sort, limit=50,
                          filters=make_filters(category=category, venue=venue), translate=translate)
    return _feed(request, title=f"papersift · search: {q or 'newest'}", link=f"/search?q={q}",
                 papers=response.results, kind=kind)


@router.get("/opensearch.xml")
def opensearch(request: Request) -> Response:
    base = escape(str(request.base_url).rstrip("/"))
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<OpenSearchDescription xmlns="http://a9.com/-/spec/opensearch/1.1/">
  <ShortName>papersift</ShortName>
  <Description>Search papers on papersift</Description>
  <InputEncoding>UTF-8</InputEncoding>
  <Url type="text/html" template="{base}/search?q={{searchTerms}}"/>
  <Url type="application/atom+xml" template="{base}/feeds/search.atom?q={{searchTerms}}"/>
</OpenSearchDescription>"""
    return Response(body, media_type="application/opensearchdescription+xml")


def _check_kind(kind: str) -> None:
    from papersift.errors import PaperNotFound

    if kind not in FEED_TYPES:
        raise PaperNotFound(f"no .{kind[:10]} feed", hint="feeds end in .atom or .rss")
