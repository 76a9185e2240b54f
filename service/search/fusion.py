"""Score fusion of candidate lists, keeping each list's rank for explanations.

BM25 scores (keyword and typo-tolerant title lists) are divided by their list's best score and
added to the cosine similarity, unscaled, in a weighted sum. (Min-max scaling the cosines over the
candidates was tried: it stretches small differences between mediocre matches into big ones, and
lost to keyword-only on descriptions and keyword lists.) Unlike reciprocal rank fusion this keeps
BM25's margin: a query that matches one paper far better than the rest (a pasted sentence, a
near-exact title) keeps that paper on top, while a flat BM25 list lets meaning decide. Candidates
that only one list found get their exact cosine from the vector index (`semantic_of`), so both
signals score every candidate.
Weights were tuned on the development split of bench/quality.py (see DECISIONS.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.ma  # noqa: F401 - np.unique imports it on first use: 42 ms of the first search, here at startup


@dataclass(frozen=True)
class FusionWeights:
    lexical: float = 1.0
    semantic: float = 0.25
    title: float = 0.25


DEFAULT_WEIGHTS = FusionWeights()


@dataclass
class Fused:
    id: int
    score: float
    ranks: dict[str, int] = field(default_factory=dict)  # list name → 1-based rank


Ranked = tuple[np.ndarray, np.ndarray]  # (ids best first, scores)


@dataclass
class FusedArrays:
    """Fused candidates as arrays, best first (ties by id): what the engine ranks with."""

    ids: np.ndarray  # int64
    scores: np.ndarray  # float64


def fuse_arrays(lists: dict[str, Ranked], weights: FusionWeights = DEFAULT_WEIGHTS,
                semantic_of: Callable[[np.ndarray], np.ndarray] | None = None) -> FusedArrays:
    """Fuse ranked (ids, scores) lists named lexical / semantic / title; numpy throughout."""
    present = [ids for ids, _ in lists.values() if len(ids)]
    if not present:
        return FusedArrays(np.empty(0, np.int64), np.empty(0, np.float64))
    candidates = np.unique(np.concatenate(present).astype(np.int64, copy=False))
    total = np.zeros(len(candidates), dtype=np.float64)
    for name in ("lexical", "title"):
        if name in lists and len(lists[name][0]):
            total += getattr(weights, name) * _scaled_by_best(candidates, *lists[name])
    if "semantic" in lists and len(lists["semantic"][0]):
        total += weights.semantic * _semantic(candidates, *lists["semantic"], semantic_of)
    order = np.lexsort((candidates, -total))
    return FusedArrays(candidates[order], total[order])


def ranks_in(lists: dict[str, Ranked], paper_id: int) -> dict[str, int]:
    """The 1-based rank of one paper in each list that holds it (for explanations)."""
    ranks = {}
    for name, (ids, _) in lists.items():
        where = np.flatnonzero(ids == paper_id)
        if len(where):
            ranks[name] = int(where[0]) + 1
    return ranks


def fuse(lists: dict[str, Ranked], weights: FusionWeights = DEFAULT_WEIGHTS,
         semantic_of: Callable[[np.ndarray], np.ndarray] | None = None) -> list[Fused]:
    """fuse_arrays as objects with each paper's ranks (small lists, tests and tools)."""
    fused = fuse_arrays(lists, weights, semantic_of)
    return [Fused(i, s, ranks_in(lists, i)) for i, s in zip(fused.ids.tolist(), fused.scores.tolist())]


def _positions(candidates: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mask of candidates found in `ids`, index into `ids` of each found one; first occurrence)."""
    ids = ids.astype(np.int64, copy=False)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    at = np.searchsorted(sorted_ids, candidates).clip(0, max(len(ids) - 1, 0))
    found = sorted_ids[at] == candidates if len(ids) else np.zeros(len(candidates), bool)
    return found, order[at]


def _scaled_by_best(candidates: np.ndarray, ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
    best = float(scores.max()) if len(scores) else 0.0
    scaled = (scores / best) if best > 0 else np.zeros(len(scores), scores.dtype)
    found, where = _positions(candidates, ids)
    return np.where(found, scaled[where].astype(np.float64), 0.0)


def _semantic(candidates: np.ndarray, ids: np.ndarray, scores: np.ndarray, semantic_of) -> np.ndarray:
    """Each candidate's cosine with the query (the semantic list's worst for one it cannot score)."""
    found, where = _positions(candidates, ids)
    result = np.full(len(candidates), float(scores.min()), dtype=np.float64)
    result[found] = scores[where[found]].astype(np.float64)
    missing = ~found
    if missing.any() and semantic_of is not None:
        result[missing] = np.asarray(semantic_of(candidates[missing]), dtype=np.float64)
    return result
