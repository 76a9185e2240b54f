"""Browsing: an arXiv category's announcement day, the venues, and one venue-year by track."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel
from sqlalchemy import and_, case, func, or_, select

from papersift.errors import InvalidQuery, PaperNotFound
from papersift.models import Paper
from papersift.venues import canonical_venue, venue_display_name
from service.search.cards import cards_in_order
from service.deps import ReadsDep, SessionDep
from service.schemas import PaperPublic

router = APIRouter(prefix="/api/v1", tags=["browse"])
MAX_CATEGORY = 32
CATEGORY = re.compile(r"[a-z]+(?:-[a-z]+)?(?:\.(?:[A-Z][A-Za-z]*|[a-z]+(?:-[a-z]+(?![a-z.]))?))?")


class ListingPublic(BaseModel):
    """One announcement day of a category: new papers (primary category), cross-lists (listed
    here from another primary category) and replacements (new versions of older papers)."""

    category: str
    date: date | None
    previous_date: date | None
    next_date: date | None
    counts: dict[str, int]
    new: list[PaperPublic]
    cross_lists: list[PaperPublic]
    replacements: list[PaperPublic]


@router.get("/arxiv/{category}", response_model=ListingPublic)
def arxiv_listing(
    category: str, session: SessionDep, reads: ReadsDep,
    day: Annotated[date | None, Query(alias="date", description="announcement day; default: the latest")] = None,
) -> ListingPublic:
    """That day's papers in an arXiv category (e.g. cs.CL) or a category expression
    (`cs.AI+cs.LG-cs.CY`: union minus exclusion, each paper once), cross-lists marked."""
    include, exclude = parse_category_expression(category)
    return listing_for(session, reads, include, exclude, day)


def parse_category_expression(expression: str) -> tuple[list[str], list[str]]:
    """`cs.AI+cs.LG-cs.CY` → (["cs.AI", "cs.LG"], ["cs.CY"]); hyphenated archives such as hep-th
    and subjects such as cond-mat.stat-mech are read whole."""
    include: list[str] = []
    exclude: list[str] = []
    position, text_ = 0, expression.replace(" ", "+").strip("+")
    while position < len(text_):
        sign = text_[position] if text_[position] in "+-" else "+"
        position += text_[position] in "+-"
        match = CATEGORY.match(text_, position)
        if not match or len(match.group()) > MAX_CATEGORY:
            raise InvalidQuery(f"{expression[:40]!r} is not an arXiv category expression (at position {position + 1})",
                               hint="use e.g. cs.CL, or an expression such as cs.AI+cs.LG-cs.CY")
        (exclude if sign == "-" else include).append(match.group())
        position = match.end()
    if not include:
        raise InvalidQuery(f"{expression[:40]!r} names no category to list", hint="use e.g. cs.AI+cs.LG-cs.CY")
    return list(dict.fromkeys(include)), list(dict.fromkeys(exclude))


def listing_for(session, reads, include: list[str], exclude: list[str], day: date | None) -> ListingPublic:
    """One announcement day of the union of `include` minus papers in any of `exclude`."""
    condition = and_(Paper.source == "arxiv", Paper.is_published, Paper.categories.overlap(include))
    if exclude:
        condition = and_(condition, ~Paper.categories.overlap(exclude))
    label = "+".join(include) + "".join(f"-{c}" for c in exclude)
    if day is None:
        day = session.scalar(select(func.max(Paper.announced_date)).where(condition))
    if day is None:
        raise PaperNotFound(f"no papers in {label!r}", hint="check the category, e.g. cs.CL")
    announced = cards_in_order(reads, session.scalars(
        select(Paper.id).where(condition, Paper.announced_date == day).order_by(Paper.public_id)).all())
    replaced = cards_in_order(reads, session.scalars(
        select(Paper.id).where(condition, Paper.updated_date == day, Paper.announced_date < day)
        .order_by(Paper.public_id)).all())
    new = [p.public() for p in announced if p.primary_category in include]
    cross = [p.public() for p in announced if p.primary_category not in include]
    previous_day = session.scalar(select(func.max(Paper.announced_date)).where(condition, Paper.announced_date < day))
    next_day = session.scalar(select(func.min(Paper.announced_date)).where(condition, Paper.announced_date > day))
    return ListingPublic(
        category=label, date=day, previous_date=previous_day, next_date=next_day,
        counts={"new": len(new), "cross_lists": len(cross), "replacements": len(replaced)},
        new=new, cross_lists=cross, replacements=[p.public() for p in replaced],
    )


class VenueYear(BaseModel):
    year: int
    papers: int
    tracks: dict[str, int]


class VenuePublic(BaseModel):
    venue: str
    name: str
    papers: int
    years: list[VenueYear]


@router.get("/venues", response_model=list[VenuePublic])
def venues(session: SessionDep) -> list[VenuePublic]:
    """Every venue with its years and the paper count per track."""
    rows = session.execute(
        select(Paper.venue_slug, Paper.year, Paper.track, func.count())
        .where(Paper.source == "venue", Paper.is_published, Paper.venue_slug.is_not(None))
        .group_by(Paper.venue_slug, Paper.year, Paper.track)
    ).all()
    by_venue: dict[str, dict[int, dict[str, int]]] = {}
    for slug, year, track, count in rows:
        tracks = by_venue.setdefault(slug, {}).setdefault(year, {})
        tracks[track or "unspecified"] = tracks.get(track or "unspecified", 0) + count
    return [
        VenuePublic(
            venue=slug, name=venue_display_name(slug), papers=sum(sum(t.values()) for t in years.values()),
            years=[VenueYear(year=y, papers=sum(t.values()), tracks=dict(sorted(t.items())))
                   for y, t in sorted(years.items(), reverse=True)],
        )
        for slug, years in sorted(by_venue.items())
    ]


class VenueListing(BaseModel):
    venue: str
    name: str
    year: int
    tracks: dict[str, int]
    total: int
    results: list[PaperPublic]


TRACK_ORDER = {"oral": 0, "spotlight": 1, "poster": 2}


@router.get("/venues/{venue}/{year}", response_model=VenueListing)
def venue_year(
    venue: str, year: Annotated[int, Path(ge=1000, le=9999, description="the venue's year")],
    session: SessionDep, reads: ReadsDep,
    track: Annotated[list[str] | None, Query(description="oral, spotlight, poster, ... (any of)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> VenueListing:
    """One venue-year's papers, orals first, then spotlights, posters and other tracks."""
    slug = canonical_venue(venue)
    base = and_(Paper.source == "venue", Paper.is_published, Paper.venue_slug == slug, Paper.year == year)
    counts = dict(session.execute(select(Paper.track, func.count()).where(base).group_by(Paper.track)).all())
    if not counts:
        raise PaperNotFound(f"no papers for {venue} {year}", hint="GET /api/v1/venues lists venues and years")
    condition = base
    if track:
        wanted = [t.lower() for t in track]
        unspecified = [Paper.track.is_(None)] if "unspecified" in wanted else []
        condition = and_(base, or_(Paper.track.in_(wanted), *unspecified))
    rank = case(TRACK_ORDER, value=Paper.track, else_=len(TRACK_ORDER))
    total = session.scalar(select(func.count()).where(condition))
    papers = cards_in_order(reads, session.scalars(
        select(Paper.id).where(condition).order_by(rank, Paper.track, Paper.title).limit(limit).offset(offset)).all())
    return VenueListing(
        venue=slug, name=venue_display_name(slug), year=year, total=total,
        tracks={(t or "unspecified"): n for t, n in sorted(counts.items(), key=lambda kv: TRACK_ORDER.get(kv[0], 9))},
        results=[p.public() for p in papers],
    )
