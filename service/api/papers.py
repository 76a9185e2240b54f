"""/api/v1/papers: one paper by its public id; corpus statistics."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from papersift.errors import PaperNotFound
from papersift.ids import parse_public_id
from papersift.models import Paper
from service.deps import SessionDep
from service.schemas import PaperPublic, SourceCount, StatsPublic

router = APIRouter(prefix="/api/v1", tags=["papers"])


def to_public(paper: Paper) -> PaperPublic:
    return PaperPublic(
        id=paper.public_id,
        source=paper.source,
        title=paper.title,
        authors=paper.authors,
        abstract=paper.abstract,
        categories=paper.categories,
        primary_category=paper.primary_category,
        venue=paper.venue,
        year=paper.year,
        track=paper.track,
        published=paper.published_date,
        updated=paper.updated_date,
        links=paper.links,
        doi=paper.doi,
        journal_ref=paper.journal_ref,
        comments=paper.comments,
    )


@router.get("/papers/{paper_id:path}", response_model=PaperPublic)
def get_paper(paper_id: str, session: SessionDep) -> PaperPublic:
    """A paper by public id (`arxiv:2503.11731`), bare arXiv id, or arXiv / OpenReview URL."""
    public_id = parse_public_id(paper_id) or paper_id
    paper = session.scalar(select(Paper).where(Paper.public_id == public_id))
    if paper is None:
        raise PaperNotFound(f"no paper with id {paper_id!r}",
                            hint="ids look like arxiv:2503.11731 or openreview:<forum id>")
    return to_public(paper)


@router.get("/stats", response_model=StatsPublic)
def get_stats(session: SessionDep) -> StatsPublic:
    """Paper counts per source (published papers only)."""
    rows = session.execute(
        select(Paper.source, func.count()).where(Paper.is_published).group_by(Paper.source)
        .order_by(Paper.source)
    ).all()
    sources = [SourceCount(source=source, papers=count) for source, count in rows]
    return StatsPublic(total=sum(s.papers for s in sources), sources=sources)
