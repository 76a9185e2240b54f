"""The catalog's filter and facet columns: one row per search entry, in ascending paper id, saved
as numpy arrays beside the tantivy index.

Saved in one canonical form (each vocabulary sorted by name, holding only the values in use), so
columns updated in place by an incremental generation are equal, array for array, to those a full
rebuild writes from the same papers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

SOURCE_CODES = {"arxiv": 0, "venue": 1, "both": 2}  # both: a venue paper with its arXiv twin
EPOCH = date(1970, 1, 1)
KINDS = ("venue", "track", "category")


def days_since_epoch(day: date | None) -> int | None:
    return (day - EPOCH).days if day else None


class ColumnsBuilder:
    """Collects the columns of rows (as PAPERS_SQL selects them) in the order they are added."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.year: list[int] = []
        self.published: list[int] = []
        self.source: list[int] = []
        self.venue: list[int] = []
        self.track: list[int] = []
        self.category_indptr: list[int] = [0]
        self.category_codes: list[int] = []
        self.vocab: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}

    @property
    def count(self) -> int:
        return len(self.ids)

    def _code(self, kind: str, value: str | None) -> int:
        if value is None:
            return -1
        return self.vocab[kind].setdefault(value, len(self.vocab[kind]))

    def add(self, row) -> None:
        days = days_since_epoch(row.published)
        self.ids.append(row.id)
        self.year.append(row.year if row.year is not None else -1)
        self.published.append(days if days is not None else -1)
        self.source.append(SOURCE_CODES[row.source])
        self.venue.append(self._code("venue", row.venue_slug))
        self.track.append(self._code("track", row.track))
        self.category_codes.extend(self._code("category", c) for c in row.categories or ())
        self.category_indptr.append(len(self.category_codes))

    def columns(self) -> CatalogColumns:
        vocab = {kind: sorted(values, key=values.get) for kind, values in self.vocab.items()}
        return CatalogColumns(
            ids=np.asarray(self.ids, dtype=np.int64), year=np.asarray(self.year, dtype=np.int16),
            published=np.asarray(self.published, dtype=np.int32),
            source=np.asarray(self.source, dtype=np.int8), venue=np.asarray(self.venue, dtype=np.int32),
            track=np.asarray(self.track, dtype=np.int16),
            category_indptr=np.asarray(self.category_indptr, dtype=np.int64),
            category_codes=np.asarray(self.category_codes, dtype=np.int32), vocab=vocab,
        )


@dataclass
class CatalogColumns:
    """Columns aligned by row; venue, track and category hold codes into `vocab` (-1: none)."""

    ids: np.ndarray
    year: np.ndarray
    published: np.ndarray
    source: np.ndarray
    venue: np.ndarray
    track: np.ndarray
    category_indptr: np.ndarray
    category_codes: np.ndarray
    vocab: dict[str, list[str]]

    @property
    def count(self) -> int:
        return len(self.ids)

    def replaced(self, dropped_ids: np.ndarray, added: CatalogColumns) -> CatalogColumns:
        """These columns without the rows of `dropped_ids`, plus the rows of `added`, by id."""
        keep = ~np.isin(self.ids, dropped_ids)
        vocab = {kind: sorted(set(self.vocab[kind]) | set(added.vocab[kind])) for kind in KINDS}
        mine, theirs = self._recoded(vocab), added._recoded(vocab)
        kept_rows = np.flatnonzero(keep)
        order = np.argsort(np.concatenate([self.ids[kept_rows], added.ids]), kind="stable")

        def joined(name: str) -> np.ndarray:
            return np.concatenate([mine[name][kept_rows], theirs[name]])[order]

        # Categories: gather each row's run of codes from the two code arrays, in the new order.
        codes = np.concatenate([mine["category"], theirs["category"]])
        starts = np.concatenate([self.category_indptr[kept_rows],
                                 added.category_indptr[:-1] + len(self.category_codes)])[order]
        lengths = np.concatenate([np.diff(self.category_indptr)[kept_rows], np.diff(added.category_indptr)])[order]
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        positions = np.repeat(starts - indptr[:-1], lengths) + np.arange(int(indptr[-1]))
        return CatalogColumns(
            ids=joined("ids"), year=joined("year"), published=joined("published"),
            source=joined("source"), venue=joined("venue"), track=joined("track"),
            category_indptr=indptr, category_codes=codes[positions].astype(np.int32),
            vocab=vocab,
        )

    def _recoded(self, vocab: dict[str, list[str]]) -> dict[str, np.ndarray]:
        """Every column, codes translated into `vocab` (a superset of this vocabulary)."""
        result = {"ids": self.ids, "year": self.year, "published": self.published, "source": self.source}
        for kind, column in (("venue", self.venue), ("track", self.track), ("category", self.category_codes)):
            position = {value: i for i, value in enumerate(vocab[kind])}
            table = np.asarray([position[v] for v in self.vocab[kind]] + [-1], dtype=column.dtype)
            result[kind] = table[column]  # code -1 (none) picks the table's last entry, -1
        return result

    def canonical(self) -> CatalogColumns:
        """The same columns with each vocabulary sorted by name and holding only values in use."""
        vocab, recoded = {}, {}
        for kind, column in (("venue", self.venue), ("track", self.track), ("category", self.category_codes)):
            used = np.unique(column[column >= 0])
            names = sorted(self.vocab[kind][i] for i in used)
            vocab[kind] = names
            position = {value: i for i, value in enumerate(names)}
            table = np.full(len(self.vocab[kind]) + 1, -1, dtype=column.dtype)
            for code in used:
                table[code] = position[self.vocab[kind][code]]
            recoded[kind] = table[column]
        return CatalogColumns(
            ids=self.ids, year=self.year, published=self.published, source=self.source,
            venue=recoded["venue"], track=recoded["track"], category_indptr=self.category_indptr,
            category_codes=recoded["category"], vocab=vocab,
        )

    def save(self, path: Path) -> None:
        columns = self.canonical()
        np.savez(
            path, ids=columns.ids, year=columns.year, published=columns.published, source=columns.source,
            venue=columns.venue, track=columns.track, category_indptr=columns.category_indptr,
            category_codes=columns.category_codes, vocab=np.asarray(json.dumps(columns.vocab)),
        )


def load_columns(path: Path) -> CatalogColumns:
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    vocab = json.loads(str(arrays.pop("vocab")))
    return CatalogColumns(**arrays, vocab=vocab)
