""""More like my starred papers": candidates near the positives' centroid and near each positive,
scored by similarity to the positives (mean and best) minus similarity to the negatives.

Scoring every candidate against every positive keeps several interests alive (a reader who stars
both robotics and NLP papers gets both), which a single centroid would blur.
"""

from __future__ import annotations

import numpy as np

from papersift.errors import InvalidQuery
from papersift.vector_index import LoadedIndex
from service.search.semantic import search_vectors

MAX_PER_POSITIVE = 20
NEGATIVE_WEIGHT = 0.5


def recommend(index: LoadedIndex, positive: list[int], negative: list[int], *, limit: int,
              allowed_ids: np.ndarray | None = None) -> list[tuple[int, float]]:
    """(paper id, score) best first, never one of the given papers."""
    positive_ids, positive_vectors = index.vectors_of(np.asarray(positive, np.int64))
    if not len(positive_ids):
        raise InvalidQuery("none of the positive papers is in the vector index yet",
                           hint="star papers that are indexed, or run papersift index")
    _, negative_vectors = index.vectors_of(np.asarray(negative, np.int64))
    centroid = positive_vectors.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    depth = limit + len(positive) + len(negative) + 50
    pools = [search_vectors(index, centroid, depth, allowed_ids)[0]]
    for vector in positive_vectors[:MAX_PER_POSITIVE]:
        pools.append(search_vectors(index, vector, max(20, depth // 4), allowed_ids)[0])
    given = set(positive) | set(negative)
    candidates = np.asarray([i for i in dict.fromkeys(np.concatenate(pools).tolist()) if i not in given], np.int64)
    candidate_ids, candidate_vectors = index.vectors_of(candidates)
    if not len(candidate_ids):
        return []
    similarity = candidate_vectors @ positive_vectors.T
    scores = 0.5 * similarity.mean(axis=1) + 0.5 * similarity.max(axis=1)
    if len(negative_vectors):
        scores -= NEGATIVE_WEIGHT * np.clip(candidate_vectors @ negative_vectors.T, 0, None).max(axis=1)
    order = np.argsort(-scores, kind="stable")[:limit]
    return [(int(candidate_ids[i]), round(float(scores[i]), 4)) for i in order]
