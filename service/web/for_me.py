"""The "for me" order of a listing: the signed-in reader's papers ranked by the same model as
their digest (papersift/digest/ranking.py), each with the starred paper it is closest to."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from papersift.digest.library import background, reader_models
from papersift.digest.ranking import Background, closest_stars, ranked, score_matrix
from papersift.models import Account, Paper
from service.index_holder import IndexHolder

ORDERS = ("default", "for-me")
Order = Annotated[str, Query(pattern=f"^({'|'.join(ORDERS)})$")]


def order_for_reader(session: Session, holder: IndexHolder, account: Account,
                     *lists: list) -> tuple[list[list], dict]:
    """Each of `lists` (PaperPublic, any order) best first for `account`, and per paper id why
    (the starred paper it is closest to); the reader's model is made once for all of them.
    Unchanged without stars or without a loaded vector index."""
    index = holder.current_or_none()
    if index is None or not any(lists):
        return list(lists), {}
    model = reader_models(session, index, [account.id], _background(holder, index))[account.id]
    if model.weights is None:
        return list(lists), {}
    papers = [paper for papers in lists for paper in papers]
    id_of = dict(session.execute(select(Paper.public_id, Paper.id)
                                 .where(Paper.public_id.in_([p.id for p in papers]))).all())
    ordered, why = [], {}
    for papers in lists:
        order, reasons = _ranked(index, model, id_of, papers)
        ordered.append([papers[i] for i in order])
        why |= reasons
    return ordered, why


def _ranked(index, model, id_of: dict[str, int], papers: list) -> tuple[np.ndarray, dict]:
    held, vectors = index.vectors_of(np.asarray([id_of.get(p.id, -1) for p in papers], np.int64))
    row_of = {int(paper_id): row for row, paper_id in enumerate(held)}
    scores = np.full(len(papers), -np.inf, np.float32)
    rows = [(i, row_of[id_of[p.id]]) for i, p in enumerate(papers) if id_of.get(p.id) in row_of]
    why = {}
    if rows:
        positions, vector_rows = map(list, zip(*rows))
        scores[positions] = score_matrix([model], vectors[vector_rows])[0]
        for position, star in zip(positions, closest_stars(model, vectors[vector_rows])):
            why[papers[position].id] = {"summary": f"close to your starred “{star[1]}”"}
    return ranked(scores, np.arange(len(papers))), why


_backgrounds: dict[tuple, Background] = {}


def _background(holder: IndexHolder, index) -> Background:
    """The background of the loaded index generation, computed once per generation."""
    key = (str(holder.directory), index.manifest.generation, index.manifest.built_at)
    if key not in _backgrounds:
        _backgrounds.clear()  # only the loaded generation's is needed
        _backgrounds[key] = background(index)
    return _backgrounds[key]
