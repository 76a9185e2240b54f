"""Search filters: one value object, applied in three places that must agree — the keyword index
(tantivy clauses), the in-memory filter columns (a boolean mask for vector search and facets),
and PostgreSQL (browse mode). Within a kind values are alternatives; kinds combine with AND."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from papersift.errors import InvalidQuery
from papersift.venues import canonical_venue

SOURCES = ("arxiv", "venue")


@dataclass(frozen=True)
class Filters:
    source: str | None = None
    categories: tuple[str, ...] = ()
    venues: tuple[str, ...] = ()
    tracks: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    date_from: date | None = None
    date_to: date | None = None

    @property
    def active(self) -> bool:
        return bool(self.source or self.categories or self.venues or self.tracks
                    or self.year_from is not None or self.year_to is not None
                    or self.date_from or self.date_to)

    def narrowed_by(self, *, categories=(), venues=(), year_from=None, year_to=None) -> Filters:
        """These filters AND the query's own cat:/venue:/year: filters."""
        merged = self
        if categories:
            if self.categories and not set(categories) & set(self.categories):
                raise InvalidQuery("the query's cat: and the category filter exclude each other",
                                   hint="use one of them")
            merged = replace(merged, categories=tuple(sorted(set(categories) & set(self.categories)
                                                             if self.categories else set(categories))))
        if venues:
            wanted = {canonical_venue(v) for v in venues}
            if self.venues and not wanted & set(self.venues):
                raise InvalidQuery("the query's venue: and the venue filter exclude each other",
                                   hint="use one of them")
            merged = replace(merged, venues=tuple(sorted(wanted & set(self.venues) if self.venues else wanted)))
        if year_from is not None:
            merged = replace(merged, year_from=max(year_from, merged.year_from or year_from))
        if year_to is not None:
            merged = replace(merged, year_to=min(year_to, merged.year_to or year_to))
        return merged


def make_filters(*, source: str | None = None, category: list[str] | None = None,
                 venue: list[str] | None = None, track: list[str] | None = None,
                 year_from: int | None = None, year_to: int | None = None,
                 date_from: date | None = None, date_to: date | None = None) -> Filters:
    """Validate request parameters into Filters (InvalidQuery says what to change)."""
    if source is not None and source not in SOURCES:
        raise InvalidQuery(f"source={source!r} is not one of {', '.join(SOURCES)}",
                           hint="use source=arxiv or source=venue, or leave it out")
    if year_from is not None and year_to is not None and year_from > year_to:
        raise InvalidQuery(f"year_from={year_from} is after year_to={year_to}", hint="swap them")
    if date_from and date_to and date_from > date_to:
        raise InvalidQuery(f"date_from={date_from} is after date_to={date_to}", hint="swap them")
    return Filters(
        source=source,
        categories=tuple(sorted({c.strip() for c in category or () if c.strip()})),
        venues=tuple(sorted({canonical_venue(v) for v in venue or () if v.strip()})),
        tracks=tuple(sorted({t.strip().lower() for t in track or () if t.strip()})),
        year_from=year_from, year_to=year_to, date_from=date_from, date_to=date_to,
    )
