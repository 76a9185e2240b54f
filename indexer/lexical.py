"""Publish the search catalog: a tantivy BM25 index of every published paper plus the filter columns
(year, source, venue, track, categories, date) as numpy arrays, as one generation under
`<data_dir>/search/`, atomically (staging directory, rename, manifest written last).

A generation is built in one of two ways:
- **incremental** (the usual one): the previous generation's segment files are hard-linked into a
  new directory, the papers changed since it (`indexer/catalog_changes.py`) are deleted and added
  again, and the columns are updated in place. It costs what the change costs, not the corpus.
- **full**: every paper is written again, into one segment. `--rebuild`, a first build, a change
  of text analysis, or once the deletions since the last full build pass `FULL_AFTER_REMOVED`
  of the catalog (tantivy counts deleted documents in its BM25 statistics until segments merge,
  so a full build resets them). An unchanged database leaves the published generation in place.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import tantivy
from sqlalchemy import Engine

from indexer.catalog_changes import PAPERS_SQL, Changes, ChangePoint, read_change_point, read_changes, stream_entries
from indexer.catalog_columns import ColumnsBuilder, days_since_epoch, load_columns
from papersift.lexical_schema import build_schema, register_analyzers
from papersift.scripts import segment

logger = logging.getLogger(__name__)

__all__ = ["MANIFEST", "PAPERS_SQL", "CatalogManifest", "build_catalog", "catalog_is_current",
           "read_catalog_manifest", "write_catalog"]

MANIFEST = "manifest.json"
ANALYSIS = "cjk-bigrams-1"  # how text is analyzed: a change rebuilds catalogs built the old way
WRITER_HEAP_BYTES = 1_000_000_000
UPDATE_HEAP_BYTES = 200_000_000
FULL_AFTER_REMOVED = 0.02  # deleted documents (removed or changed papers) since the last full build
_COLUMNS = "columns.npz"


@dataclass
class CatalogManifest:
    """What a published catalog holds."""

    count: int
    generation: int
    directory: str
    built_at: str
    build_seconds: float
    watermark: str
    mode: str = "full"  # how this generation was built: "full" | "incremental"
    changes_from: str = ""  # the next incremental update reads the changes from here (ISO 8601)
    full_generation: int = 0  # the last full build this one grew from
    removed_since_full: int = 0  # documents deleted (papers removed or changed) since then


@dataclass
class CatalogSummary:
    manifest: CatalogManifest
    mode: str  # "full" | "incremental" | "unchanged"
    seconds: float
    added: int = 0  # papers new to the catalog (all of them in a full build)
    updated: int = 0  # papers written again (incremental)
    removed: int = 0  # papers taken out of the catalog (incremental)

    def line(self) -> str:
        """e.g. "incremental · 1,500 new, 2 updated, 1 removed · 161,355 papers (generation 3, 0.8 s)"."""
        changed = (f" · {self.added:,} new, {self.updated:,} updated, {self.removed:,} removed"
                   if self.mode == "incremental" else "")
        return (f"{self.mode}{changed} · {self.manifest.count:,} papers "
                f"(generation {self.manifest.generation}, {self.seconds:.1f} s)")


def read_catalog_manifest(directory: Path) -> CatalogManifest | None:
    path = directory / MANIFEST
    if not path.exists():
        return None
    return CatalogManifest(**json.loads(path.read_text()))


def build_catalog(engine: Engine, directory: Path, *, force: bool = False,
                  on_batch: Callable[[int], None] | None = None) -> CatalogSummary:
    """Publish a catalog reflecting every published paper: unchanged when nothing changed,
    incrementally when it can, else in full (`force`: always in full)."""
    started = time.perf_counter()
    previous = read_catalog_manifest(directory)
    if not force and catalog_is_current(engine, directory):
        return CatalogSummary(previous, "unchanged", time.perf_counter() - started)
    point = read_change_point(engine)  # before reading any paper: what changes later is read next time
    directory.mkdir(parents=True, exist_ok=True)
    if not force and _can_update(directory, previous):
        changes = read_changes(engine, since=previous.changes_from)
        summary = _update(directory, previous, changes, point, started, on_batch)
        if summary:
            return summary
    return _rebuild(engine, directory, previous, point, started, on_batch)


def catalog_is_current(engine: Engine, directory: Path) -> bool:
    """Whether the published catalog reflects every change to the papers (a few index lookups)."""
    previous = read_catalog_manifest(directory)
    return (previous is not None and _can_update(directory, previous)
            and previous.watermark == _watermark(read_change_point(engine, since=previous.changes_from)))


def _watermark(point: ChangePoint) -> str:
    return f"{ANALYSIS}|{point.key}"


def _can_update(directory: Path, previous: CatalogManifest | None) -> bool:
    """Whether the previous generation can grow: built with today's analysis, from a known change
    point, and still on disk."""
    return (previous is not None and previous.watermark.startswith(f"{ANALYSIS}|")
            and bool(previous.changes_from) and (directory / previous.directory / _COLUMNS).exists())


def _rebuild(engine, directory: Path, previous: CatalogManifest | None, point: ChangePoint,
             started: float, on_batch) -> CatalogSummary:
    generation = (previous.generation + 1) if previous else 1
    staging = _fresh_staging(directory, generation)
    written = write_catalog(stream_entries(engine), staging, on_batch)
    manifest = CatalogManifest(
        count=written, generation=generation, directory="", built_at="", build_seconds=0.0,
        watermark=_watermark(point), mode="full", changes_from=point.since, full_generation=generation,
    )
    _publish(directory, staging, manifest, started)
    return CatalogSummary(manifest, "full", time.perf_counter() - started, added=written)


def _update(directory: Path, previous: CatalogManifest, changes: Changes, point: ChangePoint,
            started: float, on_batch) -> CatalogSummary | None:
    """Apply the changes to a copy of the previous generation; None when a full build is due."""
    base = directory / previous.directory
    old_columns = load_columns(base / _COLUMNS)
    replaced = old_columns.ids[np.isin(old_columns.ids, changes.touched_ids)]  # their documents go
    removed_since_full = previous.removed_since_full + len(replaced)
    if removed_since_full > FULL_AFTER_REMOVED * max(old_columns.count, 1):
        logger.info("catalog: %d deletions since the last full build: rebuilding", removed_since_full)
        return None
    generation = previous.generation + 1
    staging = _fresh_staging(directory, generation)
    _link_segments(base, staging)
    index = tantivy.Index.open(str(staging))
    register_analyzers(index)
    writer = index.writer(heap_size=UPDATE_HEAP_BYTES, num_threads=1)
    for paper_id in changes.touched_ids.tolist():
        writer.delete_documents_by_term("id", paper_id)
    builder = ColumnsBuilder()
    for row in changes.entries:
        writer.add_document(_document(row))
        builder.add(row)
    writer.commit()
    writer.wait_merging_threads()
    if on_batch:
        on_batch(len(changes.entries))
    columns = old_columns.replaced(changes.touched_ids, builder.columns())
    columns.save(staging / _COLUMNS)
    manifest = CatalogManifest(
        count=columns.count, generation=generation, directory="", built_at="", build_seconds=0.0,
        watermark=_watermark(point), mode="incremental", changes_from=point.since,
        full_generation=previous.full_generation, removed_since_full=removed_since_full,
    )
    _publish(directory, staging, manifest, started)
    kept = np.isin(replaced, columns.ids)
    return CatalogSummary(manifest, "incremental", time.perf_counter() - started,
                          added=len(changes.entries) - int(kept.sum()), updated=int(kept.sum()),
                          removed=int((~kept).sum()))


def _fresh_staging(directory: Path, generation: int) -> Path:
    staging = directory / f"staging-{generation}"
    shutil.rmtree(staging, ignore_errors=True)  # left by a build that was killed
    staging.mkdir()
    return staging


def _link_segments(source: Path, target: Path) -> None:
    """Hard-link the previous generation's index files (tantivy never rewrites a segment file)
    and copy its small metadata files (rewritten on commit); skip its lock files and columns."""
    for path in source.iterdir():
        if path.name.startswith(".tantivy-") and path.name.endswith(".lock") or path.name == _COLUMNS:
            continue
        if path.suffix == ".json":
            shutil.copy2(path, target / path.name)
            continue
        try:
            os.link(path, target / path.name)
        except OSError:  # a filesystem without hard links: a copy costs more, and works
            shutil.copy2(path, target / path.name)


def _publish(directory: Path, staging: Path, manifest: CatalogManifest, started: float) -> None:
    """Rename the staging directory to its generation and point the manifest at it."""
    final = directory / f"lexical-{manifest.generation}"
    shutil.rmtree(final, ignore_errors=True)
    _fsync_tree(staging)
    staging.rename(final)
    manifest.directory = final.name
    manifest.built_at = datetime.now(UTC).isoformat(timespec="seconds")
    manifest.build_seconds = round(time.perf_counter() - started, 3)
    temporary = directory / (MANIFEST + ".tmp")
    temporary.write_text(json.dumps(asdict(manifest), indent=2))
    with temporary.open("rb+") as handle:
        os.fsync(handle.fileno())
    temporary.replace(directory / MANIFEST)
    _drop_old_generations(directory, keep_from=manifest.generation - 1)


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
    columns = ColumnsBuilder()
    for batch in batches:
        for row in batch:
            writer.add_document(_document(row))
            columns.add(row)
        if on_batch:
            on_batch(len(batch))
    writer.commit()
    writer.wait_merging_threads()
    columns.columns().save(target / _COLUMNS)
    return columns.count


def _document(row) -> tantivy.Document:
    """The tantivy document of one search entry (a row as PAPERS_SQL selects it)."""
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
    days = days_since_epoch(row.published)
    if days is not None:
        document.add_integer("published", days)
    return document


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
