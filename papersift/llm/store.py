"""paper_generations: stored answers, and the claims that make sure one answer is paid for once.

A request that will generate first claims the key (paper, kind, language, prompt version) by
inserting a `generating` row; a second request for the same key finds the claim and waits for the
answer instead of paying for it again. A claim older than STALE_CLAIM (its process died) may be
taken over. A failed generation deletes its claim. An admin's regeneration claims the stored row
itself (it keeps its answer until the new one replaces it; a failed regeneration restores it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from papersift.models import PaperGeneration

STALE_CLAIM = timedelta(minutes=15)


@dataclass(frozen=True)
class Key:
    paper_id: int
    kind: str
    language: str
    prompt_version: int

    def where(self):
        return ((PaperGeneration.paper_id == self.paper_id) & (PaperGeneration.kind == self.kind)
                & (PaperGeneration.language == self.language)
                & (PaperGeneration.prompt_version == self.prompt_version))


@dataclass(frozen=True)
class Stored:
    """A stored answer."""

    kind: str
    language: str
    model: str
    prompt_version: int
    content: str
    input_note: str
    created_at: datetime


def _stored(row: PaperGeneration) -> Stored:
    return Stored(kind=row.kind, language=row.language, model=row.model, prompt_version=row.prompt_version,
                  content=row.content, input_note=row.input_note, created_at=row.finished_at)


def find_stored(session: Session, key: Key) -> Stored | None:
    """The stored answer for the key, or None (also while it is being generated)."""
    row = session.scalar(select(PaperGeneration).where(key.where(), PaperGeneration.status == "done"))
    return _stored(row) if row else None


def claim(engine: Engine, key: Key, *, model: str, replace: bool = False) -> int | None:
    """Claim the key for generating; the claim's id, or None when an answer is stored (unless
    `replace`) or another live request is generating it."""
    with engine.begin() as connection:
        if replace:
            claimed = connection.scalar(
                update(PaperGeneration).where(key.where(), PaperGeneration.status == "done")
                .values(status="generating", started_at=datetime.now().astimezone()).returning(PaperGeneration.id))
            if claimed is not None:
                return claimed
        claimed = connection.scalar(
            insert(PaperGeneration).values(paper_id=key.paper_id, kind=key.kind, language=key.language,
                                           prompt_version=key.prompt_version, model=model)
            .on_conflict_do_nothing(constraint="uq_paper_generations_key").returning(PaperGeneration.id))
        if claimed is not None:
            return claimed
        return connection.scalar(  # take over a claim its process left behind
            update(PaperGeneration)
            .where(key.where(), PaperGeneration.status == "generating",
                   PaperGeneration.started_at < datetime.now().astimezone() - STALE_CLAIM)
            .values(started_at=datetime.now().astimezone(), model=model).returning(PaperGeneration.id))


def is_claimed(session: Session, key: Key) -> bool:
    """True while a request is generating the key's answer."""
    return session.scalar(select(PaperGeneration.id).where(key.where(), PaperGeneration.status == "generating")) \
        is not None


def complete(engine: Engine, claim_id: int, *, content: str, model: str, input_note: str) -> None:
    """Store the answer of a claim."""
    with engine.begin() as connection:
        connection.execute(update(PaperGeneration).where(PaperGeneration.id == claim_id).values(
            status="done", content=content, model=model, input_note=input_note,
            finished_at=datetime.now().astimezone()))


def release(engine: Engine, claim_id: int) -> None:
    """Give up a claim (the generation failed): the next request generates again. A claim on a
    stored answer (a regeneration) gives the answer back."""
    claimed = (PaperGeneration.id == claim_id) & (PaperGeneration.status == "generating")
    with engine.begin() as connection:
        connection.execute(delete(PaperGeneration).where(claimed, PaperGeneration.finished_at.is_(None)))
        connection.execute(update(PaperGeneration).where(claimed, PaperGeneration.finished_at.is_not(None))
                           .values(status="done"))
