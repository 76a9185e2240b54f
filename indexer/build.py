"""Build the faiss index from the stored vectors of one embedding space and publish it; add
incrementally when only new papers arrived since the published index's watermark.

An index of another space (the backend or token limit changed) keeps serving until the new
space's vectors are complete: then the new index replaces it in one publish."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, text

from papersift.embedding import EmbeddingSpace, space_of
from papersift.vector_index import (
    Manifest,
    build_index,
    load_index,
    new_manifest,
    publish_index,
    read_manifest,
)

logger = logging.getLogger(__name__)

MAX_TOMBSTONES = 0.10  # dead slots (removed or re-embedded papers) an index keeps before a full build

_VECTORS = """
SELECT e.paper_id, e.vector, e.embedded_at
FROM paper_embeddings AS e JOIN papers AS p ON p.id = e.paper_id
WHERE e.model = :model AND p.is_published AND e.content_hash = p.content_hash {newer}
ORDER BY e.paper_id
"""
_CURRENT_IDS = """
SELECT e.paper_id
FROM paper_embeddings AS e JOIN papers AS p ON p.id = e.paper_id
WHERE e.model = :model AND p.is_published AND e.content_hash = p.content_hash
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
    mode: str  # "full" | "incremental" | "unchanged" | "kept" (the old space serves until the new one is complete)
    added: int
    seconds: float
    retired: int = 0  # vectors of removed or re-embedded papers taken out of search


def build_and_publish(engine: Engine, settings, *, backend: str, space: EmbeddingSpace | None = None,
                      force_full: bool = False, complete: bool = True) -> BuildSummary:
    """Publish an index reflecting every current vector of `space` (by default the settings'
    model in `backend` at the settings' token limit). `complete` says whether every paper has a
    vector in it; an index of another space is replaced only by a complete one."""
    started = time.perf_counter()
    space = space or space_of(settings.model, backend, settings.embedding_max_tokens)
    directory = settings.index_dir
    previous = read_manifest(directory)
    with engine.connect() as connection:
        count, newest = connection.execute(text(_COUNT), {"model": space.key}).one()
    watermark = newest.isoformat() if newest else ""
    same_space = previous is not None and previous.model == space.model and space_key(previous) == space.key
    if previous is not None and not same_space and not complete:
        return BuildSummary(previous, "kept", 0, time.perf_counter() - started)
    if same_space and not force_full:
        if previous.count == count and previous.watermark == watermark:
            return BuildSummary(previous, "unchanged", 0, time.perf_counter() - started)
        grows_past_exact = previous.index_type == "flat" and count > settings.index_exact_max
        incremental = None if grows_past_exact else _try_incremental(
            engine, settings, previous, space, count, watermark, backend, started)
        if incremental:
            return incremental
    ids, vectors, _ = _load_vectors(engine, model=space.key)
    if len(ids) == 0:
        from papersift.errors import IndexNotReady

        raise IndexNotReady("no embedded papers to index", hint="import papers first, then run papersift index")
    index, index_type, ef_search, recall = build_index(ids, vectors, exact_max=settings.index_exact_max)
    manifest = new_manifest(
        model=space.model, backend=backend, index=index, index_type=index_type, previous=previous,
        build_seconds=time.perf_counter() - started, watermark=watermark, ef_search=ef_search,
        recall=recall, hnsw_m=32 if index_type == "hnsw" else None, space=space,
    )
    publish_index(index, manifest, directory)
    return BuildSummary(manifest, "full", len(ids), time.perf_counter() - started)


def space_key(manifest: Manifest) -> str:
    """The space a manifest's vectors are in (manifests from before spaces: the bare model)."""
    return manifest.space or manifest.model


def _try_incremental(engine, settings, previous: Manifest, space: EmbeddingSpace, count: int,
                     watermark: str, backend: str, started: float) -> BuildSummary | None:
    """Add the vectors embedded after the previous watermark and retire those of papers that were
    removed, unpublished or re-embedded; None when a full build is due instead."""
    ids, vectors, _ = _load_vectors(engine, model=space.key, newer_than=previous.watermark)
    current = _current_ids(engine, model=space.key)
    loaded = load_index(settings.index_dir, model=space.model)
    slots = _id_array(loaded.index)
    retired = (slots >= 0) & (~np.isin(slots, current) | np.isin(slots, ids))  # gone, or re-embedded
    tombstones = previous.tombstones + int(retired.sum())
    if tombstones > MAX_TOMBSTONES * max(count, 1):
        return None  # too many dead slots: a fresh index searches better
    if retired.any():
        _retire(loaded.index, slots, retired)
    if len(ids):
        loaded.index.add_with_ids(vectors, ids)
    if loaded.index.ntotal - tombstones != count:
        logger.warning("index: %d live vectors after the update, %d expected: rebuilding",
                       loaded.index.ntotal - tombstones, count)
        return None
    manifest = new_manifest(
        model=space.model, backend=backend, index=loaded.index, index_type=previous.index_type,
        previous=previous, build_seconds=time.perf_counter() - started, watermark=watermark,
        ef_search=previous.ef_search, recall=previous.measured_recall_at_10, hnsw_m=previous.hnsw_m,
        space=space, tombstones=tombstones,
    )
    publish_index(loaded.index, manifest, settings.index_dir)
    return BuildSummary(manifest, "incremental", len(ids), time.perf_counter() - started, retired=int(retired.sum()))


def _retire(index, slots: np.ndarray, retired: np.ndarray) -> None:
    """Mark slots dead: their id becomes -1, which searches drop (faiss's "no result"). An HNSW
    graph cannot remove a node; a full build drops them (MAX_TOMBSTONES)."""
    import faiss

    faiss.copy_array_to_vector(np.where(retired, -1, slots).astype(np.int64), index.id_map)
    index.construct_rev_map()


def _current_ids(engine: Engine, *, model: str) -> np.ndarray:
    """Ids of the papers with a current vector of the model (published, content unchanged)."""
    with engine.connect() as connection:
        ids = connection.execute(text(_CURRENT_IDS), {"model": model}).scalars().all()
    return np.asarray(ids, dtype=np.int64)


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
