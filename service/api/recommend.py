"""POST /api/v1/recommend: papers like the given ones (and unlike the "not interested" ones)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select

from papersift.errors import InvalidQuery
from papersift.ids import parse_public_id
from papersift.models import Paper
from service.deps import IndexDep, ReadsDep, SessionDep
from service.search.cards import load_cards
from service.schemas import RelatedPaperPublic
from service.search.filters import make_filters
from service.search.recommend import recommend

router = APIRouter(prefix="/api/v1", tags=["recommendations"])


# A paper id as a user may paste it: a public id, a bare arXiv id or a URL (text, no NUL).
PaperRef = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"^[^\x00]+$")]


class RecommendRequest(BaseModel):
    """Paper ids (public ids, bare arXiv ids or URLs) liked and disliked, and optional filters."""

    positive: Annotated[list[PaperRef], Field(min_length=1, max_length=500)]
    negative: Annotated[list[PaperRef], Field(max_length=500)] = []
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    source: str | None = None
    category: list[str] | None = None
    venue: list[str] | None = None
    year_from: int | None = None
    year_to: int | None = None
    date_from: date | None = None
    date_to: date | None = None

    model_config = {"json_schema_extra": {"examples": [
        {"positive": ["arxiv:2503.11731"], "negative": [], "limit": 10, "category": ["cs.CL"]}]}}


class RecommendResponse(BaseModel):
    results: list[RelatedPaperPublic]
    unknown: list[str]


@router.post("/recommend", response_model=RecommendResponse)
def recommend_papers(body: RecommendRequest, request: Request, session: SessionDep, reads: ReadsDep,
                     holder: IndexDep) -> RecommendResponse:
    """Ranked papers for "more like my starred papers"."""
    index = holder.current()
    wanted = {raw: parse_public_id(raw) or raw for raw in body.positive + body.negative}
    rows = dict(session.execute(select(Paper.public_id, Paper.id).where(
        Paper.public_id.in_(set(wanted.values())))).all())
    unknown = [raw for raw, public_id in wanted.items() if public_id not in rows]
    positive = [rows[wanted[raw]] for raw in body.positive if wanted[raw] in rows]
    negative = [rows[wanted[raw]] for raw in body.negative if wanted[raw] in rows]
    if not positive:
        raise InvalidQuery("none of the positive ids is a known paper", hint="send ids like arxiv:2503.11731")
    filters = make_filters(source=body.source, category=body.category, venue=body.venue,
                           year_from=body.year_from, year_to=body.year_to, date_from=body.date_from,
                           date_to=body.date_to)
    allowed = None
    if filters.active:
        catalog = request.app.state.search.catalog.current()
        allowed = catalog.ids[catalog.mask(filters)]
    ranked = recommend(index, positive, negative, limit=body.limit, allowed_ids=allowed)
    given = set(positive + negative)
    cards = load_cards(reads, [i for i, _ in ranked])
    results = [cards[i].public(RelatedPaperPublic, score=s) for i, s in ranked
               if i in cards and cards[i].searchable and cards[i].twin_id not in given]
    return RecommendResponse(results=results, unknown=unknown)
