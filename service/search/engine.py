"""Hybrid search: parse → candidates (BM25, exact and typo-tolerant titles, vectors) → fusion →
one ranked page with facets, timings and, on request, why each paper ranked where it did.

Modes: `keyword` (BM25 only), `semantic` (vectors only), `hybrid` (both, fused). A query with no
words browses: newest first within the filters. Required clauses (phrases, fields, OR, exclusions)
bind every mode: in hybrid mode the vectors then re-rank the keyword matches instead of adding
papers that lack a required term.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from papersift.errors import InvalidQuery
from papersift.vector_index import LoadedIndex
from service.search.catalog import LoadedCatalog
from service.search.filters import Filters
from service.search.fusion import DEFAULT_WEIGHTS, FusedArrays, FusionWeights, fuse_arrays, ranks_in
from service.search.lexical import exact_title, fuzzy_title, keyword_query, search_keyword
from service.search.query_language import ParsedQuery, parse_query
from service.search.semantic import QueryEncoder, search_vectors

MODES = ("hybrid", "keyword", "semantic")
SORTS = ("relevance", "newest")
MAX_RESULTS = 1000  # how deep a query can be paged; facets count these
LEXICAL_CANDIDATES = 200
SEMANTIC_CANDIDATES = 200
TITLE_CANDIDATES = 20


@dataclass
class SearchRequest:
    q: str = ""
    filters: Filters = field(default_factory=Filters)
    mode: str = "hybrid"
    sort: str = "relevance"
    limit: int = 20
    offset: int = 0


@dataclass
class RankedPaper:
    id: int
    score: float
    ranks: dict[str, int] = field(default_factory=dict)  # lexical / semantic / title / exact / id
    pinned: str | None = None  # "id" | "exact title"


@dataclass
class SearchOutcome:
    parsed: ParsedQuery
    total: int
    results: list[RankedPaper]
    facets: dict[str, list[dict]]
    timings: dict[str, float]
    notices: list[str] = field(default_factory=list)
    browse: bool = False


class SearchEngine:
    """Runs searches over one catalog and (optionally) one vector index."""

    def __init__(self, catalog: LoadedCatalog, index: LoadedIndex | None, encoder: QueryEncoder | None,
                 *, weights: FusionWeights = DEFAULT_WEIGHTS) -> None:
        self.catalog = catalog
        self.index = index
        self.encoder = encoder
        self.weights = weights

    @property
    def generations(self) -> tuple[int, int | None]:
        """(catalog, vector index) generations this engine searches: part of every cache key."""
        return self.catalog.generation, self.index.manifest.generation if self.index is not None else None

    def search(self, request: SearchRequest, *,
               resolve_ids: Callable[[list[str]], dict[str, int]] = lambda ids: {}) -> SearchOutcome:
        timings: dict[str, float] = {}
        clock = _Clock(timings)
        _check(request)
        parsed = parse_query(request.q)
        filters = request.filters.narrowed_by(categories=parsed.categories, venues=parsed.venues,
                                              year_from=parsed.year_from, year_to=parsed.year_to)
        clock.lap("parse")
        notices: list[str] = []
        pinned = self._pinned(parsed, resolve_ids, notices)
        if not parsed.has_text and not parsed.excluded:
            outcome = self._browse(parsed, filters, request, pinned, clock)
        else:
            outcome = self._rank(parsed, filters, request, pinned, clock)
        outcome.notices = notices
        return outcome

    # -- browsing -------------------------------------------------------------------------------
    def _browse(self, parsed, filters, request, pinned, clock) -> SearchOutcome:
        """No words: the filtered papers, newest first."""
        mask = self.catalog.mask(filters)
        rows = np.flatnonzero(mask) if mask is not None else np.arange(self.catalog.count)
        depth = min(request.offset + request.limit, len(rows))
        dates = self.catalog.published[rows]
        if depth < len(rows):
            top = np.argpartition(-dates, depth - 1)[:depth] if depth else np.empty(0, np.int64)
        else:
            top = np.arange(len(rows))
        top = top[np.lexsort((-self.catalog.ids[rows[top]], -dates[top]))]
        ranked = [RankedPaper(id=paper_id, score=1.0, pinned="id") for paper_id in pinned]
        ranked += [RankedPaper(id=int(self.catalog.ids[r]), score=0.0) for r in rows[top]
                   if int(self.catalog.ids[r]) not in pinned]
        clock.lap("browse")
        facets = self.catalog.facets(rows)
        clock.lap("facets")
        page = ranked[request.offset:request.offset + request.limit]
        return SearchOutcome(parsed, len(rows) + len(pinned), page, facets, clock.timings, browse=True)

    # -- ranking --------------------------------------------------------------------------------
    def _rank(self, parsed: ParsedQuery, filters: Filters, request: SearchRequest, pinned: list[int],
              clock) -> SearchOutcome:
        mode = request.mode
        lists: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        total = 0
        vector_ready = None
        if mode != "keyword" and parsed.semantic_text and self.index is not None and self.encoder is not None:
            vector_ready = self.encoder.start(parsed.semantic_text)  # encodes while the keyword stages run
        query = keyword_query(self.catalog, parsed, filters)
        bound = bool(parsed.required or parsed.excluded)  # required clauses bind every mode
        lexical_ids = np.empty(0, np.int64)
        if query is not None and (mode != "semantic" or bound):
            depth = MAX_RESULTS if mode == "keyword" or bound else LEXICAL_CANDIDATES
            hits = search_keyword(self.catalog, query, limit=depth, count=mode == "keyword")
            lexical_ids, total = hits.ids, hits.total
            if mode != "semantic":
                lists["lexical"] = (hits.ids, hits.scores)
        clock.lap("lexical")
        exact = np.empty(0, np.int64)
        if mode != "semantic" and parsed.words and not parsed.required:
            exact = exact_title(self.catalog, " ".join(t.text for t in parsed.words), filters)
            if not len(exact) and len(parsed.words) >= 3 and not parsed.long_text:
                fuzzy = fuzzy_title(self.catalog, parsed, filters, limit=TITLE_CANDIDATES)
                lists["title"] = (fuzzy.ids, fuzzy.scores)
        clock.lap("title")
        vector = None
        if vector_ready is not None:
            vector = vector_ready()
            clock.lap("encode")  # the wait for the vector begun before the keyword stages
            lists["semantic"] = self._semantic(vector, filters, lexical_ids if bound else None)
            clock.lap("vector")
        if mode == "semantic":
            lists.pop("title", None)
        semantic_of = None
        if vector is not None:
            semantic_of = lambda ids: self._cosines(vector, ids)  # noqa: E731
        fused = fuse_arrays(lists, self.weights, semantic_of)
        ranked_ids, scores, pins = self._with_pins(pinned, exact, fused)
        if request.sort == "newest":
            order = self._newest_order(ranked_ids, pins)
            ranked_ids, scores, pins = ranked_ids[order], scores[order], [pins[i] for i in order]
        clock.lap("fuse")
        if mode == "keyword" and query is not None:
            total = max(total, len(ranked_ids))
        else:
            total = len(ranked_ids)
        facets = self.catalog.facets(self.catalog.rows_of(ranked_ids))
        clock.lap("facets")
        window = slice(request.offset, request.offset + request.limit)
        page = [self._ranked_paper(int(i), float(s), pin, lists, exact)
                for i, s, pin in zip(ranked_ids[window], scores[window], pins[window])]
        return SearchOutcome(parsed, total, page, facets, clock.timings)

    def _semantic(self, vector: np.ndarray, filters: Filters, within: np.ndarray | None):
        """(ids, cosines) of the nearest papers within the filters (or within `within`)."""
        if within is not None:
            allowed = within
        else:
            mask = self.catalog.mask(filters)
            allowed = None if mask is None else self.catalog.ids[mask]
        ids, scores = search_vectors(self.index, vector, SEMANTIC_CANDIDATES, allowed)
        if allowed is None:  # the index also holds papers that are no entry of their own (twins)
            entries = self.catalog.rows_of(ids) >= 0
            ids, scores = ids[entries], scores[entries]
        return ids, scores

    def _cosines(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact cosine of each id (papers without a vector get -1)."""
        found, matrix = self.index.vectors_of(ids)
        cosines = np.full(len(ids), -1.0)
        cosines[np.isin(ids, found)] = (matrix @ vector).astype(np.float64)
        return cosines

    @staticmethod
    def _with_pins(pinned: list[int], exact: np.ndarray, fused: FusedArrays):
        """(ids, scores, pin of each) of the whole ranking, at most MAX_RESULTS: papers asked for
        by id, then exact titles, then the fused list without them."""
        pins: list[str | None] = ["id"] * len(pinned)
        head = list(pinned)
        for paper_id in exact.tolist():
            if paper_id not in head:
                head.append(paper_id)
                pins.append("exact title")
        rest, rest_scores = fused.ids, fused.scores
        if head:
            keep = ~np.isin(fused.ids, head)
            rest, rest_scores = rest[keep], rest_scores[keep]
        ids = np.concatenate([np.asarray(head, np.int64), rest])[:MAX_RESULTS]
        scores = np.concatenate([np.ones(len(head)), rest_scores])[:MAX_RESULTS]
        pins += [None] * (len(ids) - len(pins))
        return ids, scores, pins[:len(ids)]

    @staticmethod
    def _ranked_paper(paper_id: int, score: float, pin: str | None, lists, exact: np.ndarray) -> RankedPaper:
        """One paper of the page, with its rank in each list (only the page's papers need them)."""
        if pin == "id":
            return RankedPaper(id=paper_id, score=1.0, pinned="id", ranks={"id": 1})
        if pin == "exact title":
            rank = int(np.flatnonzero(exact == paper_id)[0]) + 1
            return RankedPaper(id=paper_id, score=1.0, pinned=pin, ranks={"exact": rank})
        return RankedPaper(id=paper_id, score=round(score, 6), ranks=ranks_in(lists, paper_id))

    def _newest_order(self, ids: np.ndarray, pins: list[str | None]) -> np.ndarray:
        """Pinned papers first, then newest first (ties: higher id first)."""
        rows = self.catalog.rows_of(ids)
        dates = np.where(rows >= 0, self.catalog.published[rows], -1)
        unpinned = np.asarray([pin is None for pin in pins], dtype=bool)
        return np.lexsort((-ids, -dates, unpinned))

    def _pinned(self, parsed: ParsedQuery, resolve_ids, notices: list[str]) -> list[int]:
        if not parsed.ids:
            return []
        found = resolve_ids(parsed.ids)
        for public_id in parsed.ids:
            if public_id not in found:
                notices.append(f"{public_id} is not indexed by papersift yet")
        return [found[p] for p in parsed.ids if p in found]


def _check(request: SearchRequest) -> None:
    if request.mode not in MODES:
        raise InvalidQuery(f"mode={request.mode!r} is not one of {', '.join(MODES)}", hint="use mode=hybrid")
    if request.sort not in SORTS:
        raise InvalidQuery(f"sort={request.sort!r} is not one of {', '.join(SORTS)}", hint="use sort=relevance")
    if request.offset + request.limit > MAX_RESULTS:
        raise InvalidQuery(f"offset {request.offset} + limit {request.limit} goes past the first "
                           f"{MAX_RESULTS:,} results", hint="narrow the query or add filters instead of paging deeper")


class _Clock:
    """Milliseconds per stage."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(self.timings.get(stage, 0.0) + (now - self._last) * 1000, 3)
        self._last = now
