"""Build the search catalog: a tantivy BM25 index of every published paper plus the filter columns
(year, source, venue, track, categories, date) as numpy arrays, published atomically as one
generation under `<data_dir>/search/`.

The catalog is rebuilt whole when the papers changed (tantivy writes 160k papers in seconds), so it
never drifts from PostgreSQL; an unchanged database leaves the published generation in place.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import tantivy
from sqlalchemy import Engine, text

from papersift.lexical_schema import build_schema, register_analyzers
from papersift.scripts import segment

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SOURCE_CODES = {"arxiv": 0, "venue": 1, "both": 2}  # both: a venue paper with its arXiv twin
EPOCH = date(1970, 1, 1)
ANALYSIS = "cjk-bigrams-1"  # how text is analyzed: a change rebuilds catalogs built the old way
_WATERMARK = "SELECT count(*), coalesce(max(updated_at)::text, ''), coalesce(max(id), 0) FROM papers WHERE is_published"
# One row per search entry: a venue paper stands for itself and its arXiv twin (which gets no row of
# its own), taking the twin's categories, its earlier date and, when it has none, its abstract.
PAPERS_SQL = """
SELECT p.id, p.title, p.title_key,
       CASE WHEN p.abstract = '' AND t.id IS NOT NULL THEN t.abstract ELSE p.abstract END AS abstract,
       p.authors_text, p.keywords_text,
       CASE WHEN t.id IS NULL THEN p.categories ELSE p.categories || t.categories END AS categories,
       p.venue_slug,
       coalesce(p.year, extract(year FROM coalesce(p.published_date, p.announced_date))::int) AS year,
       p.track, CASE WHEN t.id IS NULL THEN p.source ELSE 'both' END AS source,
       least(coalesce(p.published_date, p.announced_date,
                      CASE WHEN p.year BETWEEN 1 AND 9999 THEN make_date(p.year, 1, 1) END),  -- venue: its year
             t.published_date) AS published
FROM papers AS p LEFT JOIN papers AS t ON t.id = p.twin_id AND p.source = 'venue' AND t.is_published
WHERE p.is_published AND NOT (p.source = 'arxiv' AND p.twin_id IS NOT NULL)
ORDER BY p.id
"""


WRITER_HEAP_BYTES = 1_000_000_000


@dataclass
class CatalogManifest:
    """What a published catalog holds."""

    count: int
    generation: int
    directory: str
    built_at: str
    build_seconds: float
    watermark: str


@dataclass
class CatalogSummary:
    manifest: CatalogManifest
    mode: str  # "full" | "unchanged"
    seconds: float


def read_catalog_manifest(directory: Path) -> CatalogManifest | None:
    path = directory / MANIFEST
    if not path.exists():
        return None
    return CatalogManifest(**json.loads(path.read_text()))


def build_catalog(engine: Engine, directory: Path, *, force: bool = False,
                  on_batch: Callable[[int], None] | None = None) -> CatalogSummary:
    """Publish a catalog reflecting every published paper (skipped when nothing changed)."""
    started = time.perf_counter()
    previous = read_catalog_manifest(directory)
    with engine.connect() as connection:
        count, newest, max_id = connection.execute(text(_WATERMARK)).one()
    watermark = f"{ANALYSIS}|{count}|{newest}|{max_id}"
    if previous and previous.watermark == watermark and not force \
            and (directory / previous.directory).is_dir():
        return CatalogSummary(previous, "unchanged", time.perf_counter() - started)
    generation = (previous.generation + 1) if previous else 1
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f"staging-{generation}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    written = _write(engine, staging, on_batch)
    final = directory / f"lexical-{generation}"
    shutil.rmtree(final, ignore_errors=True)
    _fsync_tree(staging)
    staging.rename(final)
    manifest = CatalogManifest(
        count=written, generation=generation, directory=final.name,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - started, 3), watermark=watermark,
    )
    temporary = directory / (MANIFEST + ".tmp")
    temporary.write_text(json.dumps(asdict(manifest), indent=2))
    with temporary.open("rb+") as handle:
        os.fsync(handle.fileno())
    temporary.replace(directory / MANIFEST)
    _drop_old_generations(directory, keep_from=generation - 1)
    return CatalogSummary(manifest, "full", time.perf_counter() - started)


def _write(engine: Engine, target: Path, on_batch) -> int:
    """Stream published papers from PostgreSQL into a catalog; returns the count."""
    with engine.connect().execution_options(stream_results=True, yield_per=5000) as connection:
        batches = connection.execute(text(PAPERS_SQL)).partitions()
        return write_catalog(batches, target, on_batch)


def write_catalog(batches: Iterable[Sequence], target: Path, on_batch=None) -> int:
    """Write a tantivy index and the filter columns from batches of rows (id ascending) with the
    attributes that PAPERS_SQL selects. Used by the builder and by bench/search.py's synthetic corpus."""
    index = tantivy.Index(build_schema(), path=str(target))
    register_analyzers(index)
    # One indexing thread with a large budget writes one segment up to a few hundred thousand
    # papers: fuzzy title terms and term lookups are resolved once per segment, so one segment
    # halves the typo-tolerant title stage at 160k (bench/search.py). Scores are the same (BM25
    # statistics are the index's, not the segment's); ties now follow the paper id.
    writer = index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
    columns = _Columns()
    for batch in batches:
        for row in batch:
            days = (row.published - EPOCH).days if row.published else None
            document = tantivy.Document()
            document.add_unsigned("id", row.id)
            if row.title_key:
                document.add_text("title_key", row.title_key)
            # Text fields split where the script changes, CJK as bigrams (the query side does the same).
            for name, value in (("title", row.title), ("abstract", row.abstract), ("authors", row.authors_text),
                                ("keywords", row.keywords_text),
                                ("text", f"{row.title}\n{row.keywords_text}\n{row.abstract}")):
                if value:
                    document.add_text(name, segment(value))
            for source in ("arxiv", "venue") if row.source == "both" else (row.source,):
                document.add_text("source", source)
            for category in row.categories or ():
                document.add_text("category", category)
            if row.venue_slug:
                document.add_text("venue", row.venue_slug)
            if row.track:
                document.add_text("track", row.track)
            if row.year is not None:
                document.add_integer("year", row.year)
            if days is not None:
                document.add_integer("published", days)
            writer.add_document(document)
            columns.add(row, days)
        if on_batch:
            on_batch(len(batch))
    writer.commit()
    writer.wait_merging_threads()
    columns.save(target / "columns.npz")
    return columns.count


