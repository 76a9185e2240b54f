"""The papers of a period and which of them each subscription takes.

A period's papers: arXiv papers announced in it, and for a weekly period also venue papers added
to papersift in it. A category subscription takes those listed in its expression (as
/arxiv/{expression} lists them); a venue subscription the venue's papers; a saved search the
papers its keyword search finds (the catalog's first 1,000 matches; arXiv ones published from 60
days before the period).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from papersift.digest.periods import Period
from papersift.models import Paper
from papersift.settings import Settings
from papersift.venues import canonical_venue

SEARCH_PUBLISHED_SLACK = timedelta(days=60)


@dataclass
class PeriodPapers:
    """The period's papers, newest first, as parallel lists (position = the paper's index)."""

    ids: np.ndarray
    public_ids: list[str]
    titles: list[str]
    authors: list[list[str]]
    abstracts: list[str]
    categories: list[list[str]]
    venues: list[str | None]
    years: list[int | None]
    position: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.position = {int(paper_id): i for i, paper_id in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)


def load_period_papers(session: Session, period: Period) -> PeriodPapers:
    """The published papers of `period`, newest first."""
    arxiv = and_(Paper.source == "arxiv", Paper.announced_date.between(period.first_day, period.last_day))
    condition = arxiv
    if period.cadence == "weekly":
        added = func.date(func.timezone("UTC", Paper.created_at))
        condition = or_(arxiv, and_(Paper.source == "venue", added.between(period.first_day, period.last_day)))
    newest = case((Paper.source == "arxiv", Paper.announced_date), else_=func.date(Paper.created_at))
    rows = session.execute(
        select(Paper.id, Paper.public_id, Paper.title, Paper.authors, Paper.abstract, Paper.categories,
               Paper.venue_slug, Paper.year)
        .where(Paper.is_published, condition).order_by(newest.desc(), Paper.public_id)).all()
    return PeriodPapers(np.asarray([r.id for r in rows], np.int64), [r.public_id for r in rows],
                        [r.title for r in rows], [r.authors for r in rows], [r.abstract for r in rows],
                        [r.categories for r in rows], [r.venue_slug for r in rows], [r.year for r in rows])


class SubscriptionMatcher:
    """Positions of the period's papers that a subscription takes; each distinct subscription is
    worked out once per run (many readers share them)."""

    def __init__(self, settings: Settings, papers: PeriodPapers, period: Period) -> None:
        self.settings = settings
        self.papers = papers
        self.period = period
        self._cache: dict[tuple, np.ndarray] = {}
        self._search_engine = None

    def positions(self, kind: str, expression: str, filters: dict[str, Any]) -> np.ndarray:
        key = (kind, expression, tuple(sorted((k, str(v)) for k, v in filters.items())))
        if key not in self._cache:
            match = {"category": self._category, "venue": self._venue, "search": self._search}[kind]
            self._cache[key] = np.asarray(match(expression, filters), np.int64)
        return self._cache[key]

    def _category(self, expression: str, _filters: dict) -> list[int]:
        from service.api.browse import parse_category_expression

        include, exclude = map(set, parse_category_expression(expression))
        return [i for i, categories in enumerate(self.papers.categories)
                if include.intersection(categories) and not exclude.intersection(categories)]

    def _venue(self, expression: str, _filters: dict) -> list[int]:
        slug = canonical_venue(expression)
        return [i for i, venue in enumerate(self.papers.venues) if venue == slug]

    def _search(self, expression: str, filters: dict) -> list[int]:
        from service.search.engine import MAX_RESULTS, SearchRequest
        from service.search.filters import make_filters

        base = make_filters(**filters)
        since = self.period.first_day - SEARCH_PUBLISHED_SLACK
        narrowed = [("arxiv", {"date_from": max(since, base.date_from or date.min)})]
        if self.period.cadence == "weekly":
            narrowed.append(("venue", {}))
        found: set[int] = set()
        for source, extra in narrowed:
            if base.source not in (None, source):
                continue
            request = SearchRequest(q=expression, filters=replace(base, source=source, **extra),
                                    mode="keyword", sort="newest", limit=MAX_RESULTS)
            found.update(int(r.id) for r in self._engine().search(request).results)
        return sorted(self.papers.position[i] for i in found if i in self.papers.position)

    def _engine(self):
        """A keyword-only search engine over the published catalog, loaded on first use."""
        if self._search_engine is None:
            from service.search.catalog import load_catalog
            from service.search.engine import SearchEngine

            self._search_engine = SearchEngine(load_catalog(self.settings.search_dir), None, None)
        return self._search_engine

