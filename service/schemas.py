"""Public response models: what the API returns, never a database row."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class TwinPublic(BaseModel):
    """The same paper from the other source: an arXiv preprint's venue paper, or the reverse."""

    id: str
    source: str
    venue: str | None
    year: int | None
    track: str | None
    published: date | None
    updated: date | None
    links: dict[str, str]


class PaperPublic(BaseModel):
    """A paper as the API shows it; `twin` is the same paper from the other source, if known."""

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
    twin: TwinPublic | None = None


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


class FacetValue(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    """Counts over the ranked results (the first 1,000), or over every paper the filters allow
    when browsing without words."""

    category: list[FacetValue]
    venue: list[FacetValue]
    year: list[FacetValue]
    track: list[FacetValue]


class Highlights(BaseModel):
    """Title and abstract, HTML-escaped, with the matched query terms in <mark>…</mark>."""

    title: str
    abstract: str


class Explanation(BaseModel):
    """Why a result ranked where it did."""

    summary: str
    pinned: str | None = None
    lexical_rank: int | None = None
    semantic_rank: int | None = None
    title_rank: int | None = None
    fused_score: float
    matched: dict[str, list[str]]


class SearchResult(BaseModel):
    id: str
    title: str
    authors: list[str]
    abstract: str
    categories: list[str]
    venue: str | None
    year: int | None
    track: str | None
    published: date | None
    links: dict[str, str]
    twin: TwinPublic | None = None
    score: float
    highlights: Highlights
    explain: Explanation | None = None


class SearchBody(BaseModel):
    """POST /api/v1/search: the GET parameters as JSON, for texts too long for a URL (a pasted
    abstract in Chinese is ~9 bytes a character once URL-encoded; servers cap URLs near 64 KB)."""

    q: str = ""
    source: str | None = None
    category: list[str] | None = None
    venue: list[str] | None = None
    track: list[str] | None = None
    year_from: int | None = Field(default=None, ge=1900, le=2200)
    year_to: int | None = Field(default=None, ge=1900, le=2200)
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "relevance"
    mode: str = "hybrid"
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=999)
    explain: bool = False
    translate: bool = True


class SearchResponse(BaseModel):
    query: str
    searched_for: str | None = None  # the English phrase searched for a query in another script
    mode: str
    sort: str
    total: int
    offset: int
    limit: int
    results: list[SearchResult]
    facets: Facets
    took_ms: float
    timings_ms: dict[str, float]
    notices: list[str]


class PaperList(BaseModel):
    """A page of papers."""

    total: int
    results: list[PaperPublic]
