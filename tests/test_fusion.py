"""Score fusion: BM25 scaled by the list's best plus the raw cosine, weighted."""

from __future__ import annotations

import numpy as np
import pytest

from service.search.fusion import FusionWeights, fuse


def _ranked(pairs: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray([i for i, _ in pairs], np.int64), np.asarray([s for _, s in pairs], np.float32)


def test_a_clear_bm25_winner_stays_first_when_meaning_prefers_another_paper() -> None:
    lists = {"lexical": _ranked([(1, 30.0), (2, 12.0)]), "semantic": _ranked([(2, 0.80), (1, 0.55)])}
    assert [f.id for f in fuse(lists)] == [1, 2]


def test_when_bm25_cannot_tell_papers_apart_the_cosine_decides() -> None:
    lists = {"lexical": _ranked([(1, 10.0), (2, 10.0)]), "semantic": _ranked([(2, 0.62), (1, 0.58)])}
    fused = fuse(lists)
    assert [f.id for f in fused] == [2, 1]
    assert fused[0].score == pytest.approx(1.0 + 0.25 * 0.62, abs=1e-6)  # unscaled cosine
    assert fused[0].ranks == {"lexical": 2, "semantic": 1}


def test_candidates_one_list_missed_get_their_exact_cosine() -> None:
    lists = {"lexical": _ranked([(1, 10.0), (3, 9.9)]), "semantic": _ranked([(1, 0.40), (2, 0.35)])}
    looked_up = []

    def semantic_of(ids: np.ndarray) -> np.ndarray:
        looked_up.extend(ids.tolist())
        return np.asarray([0.9 for _ in ids])

    fused = fuse(lists, FusionWeights(semantic=1.0), semantic_of)
    assert looked_up == [3]
    assert fused[0].id == 3  # 0.99 + 0.9 beats 1.0 + 0.4
    assert {f.id: round(f.score, 4) for f in fused} == {3: 1.89, 1: 1.4, 2: 0.35}
