"""Embed every published paper whose text changed since its last embedding; store the vectors.

Vectors are keyed by embedding space (model, precision, token limit: `EmbeddingSpace.key`). A
paper needs embedding when it has no vector in the space, or its vector was made from another
content hash (title or abstract changed). Newest papers go first, so a long first embed makes
recent papers searchable by meaning early. Each batch commits on its own, so a killed run keeps
its work and the next run embeds only what is left (an upsert: no duplicates).
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

# Newest first: by publication (or announcement) date, then id.
_STALE_IDS = """
SELECT p.id
FROM papers AS p
LEFT JOIN paper_embeddings AS e ON e.paper_id = p.id AND e.model = :model
WHERE p.is_published AND (e.paper_id IS NULL OR e.content_hash <> p.content_hash)
ORDER BY coalesce(p.published_date, p.announced_date, make_date(greatest(coalesce(p.year, 1), 1), 1, 1))
         DESC NULLS LAST, p.id DESC
"""
_TEXTS = "SELECT id, title, abstract, content_hash FROM papers WHERE id = ANY(:ids)"
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
    """How many published papers need a (new) vector in the space keyed `model`."""
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
    """Embed stale papers newest first (space key `model`), one committed batch at a time."""
    started = time.perf_counter()
    with engine.connect() as connection:
        order = connection.execute(text(_STALE_IDS), {"model": model}).scalars().all()
    embedded = 0
    for start in range(0, len(order), batch_size):
        wanted = order[start:start + batch_size]
        with engine.connect() as connection:
            found = {r.id: r for r in connection.execute(text(_TEXTS), {"ids": wanted})}
        rows = [found[i] for i in wanted if i in found]  # a paper deleted meanwhile is skipped
        if rows:
            vectors = embedder.encode([document_text(r.title, r.abstract) for r in rows])
            store_vectors(engine, model=model, rows=rows, vectors=vectors)
            embedded += len(rows)
        if on_batch:
            on_batch(len(wanted))
    return EmbedSummary(stale=len(order), embedded=embedded, seconds=time.perf_counter() - started)


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
