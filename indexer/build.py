"""Build the faiss index from stored vectors and publish it; add incrementally when only new
papers arrived since the published index's watermark."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, text

from papersift.vector_index import (
    Manifest,
    build_index,
    load_index,
    new_manifest,
    publish_index,
    read_manifest,
)

logger = logging.getLogger(__name__)

_VECTORS = """
SELECT e.paper_id, e.vector, e.embedded_at
FROM paper_embeddings AS e JOIN papers AS p ON p.id = e.paper_id
WHERE e.model = :model AND p.is_published AND e.content_hash = p.content_hash {newer}
ORDER BY e.paper_id
"""
_COUNT = """
SELECT count(*), max(e.embedded_at)
FROM paper_embeddings AS e JOIN papers AS p ON p.id = e.paper_id
WHERE e.model = :model AND p.is_published AND e.content_hash = p.content_hash
"""


@dataclass
class BuildSummary:
    """What one index build did."""

    manifest: Manifest
    mode: str  # "full" | "incremental" | "unchanged"
    added: int
    seconds: float


def build_and_publish(engine: Engine, settings, *, backend: str, force_full: bool = False) -> BuildSummary:
    """Publish an index reflecting every current vector of the configured model."""
    started = time.perf_counter()
    model, directory = settings.model, settings.index_dir
    previous = read_manifest(directory)
    with engine.connect() as connection:
        count, newest = connection.execute(text(_COUNT), {"model": model}).one()
    watermark = newest.isoformat() if newest else ""
    if previous and previous.model == model and not force_full:
        if previous.count == count and previous.watermark == watermark:
            return BuildSummary(previous, "unchanged", 0, time.perf_counter() - started)
        incremental = _try_incremental(engine, settings, previous, count, watermark, backend, started)
        if incremental:
            return incremental
    ids, vectors, _ = _load_vectors(engine, model=model)
    if len(ids) == 0:
        from papersift.errors import IndexNotReady

        raise IndexNotReady("no embedded papers to index", hint="import papers first, then run papersift index")
    index, index_type, ef_search, recall = build_index(ids, vectors, exact_max=settings.index_exact_max)
    manifest = new_manifest(
        model=model, backend=backend, index=index, index_type=index_type, previous=previous,
        build_seconds=time.perf_counter() - started, watermark=watermark, ef_search=ef_search,
        recall=recall, hnsw_m=32 if index_type == "hnsw" else None,
    )
    publish_index(index, manifest, directory)
    return BuildSummary(manifest, "full", len(ids), time.perf_counter() - started)


def _try_incremental(engine, settings, previous: Manifest, count: int, watermark: str, backend: str,
                     started: float) -> BuildSummary | None:
    """Add the vectors embedded after the previous watermark, if that is all that changed."""
    ids, vectors, _ = _load_vectors(engine, model=settings.model, newer_than=previous.watermark)
    if previous.count + len(ids) != count:
        return None  # papers were removed, unpublished or re-embedded: rebuild
    loaded = load_index(settings.index_dir, model=settings.model)
    if len(ids) and loaded.index.id_map is not None:
        present = np.isin(ids, _id_array(loaded.index))
        if present.any():
            return None
    loaded.index.add_with_ids(vectors, ids)
    manifest = new_manifest(
        model=settings.model, backend=backend, index=loaded.index, index_type=previous.index_type,
        previous=previous, build_seconds=time.perf_counter() - started, watermark=watermark,
        ef_search=previous.ef_search, recall=previous.measured_recall_at_10, hnsw_m=previous.hnsw_m,
    )
    publish_index(loaded.index, manifest, settings.index_dir)
    return BuildSummary(manifest, "incremental", len(ids), time.perf_counter() - started)


def _load_vectors(engine: Engine, *, model: str, newer_than: str | None = None):
    """(ids int64, vectors float32 [n, d], newest embedded_at) of the model's current vectors."""
    newer = "AND e.embedded_at > CAST(:newer AS timestamptz)" if newer_than else ""
    params = {"model": model, **({"newer": newer_than} if newer_than else {})}
    with engine.connect() as connection:
        rows = connection.execute(text(_VECTORS.format(newer=newer)), params).all()
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty((0, 0), dtype=np.float32), None
    ids = np.fromiter((r.paper_id for r in rows), dtype=np.int64, count=len(rows))
    vectors = np.frombuffer(b"".join(r.vector for r in rows), dtype=np.float32).reshape(len(rows), -1)
    return ids, np.ascontiguousarray(vectors), rows[-1].embedded_at


def _id_array(index) -> np.ndarray:
    import faiss

    return faiss.vector_to_array(index.id_map)
