"""Public response models: what the API returns, never a database row."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel


class PaperPublic(BaseModel):
    """A paper as the API shows it."""

    id: str
    source: str
    title: str
    authors: list[str]
    abstract: str
    categories: list[str]
    primary_category: str | None
    venue: str | None
    year: int | None
    track: str | None
    published: date | None
    updated: date | None
    links: dict[str, str]
    doi: str | None
    journal_ref: str | None
    comments: str | None


class SourceCount(BaseModel):
    source: str
    papers: int


class StatsPublic(BaseModel):
    """How many papers each source holds."""

    total: int
    sources: list[SourceCount]


class RelatedPaperPublic(PaperPublic):
    """A related paper with its similarity (cosine, 1 is identical)."""

    score: float


class RelatedPublic(BaseModel):
    """Papers nearest in meaning to `id`."""

    id: str
    results: list[RelatedPaperPublic]
