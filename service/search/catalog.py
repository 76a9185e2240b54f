"""The loaded search catalog: the tantivy keyword index plus the filter columns, both of one
published generation. Filter masks and facet counts are numpy operations over the columns."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import tantivy

from indexer.catalog_columns import EPOCH, load_columns
from indexer.lexical import read_catalog_manifest
from papersift.errors import IndexNotReady
from papersift.lexical_schema import register_analyzers
from service.index_holder import PublishedHolder
from service.search.filters import Filters

FACET_SIZE = 20


@dataclass
class LoadedCatalog:
    generation: int
    index: tantivy.Index
    searcher: tantivy.Searcher
    ids: np.ndarray  # ascending paper ids
    year: np.ndarray
    published: np.ndarray  # days since 1970, -1 unknown
    source: np.ndarray  # 0 arxiv, 1 venue, 2 a venue paper with its arXiv twin (both)
    venue: np.ndarray  # code, -1 none
    track: np.ndarray
    category_indptr: np.ndarray
    category_codes: np.ndarray
    category_row: np.ndarray  # the row of each entry of category_codes
    vocab: dict[str, list[str]]
    codes: dict[str, dict[str, int]]
    loaded_at: float
    built_at: str = ""  # when this generation was published (ISO 8601, UTC)

    @property
    def count(self) -> int:
        return len(self.ids)

    def rows_of(self, paper_ids: np.ndarray) -> np.ndarray:
        """Row numbers of the given ids (-1 where the catalog lacks the id)."""
        paper_ids = np.asarray(paper_ids, dtype=np.int64)
        if not len(self.ids):
            return np.full(len(paper_ids), -1, dtype=np.int64)
        rows = np.searchsorted(self.ids, paper_ids).clip(0, len(self.ids) - 1)
        return np.where(self.ids[rows] == paper_ids, rows, -1)

    def mask(self, filters: Filters) -> np.ndarray | None:
        """Rows that pass the filters (None: no filter, every row passes)."""
        if not filters.active:
            return None
        keep = np.ones(self.count, dtype=bool)
        if filters.source:
            keep &= self.source != (1 if filters.source == "arxiv" else 0)
        for kind, column, values in (("venue", self.venue, filters.venues), ("track", self.track, filters.tracks)):
            if values:
                wanted = [self.codes[kind][v] for v in values if v in self.codes[kind]]
                keep &= np.isin(column, wanted)
        if filters.categories:
            wanted = [self.codes["category"][c] for c in filters.categories if c in self.codes["category"]]
            has = np.zeros(self.count, dtype=bool)
            has[self.category_row[np.isin(self.category_codes, wanted)]] = True
            keep &= has
        if filters.year_from is not None:
            keep &= self.year >= filters.year_from
        if filters.year_to is not None:
            keep &= (self.year <= filters.year_to) & (self.year >= 0)
        if filters.date_from:
            keep &= self.published >= (filters.date_from - EPOCH).days
        if filters.date_to:
            keep &= (self.published <= (filters.date_to - EPOCH).days) & (self.published >= 0)
        return keep

    def facets(self, rows: np.ndarray) -> dict[str, list[dict]]:
        """Counts of category, venue, year and track over the given rows, largest first (work in
        proportion to the rows, not to the catalog)."""
        rows = np.unique(rows[rows >= 0])
        result = {
            "category": _top(np.bincount(self.category_codes[self._category_entries(rows)],
                                         minlength=len(self.vocab["category"])), self.vocab["category"]),
            "venue": _top(np.bincount(self.venue[rows] + 1, minlength=len(self.vocab["venue"]) + 1)[1:],
                          self.vocab["venue"]),
            "track": _top(np.bincount(self.track[rows] + 1, minlength=len(self.vocab["track"]) + 1)[1:],
                          self.vocab["track"]),
        }
        years = self.year[rows]
        years = years[years >= 0]
        values, counts = np.unique(years, return_counts=True)
        order = np.argsort(-counts, kind="stable")[:FACET_SIZE]
        result["year"] = [{"value": str(int(values[i])), "count": int(counts[i])} for i in order]
        return result

    def _category_entries(self, rows: np.ndarray) -> np.ndarray:
        """Positions in category_codes of the given rows' categories."""
        if len(rows) > self.count // 8:  # most of the catalog: one mask is cheaper
            selected = np.zeros(self.count, dtype=bool)
            selected[rows] = True
            return np.flatnonzero(selected[self.category_row])
        starts = self.category_indptr[rows]
        lengths = self.category_indptr[rows + 1] - starts
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return offsets + np.arange(int(lengths.sum()))

    def published_date(self, row: int) -> date | None:
        days = int(self.published[row])
        return None if days < 0 else date.fromordinal(EPOCH.toordinal() + days)


def _top(counts: np.ndarray, names: list[str]) -> list[dict]:
    order = np.argsort(-counts, kind="stable")[:FACET_SIZE]
    return [{"value": names[i], "count": int(counts[i])} for i in order if counts[i] > 0]


def load_catalog(directory: Path) -> LoadedCatalog:
    """Open the published catalog generation (read-only)."""
    manifest = read_catalog_manifest(directory)
    if manifest is None:
        raise IndexNotReady(f"no search catalog published under {directory}", hint="run: papersift index")
    path = directory / manifest.directory
    index = tantivy.Index.open(str(path))
    register_analyzers(index)
    columns = load_columns(path / "columns.npz")
    indptr, vocab = columns.category_indptr, columns.vocab
    return LoadedCatalog(
        generation=manifest.generation, index=index, searcher=index.searcher(),
        ids=columns.ids, year=columns.year, published=columns.published,
        source=columns.source, venue=columns.venue, track=columns.track,
        category_indptr=indptr, category_codes=columns.category_codes,
        category_row=np.repeat(np.arange(len(indptr) - 1, dtype=np.int32), np.diff(indptr)),
        vocab=vocab, codes={kind: {v: i for i, v in enumerate(values)} for kind, values in vocab.items()},
        loaded_at=time.time(), built_at=manifest.built_at,
    )


class CatalogHolder(PublishedHolder[LoadedCatalog]):
    """The search catalog, hot-reloaded like the vector index."""

    def __init__(self, directory: Path, *, reload_seconds: float) -> None:
        super().__init__(
            "search catalog", directory, reload_seconds=reload_seconds,
            read_generation=lambda: getattr(read_catalog_manifest(directory), "generation", None),
            load=lambda: load_catalog(directory),
            generation_of=lambda loaded: loaded.generation,
        )
