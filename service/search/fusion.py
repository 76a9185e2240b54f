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


def fuse(lists: dict[str, Ranked], weights: FusionWeights = DEFAULT_WEIGHTS,
         semantic_of: Callable[[np.ndarray], np.ndarray] | None = None) -> list[Fused]:
    """Fuse ranked (ids, scores) lists named lexical / semantic / title; best first."""
    fused: dict[int, Fused] = {}
    for name, (ids, _) in lists.items():
        for rank, paper_id in enumerate(ids.tolist(), start=1):
            entry = fused.setdefault(paper_id, Fused(paper_id, 0.0))
            entry.ranks.setdefault(name, rank)
    if not fused:
        return []
    candidates = np.fromiter(fused, dtype=np.int64, count=len(fused))
    total = np.zeros(len(candidates), dtype=np.float64)
    for name in ("lexical", "title"):
        if name in lists and len(lists[name][0]):
            total += getattr(weights, name) * _scaled_by_best(candidates, *lists[name])
    if "semantic" in lists and len(lists["semantic"][0]):
        total += weights.semantic * _semantic(candidates, *lists["semantic"], semantic_of)
    for entry, score in zip(fused.values(), total.tolist()):
        entry.score = score
    return sorted(fused.values(), key=lambda f: (-f.score, f.id))


def _scaled_by_best(candidates: np.ndarray, ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
    best = float(scores.max()) if len(scores) else 0.0
    lookup = dict(zip(ids.tolist(), (scores / best).tolist() if best > 0 else [0.0] * len(ids)))
    return np.asarray([lookup.get(i, 0.0) for i in candidates.tolist()])


def _semantic(candidates: np.ndarray, ids: np.ndarray, scores: np.ndarray, semantic_of) -> np.ndarray:
    """Each candidate's cosine with the query (the semantic list's worst for one it cannot score)."""
    lookup = dict(zip(ids.tolist(), scores.tolist()))
    missing = np.asarray([i for i in candidates.tolist() if i not in lookup], dtype=np.int64)
    if len(missing) and semantic_of is not None:
        lookup.update(zip(missing.tolist(), semantic_of(missing).tolist()))
    worst = float(scores.min())
    return np.asarray([lookup.get(i, worst) for i in candidates.tolist()])
