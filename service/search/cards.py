"""Result cards: the fields a result, a related paper or a listing shows, read in one round trip
by primary key (with the twin from the other source joined in) through the read pool, without the
ORM's weight or the columns no page shows (raw text, versions, hashes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from service.reads import ReadPool
from service.schemas import PaperPublic, TwinPublic

_COLUMNS = ("id", "public_id", "source", "title", "authors", "abstract", "categories",
            "primary_category", "venue", "venue_slug", "year", "track", "published_date",
            "updated_date", "announced_date", "links", "doi", "journal_ref", "comments",
            "is_published", "twin_id")
_TWIN_COLUMNS = ("public_id", "source", "venue", "year", "track", "published_date", "updated_date",
                 "links", "categories", "is_published")
CARDS_SQL = (
    "SELECT " + ", ".join(f"p.{c}" for c in _COLUMNS) + ", "
    + ", ".join(f"t.{c} AS twin_{c}" for c in _TWIN_COLUMNS)
    + " FROM papers AS p LEFT JOIN papers AS t ON t.id = p.twin_id WHERE p.id = ANY(%s::bigint[])"
)


@dataclass(frozen=True, slots=True)
class Twin:
    public_id: str
    source: str
    venue: str | None
    year: int | None
    track: str | None
    published_date: date | None
    updated_date: date | None
    links: dict
    categories: list[str]
    is_published: bool


@dataclass(frozen=True, slots=True)
class Card:
    """One paper as pages and the API show it."""

    id: int
    public_id: str
    source: str
    title: str
    authors: list[str]
    abstract: str
    categories: list[str]
    primary_category: str | None
    venue: str | None
    venue_slug: str | None
    year: int | None
    track: str | None
    published_date: date | None
    updated_date: date | None
    announced_date: date | None
    links: dict
    doi: str | None
    journal_ref: str | None
    comments: str | None
    is_published: bool
    twin_id: int | None
    twin: Twin | None

    @property
    def searchable(self) -> bool:
        """A search entry of its own: published, and not a preprint its venue twin stands for."""
        return self.is_published and not (self.source == "arxiv" and self.twin_id is not None)

    def twin_public(self) -> TwinPublic | None:
        twin = self.twin
        if twin is None or not twin.is_published:
            return None
        return TwinPublic(id=twin.public_id, source=twin.source, venue=twin.venue, year=twin.year,
                          track=twin.track, published=twin.published_date, updated=twin.updated_date,
                          links=twin.links)

    def all_categories(self) -> list[str]:
        """The paper's categories, with its arXiv twin's (a venue paper has none of its own)."""
        extra = [c for c in (self.twin.categories if self.twin is not None else []) if c not in self.categories]
        return self.categories + extra

    def first_date(self) -> date | None:
        """When the paper first appeared: its own date, or its twin's when that is earlier."""
        own = self.published_date or self.announced_date
        twin_date = self.twin.published_date if self.twin is not None else None
        return min(d for d in (own, twin_date) if d) if (own or twin_date) else None

    def display_year(self) -> int | None:
        return self.year or getattr(self.published_date or self.announced_date, "year", None)

    def public(self, model: type[PaperPublic] = PaperPublic, **extra) -> PaperPublic:
        """The API's view of the paper (`model` a PaperPublic subclass given its `extra` fields)."""
        return model(
            twin=self.twin_public(), id=self.public_id, source=self.source, title=self.title,
            authors=self.authors, abstract=self.abstract, categories=self.categories,
            primary_category=self.primary_category, venue=self.venue, year=self.year,
            track=self.track, published=self.published_date, updated=self.updated_date,
            links=self.links, doi=self.doi, journal_ref=self.journal_ref, comments=self.comments,
            **extra,
        )


def load_cards(reads: ReadPool, ids) -> dict[int, Card]:
    """Cards of the given paper ids that exist, by id (one query)."""
    ids = [int(i) for i in ids]
    if not ids:
        return {}
    rows = reads.rows(CARDS_SQL, (ids,))
    width = len(_COLUMNS)
    cards = {}
    for row in rows:
        twin = Twin(*row[width:]) if row[width] is not None else None
        cards[row[0]] = Card(*row[:width], twin=twin)
    return cards


def cards_in_order(reads: ReadPool, ids) -> list[Card]:
    """Cards of the given ids in the given order (ids that no longer exist are left out)."""
    ids = list(ids)
    cards = load_cards(reads, ids)
    return [cards[i] for i in ids if i in cards]