class _Columns:
    """Filter and facet columns aligned with ascending paper ids."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.year: list[int] = []
        self.published: list[int] = []
        self.source: list[int] = []
        self.venue: list[int] = []
        self.track: list[int] = []
        self.category_indptr: list[int] = [0]
        self.category_codes: list[int] = []
        self.vocab: dict[str, dict[str, int]] = {"venue": {}, "track": {}, "category": {}}

    @property
    def count(self) -> int:
        return len(self.ids)

    def _code(self, kind: str, value: str | None) -> int:
        if value is None:
            return -1
        return self.vocab[kind].setdefault(value, len(self.vocab[kind]))

    def add(self, row, days: int | None) -> None:
        self.ids.append(row.id)
        self.year.append(row.year if row.year is not None else -1)
        self.published.append(days if days is not None else -1)
        self.source.append(SOURCE_CODES[row.source])
        self.venue.append(self._code("venue", row.venue_slug))
        self.track.append(self._code("track", row.track))
        self.category_codes.extend(self._code("category", c) for c in row.categories or ())
        self.category_indptr.append(len(self.category_codes))

    def save(self, path: Path) -> None:
        vocab = {kind: sorted(values, key=values.get) for kind, values in self.vocab.items()}
        np.savez(
            path, ids=np.asarray(self.ids, dtype=np.int64), year=np.asarray(self.year, dtype=np.int16),
            published=np.asarray(self.published, dtype=np.int32),
            source=np.asarray(self.source, dtype=np.int8), venue=np.asarray(self.venue, dtype=np.int32),
            track=np.asarray(self.track, dtype=np.int16),
            category_indptr=np.asarray(self.category_indptr, dtype=np.int64),
            category_codes=np.asarray(self.category_codes, dtype=np.int32),
            vocab=np.asarray(json.dumps(vocab)),
        )


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    descriptor = os.open(root, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _drop_old_generations(directory: Path, *, keep_from: int) -> None:
    """Remove catalogs older than the previous generation (a serving process may still read it)."""
    for old in directory.iterdir():
        name, _, number = old.name.partition("-")
        if name in {"lexical", "staging"} and number.isdigit() and int(number) < keep_from:
            shutil.rmtree(old, ignore_errors=True)
