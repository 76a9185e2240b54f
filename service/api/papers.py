"""/api/v1/papers: one paper by its public id; corpus statistics."""

from __future__ import annotations

from typing import Annotated, NamedTuple

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import func, select

from papersift.errors import IndexNotReady, PaperNotFound
from papersift.ids import parse_public_id
from papersift.models import Paper
from service.deps import IndexDep, ReadsDep, SessionDep
from service.reads import ReadPool
from service.search.cards import load_cards
from service.schemas import (
    PaperPublic,
    RelatedPaperPublic,
    RelatedPublic,
    SourceCount,
    StatsPublic,
    TwinPublic,
)

router = APIRouter(prefix="/api/v1", tags=["papers"])
RELATED_SPARE = 3  # cards read past the wanted number of related papers


def twin_public(paper: Paper) -> TwinPublic | None:
    """The paper's twin from the other source, as the API shows it (None when not linked)."""
    twin = paper.twin
    if twin is None or not twin.is_published:
        return None
    return TwinPublic(id=twin.public_id, source=twin.source, venue=twin.venue, year=twin.year,
                      track=twin.track, published=twin.published_date, updated=twin.updated_date,
                      links=twin.links)


def to_public(paper: Paper) -> PaperPublic:
    """The API's view of a paper, with its twin from the other source when linked."""
    return PaperPublic(
        twin=twin_public(paper),
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


def find_paper(session, paper_id: str) -> Paper:
    """The paper with this public id, bare arXiv id or URL; PaperNotFound otherwise."""
    return _one(session, select(Paper), paper_id)


class PaperKey(NamedTuple):
    id: int
    public_id: str
    twin_id: int | None


def find_paper_key(reads: ReadPool, paper_id: str) -> PaperKey:
    """(id, public_id, twin_id) of the paper with this public id, bare arXiv id or URL (one round trip)."""
    public_id = _public_id(paper_id)
    rows = reads.rows("SELECT id, public_id, twin_id FROM papers WHERE public_id = %s", (public_id,))
    if not rows:
        raise _not_found(paper_id)
    return PaperKey(*rows[0])


def _one(session, statement, paper_id: str):
    """`statement` for the paper `paper_id` names (a public id, bare arXiv id or URL), or PaperNotFound."""
    found = session.scalar(statement.where(Paper.public_id == _public_id(paper_id)))
    if found is None:
        raise _not_found(paper_id)
    return found


def _public_id(paper_id: str) -> str:
    """The public id a paper reference names (a text PostgreSQL cannot hold names none)."""
    public_id = parse_public_id(paper_id) or paper_id
    if "\x00" in public_id:
        raise _not_found(paper_id)
    return public_id


def _not_found(paper_id: str) -> PaperNotFound:
    return PaperNotFound(f"no paper with id {paper_id!r}", hint="ids look like arxiv:2503.11731 or openreview:<forum id>")


@router.get("/papers/{paper_id:path}/related", response_model=RelatedPublic)
def get_related(
    paper_id: str, reads: ReadsDep, holder: IndexDep,
    limit: Annotated[int, Query(ge=1, le=100, description="how many papers")] = 10,
) -> RelatedPublic:
    """The papers nearest to this one in meaning (published papers only, itself excluded)."""
    paper = find_paper_key(reads, paper_id)
    related = RelatedPublic(id=paper.public_id, results=nearest_papers(reads, holder.current(), paper, limit=limit))
    return Response(related.model_dump_json(), media_type="application/json")  # built valid: no second pass


def nearest_papers(reads: ReadPool, index, paper, *, limit: int) -> list[RelatedPaperPublic]:
    """The `limit` published papers nearest to `paper` (anything with id, public_id and twin_id)
    in the vector index, read as lean cards."""
    vector = index.reconstruct(paper.id)
    if vector is None:
        raise IndexNotReady(f"{paper.public_id} is not in the index yet", hint="run: papersift index")
    scores, ids = index.search(vector, limit + 10)
    ranked = [(int(i), float(s)) for i, s in zip(ids.tolist(), scores.tolist())
              if i >= 0 and i not in (paper.id, paper.twin_id)]
    # The cards of the first few past `limit` are read (each row costs ~50 µs); the rest only when
    # some of those are not shown (a preprint its venue twin stands for, one unpublished meanwhile).
    first = limit + RELATED_SPARE
    cards = load_cards(reads, [i for i, _ in ranked[:first]])
    shown = [i for i, _ in ranked[:first] if i in cards and cards[i].searchable]
    if len(shown) < limit and len(ranked) > first:
        cards.update(load_cards(reads, [i for i, _ in ranked[first:]]))
    return [cards[i].public(RelatedPaperPublic, score=round(s, 4))
            for i, s in ranked if i in cards and cards[i].searchable][:limit]


@router.get("/papers/{paper_id:path}/bibtex", response_class=PlainTextResponse)
def get_bibtex(paper_id: str, session: SessionDep) -> str:
    """The paper's BibTeX entry."""
    from service.web.render import bibtex

    return bibtex(to_public(find_paper(session, paper_id)))


@router.get("/papers/{paper_id:path}", response_model=PaperPublic)
def get_paper(paper_id: str, session: SessionDep) -> PaperPublic:
    """A paper by public id (`arxiv:2503.11731`), bare arXiv id, or arXiv / OpenReview URL."""
    return to_public(find_paper(session, paper_id))


@router.get("/stats", response_model=StatsPublic)
def get_stats(session: SessionDep) -> StatsPublic:
    """Paper counts per source (published papers only)."""
    rows = session.execute(
        select(Paper.source, func.count()).where(Paper.is_published).group_by(Paper.source)
        .order_by(Paper.source)
    ).all()
    sources = [SourceCount(source=source, papers=count) for source, count in rows]
    return StatsPublic(total=sum(s.papers for s in sources), sources=sources)
