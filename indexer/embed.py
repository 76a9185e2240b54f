"""Embed every published paper whose text changed since its last embedding; store the vectors.

A paper needs embedding when it has no vector for the model, or its vector was made from another
content hash (title or abstract changed). Each batch commits on its own, so a killed run keeps its
work and the next run embeds only what is left.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, text

from papersift.embedding import Embedder, document_text

logger = logging.getLogger(__name__)

_STALE = """
SELECT p.id, p.title, p.abstract, p.content_hash
FROM papers AS p
LEFT JOIN paper_embeddings AS e ON e.paper_id = p.id AND e.model = :model
WHERE p.is_published AND (e.paper_id IS NULL OR e.content_hash <> p.content_hash)
  AND p.id > :after
ORDER BY p.id
LIMIT :limit
"""
_COUNT_STALE = """
SELECT count(*) FROM papers AS p
LEFT JOIN paper_embeddings AS e ON e.paper_id = p.id AND e.model = :model
WHERE p.is_published AND (e.paper_id IS NULL OR e.content_hash <> p.content_hash)
"""
_UPSERT = """
INSERT INTO paper_embeddings (model, paper_id, content_hash, vector)
VALUES (:model, :paper_id, :content_hash, :vector)
ON CONFLICT (model, paper_id) DO UPDATE
SET content_hash = EXCLUDED.content_hash, vector = EXCLUDED.vector, embedded_at = now()
"""


@dataclass
class EmbedSummary:
    """What one embedding pass did."""

    stale: int
    embedded: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.embedded / self.seconds if self.seconds > 0 else 0.0


def count_stale(engine: Engine, *, model: str) -> int:
    """How many published papers need a (new) vector for `model`."""
    with engine.connect() as connection:
        return connection.execute(text(_COUNT_STALE), {"model": model}).scalar_one()


def embed_stale(
    engine: Engine,
    embedder: Embedder,
    *,
    model: str,
    batch_size: int = 64,
    on_batch: Callable[[int], None] | None = None,
) -> EmbedSummary:
    """Embed stale papers in id order, one committed batch at a time."""
    started = time.perf_counter()
    stale = count_stale(engine, model=model)
    embedded, after = 0, 0
    while True:
        with engine.connect() as connection:
            rows = connection.execute(
                text(_STALE), {"model": model, "after": after, "limit": batch_size}
            ).all()
        if not rows:
            break
        vectors = embedder.encode([document_text(r.title, r.abstract) for r in rows])
        store_vectors(engine, model=model, rows=rows, vectors=vectors)
        embedded += len(rows)
        after = rows[-1].id
        if on_batch:
            on_batch(len(rows))
    return EmbedSummary(stale=stale, embedded=embedded, seconds=time.perf_counter() - started)


def store_vectors(engine: Engine, *, model: str, rows, vectors: np.ndarray) -> None:
    """Upsert one batch of vectors (float32 bytes) in one transaction."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    with engine.begin() as connection:
        connection.execute(
            text(_UPSERT),
            [
                {"model": model, "paper_id": row.id, "content_hash": row.content_hash,
                 "vector": vectors[i].tobytes()}
                for i, row in enumerate(rows)
            ],
        )
