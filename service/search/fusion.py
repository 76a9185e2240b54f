"""Weighted reciprocal rank fusion of candidate lists, keeping each list's rank for explanations.

score(paper) = Σ_lists weight / (k + rank), rank counted from 1. The weights were tuned on the
development split of bench/quality.py (see DECISIONS.md); the test split is reported untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FusionWeights:
    lexical: float = 1.0
    semantic: float = 1.0
    title: float = 0.5
    k: float = 60.0


DEFAULT_WEIGHTS = FusionWeights()


@dataclass
class Fused:
    id: int
    score: float
    ranks: dict[str, int] = field(default_factory=dict)  # list name → 1-based rank


def fuse(lists: dict[str, np.ndarray], weights: FusionWeights = DEFAULT_WEIGHTS) -> list[Fused]:
    """Fuse ranked id lists (best first) named lexical / semantic / title; best first."""
    fused: dict[int, Fused] = {}
    for name, ids in lists.items():
        weight = getattr(weights, name)
        for rank, paper_id in enumerate(ids.tolist(), start=1):
            entry = fused.get(paper_id)
            if entry is None:
                entry = fused[paper_id] = Fused(paper_id, 0.0)
            if name in entry.ranks:
                continue
            entry.ranks[name] = rank
            entry.score += weight / (weights.k + rank)
    return sorted(fused.values(), key=lambda f: (-f.score, f.id))
