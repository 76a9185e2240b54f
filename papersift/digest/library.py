"""Readers' libraries as vectors: each reader's starred and "not interested" papers (library_marks),
looked up in the published vector index, made into a ReaderModel per reader."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from papersift.digest.ranking import Background, ReaderModel, background_from, fit_reader
from papersift.models import LibraryMark, Paper
from papersift.vector_index import LoadedIndex


BACKGROUND_SAMPLE = 1000


def background(index: LoadedIndex, *, seed: int = 0) -> Background:
    """The negatives every reader shares: a fixed random sample of the indexed papers."""
    sample = index.sample_vectors(BACKGROUND_SAMPLE, seed=seed)
    return background_from(sample if len(sample) else np.zeros((1, index.manifest.dimension), np.float32))


def reader_models(session: Session, index: LoadedIndex, account_ids: list[int],
                  shared: Background) -> dict[int, ReaderModel]:
    """A model for each of `account_ids` (stars and not-interested marks of papers the index
    holds; marks of papers it lacks are left out)."""
    marks = session.execute(
        select(LibraryMark.account_id, LibraryMark.kind, LibraryMark.paper, LibraryMark.title)
        .where(LibraryMark.account_id.in_(account_ids), LibraryMark.kind.in_(("star", "not_interested")))
        .order_by(LibraryMark.account_id, LibraryMark.marked_at, LibraryMark.paper)).all()
    public_ids = sorted({m.paper for m in marks})
    rows = session.execute(select(Paper.public_id, Paper.id, Paper.title)
                           .where(Paper.public_id.in_(public_ids))).all() if public_ids else []
    row_of = {public_id: (paper_id, title) for public_id, paper_id, title in rows}
    held, vectors = index.vectors_of(np.asarray([paper_id for paper_id, _ in row_of.values()], np.int64))
    vector_of = dict(zip(held.tolist(), vectors))

    by_reader: dict[int, dict[str, list]] = defaultdict(lambda: {"star": [], "not_interested": []})
    for mark in marks:
        paper_id, title = row_of.get(mark.paper, (None, ""))
        if paper_id in vector_of:
            by_reader[mark.account_id][mark.kind].append((mark.paper, mark.title or title, vector_of[paper_id]))
    dimension = index.manifest.dimension
    models = {}
    for account_id in account_ids:
        library = by_reader.get(account_id, {"star": [], "not_interested": []})
        stars, negatives = library["star"], library["not_interested"]
        models[account_id] = fit_reader(
            _stacked([v for _, _, v in stars], dimension), [(p, t) for p, t, _ in stars],
            _stacked([v for _, _, v in negatives], dimension), shared)
    return models


def _stacked(vectors: list[np.ndarray], dimension: int) -> np.ndarray:
    return np.stack(vectors).astype(np.float32) if vectors else np.zeros((0, dimension), np.float32)
