"""Give every published paper of a benchmark database a vector without embedding it: speed
benchmarks at 160k papers need a full vector index, and embedding the whole corpus takes hours on
two cores. Synthetic, and said so wherever it is used.

    PAPERSIFT_DATA_DIR=var/b160 .venv/bin/python bench/fill_vectors.py --donor var/eval

A paper that the donor data directory embedded (same public id) gets its real vector; every other
paper gets a mixture of three random donor vectors (weights 1, 0.6, 0.3) plus Gaussian noise
(σ 0.02), renormalized: unlike copies of a few donors plus noise (PERF-NOTES.md's recipe), which
form tight clusters of near-duplicates that no approximate index ranks well, mixtures spread over
the space the real vectors span, so the index sees a corpus shaped like a real one.
Vectors are stored under the space of the donor's vectors, so `papersift index` then builds the
index as it would from real ones (and embeds nothing).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from papersift.db import make_engine  # noqa: E402
from papersift.settings import Settings  # noqa: E402

MIXTURE = np.asarray([1.0, 0.6, 0.3], dtype=np.float32)


def donor_vectors(donor_dir: Path) -> tuple[str, dict[str, np.ndarray]]:
    """(space key, public id → vector) of the donor database's current vectors."""
    os.environ["PAPERSIFT_DATA_DIR"] = str(donor_dir)
    engine = make_engine(Settings())
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT e.model, p.public_id, e.vector FROM paper_embeddings e JOIN papers p ON p.id = e.paper_id "
            "WHERE e.content_hash = p.content_hash")).all()
    engine.dispose()
    if not rows:
        raise SystemExit(f"{donor_dir} has no vectors")
    space = rows[0].model
    return space, {r.public_id: np.frombuffer(r.vector, np.float32) for r in rows if r.model == space}


def write_vectors(engine, rows) -> None:
    """COPY (space, paper id, content hash, float32 vector) rows into paper_embeddings, one transaction."""
    buffer = io.StringIO()
    for space, paper_id, content_hash, vector in rows:
        buffer.write(f"{space}\t{paper_id}\t{content_hash}\t\\\\x{vector.astype(np.float32).tobytes().hex()}\n")
    buffer.seek(0)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            with cursor.copy("COPY paper_embeddings (model, paper_id, content_hash, vector) FROM STDIN") as copy:
                while chunk := buffer.read(1 << 20):
                    copy.write(chunk)
        raw.commit()
    finally:
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--donor", type=Path, required=True, help="data directory with real vectors")
    args = parser.parse_args()
    target_dir = os.environ.get("PAPERSIFT_DATA_DIR")
    space, donors = donor_vectors(args.donor)
    os.environ["PAPERSIFT_DATA_DIR"] = target_dir or ""
    engine = make_engine(Settings())
    started = time.perf_counter()
    with engine.connect() as connection:
        papers = connection.execute(text(
            "SELECT p.id, p.public_id, p.content_hash FROM papers p LEFT JOIN paper_embeddings e "
            "ON e.paper_id = p.id AND e.model = :space WHERE p.is_published AND e.paper_id IS NULL"),
            {"space": space}).all()
    rng = np.random.default_rng(3)
    pool = np.stack(list(donors.values()))
    real = 0
    given = []
    for paper in papers:
        vector = donors.get(paper.public_id)
        if vector is None:
            mixed = pool[rng.integers(len(pool), size=3)].T @ MIXTURE
            vector = mixed + rng.normal(0, 0.02, pool.shape[1]).astype(np.float32)
            vector = vector / np.linalg.norm(vector)
        else:
            real += 1
        given.append((space, paper.id, paper.content_hash, vector))
    write_vectors(engine, given)
    print(f"fill_vectors: {len(papers):,} papers given vectors in space {space!r} "
          f"({real:,} real from {args.donor}, {len(papers) - real:,} synthetic) in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
