"""Grow a benchmark database to a larger corpus with synthetic copies of its papers: issue 22's
freshness floors hold at 1M papers, and no real 1M corpus fits here. Synthetic, and said so
wherever it is used.

    PAPERSIFT_DATA_DIR=var/b1m .venv/bin/python bench/grow_corpus.py --papers 1000000

Each copy of a published paper gets a new public id (`<id>~<copy>`) and title key (so copies of a
venue paper and its preprint pair up as twins, as the originals do), every other field as it is,
and, in every embedding space the original has a current vector in, that vector plus Gaussian
noise (σ 0.02), renormalized, so the vector index sees near neighbours, not exact duplicates.
Then `papersift index --rebuild` builds both indexes over the grown corpus.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from bench.fill_vectors import write_vectors  # noqa: E402
from papersift.db import make_engine, upgrade_schema  # noqa: E402
from papersift.settings import Settings  # noqa: E402

_FIXED = {"id", "public_id", "title_key", "twin_id", "created_at", "updated_at"}


def copy_papers(connection, copy: int, columns: list[str]) -> int:
    """One copy of every original published paper; returns how many rows it wrote."""
    listed = ", ".join(columns)
    return connection.execute(text(f"""
        INSERT INTO papers (public_id, title_key, {listed})
        SELECT public_id || '~{copy}', title_key || ' ~{copy}', {listed}
        FROM papers WHERE is_published AND public_id NOT LIKE '%~%'""")).rowcount


def copy_vectors(engine, copy: int, rng: np.random.Generator) -> int:
    """The copies' vectors: each original's plus noise, in each space it has a current vector in."""
    with engine.connect() as connection:
        rows = connection.execute(text(f"""
            SELECT e.model, n.id, n.content_hash, e.vector
            FROM papers AS n JOIN papers AS o ON n.public_id = o.public_id || '~{copy}'
            JOIN paper_embeddings AS e ON e.paper_id = o.id AND e.content_hash = o.content_hash""")).all()
    if not rows:
        return 0
    vectors = np.frombuffer(b"".join(r.vector for r in rows), dtype=np.float32).reshape(len(rows), -1)
    vectors = vectors + rng.normal(0, 0.02, vectors.shape).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    write_vectors(engine, [(row.model, row.id, row.content_hash, vector) for row, vector in zip(rows, vectors)])
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1_000_000, help="grow to at least this many papers")
    args = parser.parse_args()
    engine = make_engine(Settings())
    upgrade_schema(engine)
    with engine.connect() as connection:
        columns = [c for c in connection.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'papers' "
            "ORDER BY ordinal_position")).scalars() if c not in _FIXED]
        originals = connection.execute(text(
            "SELECT count(*) FROM papers WHERE is_published AND public_id NOT LIKE '%~%'")).scalar()
        total = connection.execute(text("SELECT count(*) FROM papers")).scalar()
        copies_made = connection.execute(text(
            "SELECT count(DISTINCT split_part(public_id, '~', 2)) FROM papers WHERE public_id LIKE '%~%'")).scalar()
    rng = np.random.default_rng(22)
    copy = copies_made
    while total < args.papers:
        copy += 1
        started = time.perf_counter()
        with engine.begin() as connection:
            written = copy_papers(connection, copy, columns)
        vectors = copy_vectors(engine, copy, rng)
        total += written
        print(f"copy {copy}: {written:,} papers, {vectors:,} vectors · {total:,} papers in all "
              f"({time.perf_counter() - started:.1f} s)", flush=True)
    print(f"grow_corpus: {total:,} papers ({originals:,} originals, {copy} synthetic copies of each); "
          f"now run: papersift index --rebuild")


if __name__ == "__main__":
    main()
