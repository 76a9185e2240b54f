"""Rank papers for one reader from their library, as arXiv-sanity-lite does with a linear SVM:
starred papers positive, "not interested" and a random background sample negative.

The model is the SVM's closed-form counterpart, linear discriminant analysis with shrinkage: the
weights are the difference between the mean of the starred vectors and the mean of the negatives
(explicit "not interested" and the background weighing half each when both exist), multiplied by
the inverse of the background's covariance, shrunk towards the identity. The covariance is the
same for every reader, so it is inverted once per run, and a reader's fit is a mean and one
product. Measured against LinearSVC (C=0.01, balanced classes) on simulated readers of real
vectors it ranks as well or better, at a fraction of a millisecond per reader instead of 7 ms
(DECISIONS.md, 2026-12-02; bench/digest.py --compare-models). Scores of many readers are one
matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHRINKAGE = 3.0  # added to the covariance's diagonal, in units of its mean variance


@dataclass(frozen=True)
class Background:
    """What every reader's negatives share: the background sample's mean and the inverse of its
    shrunk covariance."""

    mean: np.ndarray
    precision: np.ndarray


@dataclass(frozen=True)
class ReaderModel:
    """One reader's weights (None without stars: newest first) and their starred papers' vectors,
    to name the starred paper each ranked paper is closest to."""

    weights: np.ndarray | None
    star_vectors: np.ndarray
    star_papers: list[tuple[str, str]]  # (public id, title), aligned with star_vectors


def background_from(sample: np.ndarray, *, shrinkage: float = SHRINKAGE) -> Background:
    """The background of a random sample of paper vectors (rows)."""
    sample = np.asarray(sample, dtype=np.float64)
    dimension = sample.shape[1]
    covariance = np.cov(sample, rowvar=False) if len(sample) > 1 else np.zeros((dimension, dimension))
    ridge = shrinkage * (np.trace(covariance) / dimension or 1.0)
    precision = np.linalg.inv(covariance + ridge * np.eye(dimension))
    return Background(sample.mean(axis=0).astype(np.float32), precision.astype(np.float32))


def fit_reader(star_vectors: np.ndarray, star_papers: list[tuple[str, str]], not_interested: np.ndarray,
               background: Background) -> ReaderModel:
    """The reader's model (see the module docstring)."""
    if not len(star_vectors):
        return ReaderModel(None, star_vectors, star_papers)
    negative = background.mean
    if len(not_interested):
        negative = 0.5 * background.mean + 0.5 * not_interested.mean(axis=0)
    weights = (star_vectors.mean(axis=0) - negative) @ background.precision
    return ReaderModel(weights.astype(np.float32), star_vectors, star_papers)


def score_matrix(models: list[ReaderModel], paper_vectors: np.ndarray) -> np.ndarray:
    """Scores of every paper for every reader (readers × papers, float32); a reader without stars
    gets zeros, and their order falls back to the given paper order."""
    dimension = paper_vectors.shape[1]
    weights = np.stack([m.weights if m.weights is not None else np.zeros(dimension, np.float32)
                        for m in models]) if models else np.zeros((0, dimension), np.float32)
    return weights @ paper_vectors.T


def ranked(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """`candidates` (positions, given newest first) best first; ties keep the given order."""
    return candidates[np.argsort(-scores[candidates], kind="stable")]


def closest_stars(model: ReaderModel, paper_vectors: np.ndarray) -> list[tuple[str, str] | None]:
    """For each paper, the reader's starred paper it is closest to (cosine; vectors are unit
    length), or None for a reader without stars."""
    if not len(model.star_vectors) or not len(paper_vectors):
        return [None] * len(paper_vectors)
    nearest = np.argmax(paper_vectors @ model.star_vectors.T, axis=1)
    return [model.star_papers[i] for i in nearest]
