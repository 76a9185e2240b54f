"""faiss index types at the real corpus size (~160k) and at 1M: build time, memory, recall@10 and
single-query latency (1 thread); plus the full build from stored vectors in PostgreSQL.

    .venv/bin/python bench/index.py [--sizes 160000 1000000] [--skip-db]

Vectors: 2,000 real papers from ../shared/data embedded with the configured model, expanded to the
target size by adding Gaussian noise to real vectors and re-normalizing (harder than real data, as
in PERF-NOTES). Queries: other real papers' vectors, also perturbed. Exact Flat search is the baseline.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from papersift.embedding import document_text, load_embedder, space_of  # noqa: E402
from papersift.normalize import clean_text  # noqa: E402
from papersift.settings import Settings  # noqa: E402
from papersift.vector_index import tune_ef_search  # noqa: E402


BACKEND = "onnx"  # the base vectors' backend (fp32 at 256 tokens: the index types, not the encoder, are measured)


def real_vectors(settings: Settings, count: int, cache: Path) -> np.ndarray:
    texts = []
    with gzip.open(settings.shared_data / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz", "rt") as handle:
        for line in itertools.islice(handle, count):
            record = json.loads(line)
            texts.append(document_text(clean_text(record["title"]), clean_text(record["abstract"] or "")))
    embedder = load_embedder(settings.model, backend=BACKEND, cache_dir=cache)
    return embedder.encode(texts, batch_size=64)


def synthetic(base: np.ndarray, size: int, seed: int, noise: float = 0.35) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((size, base.shape[1]), dtype=np.float32)
    for start in range(0, size, 100_000):
        n = min(100_000, size - start)
        chunk = base[rng.integers(0, len(base), n)] + rng.normal(0, noise / np.sqrt(base.shape[1]),
                                                                  (n, base.shape[1])).astype(np.float32)
        out[start : start + n] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def measure(index, queries: np.ndarray, truth: np.ndarray, params=None) -> tuple[float, float, float]:
    """recall@10 and p50/p95 ms of single queries on one thread."""
    faiss.omp_set_num_threads(1)
    latencies, hits = [], 0
    for i, query in enumerate(queries):
        started = time.perf_counter()
        _, found = index.search(query.reshape(1, -1), 10, params=params)
        latencies.append((time.perf_counter() - started) * 1000)
        hits += len(set(found[0]) & set(truth[i]))
    faiss.omp_set_num_threads(0)
    return hits / truth.size, float(np.percentile(latencies, 50)), float(np.percentile(latencies, 95))


def size_mb(index) -> float:
    return faiss.serialize_index(index).nbytes / 1e6


def bench_size(base: np.ndarray, size: int, query_count: int = 300) -> list[tuple]:
    vectors = synthetic(base, size, seed=size)
    ids = np.arange(size, dtype=np.int64)
    queries = synthetic(base, query_count, seed=1)
    rows = []
    started = time.perf_counter()
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    flat.add_with_ids(vectors, ids)
    build = time.perf_counter() - started
    _, truth = flat.search(queries, 10)
    recall, p50, p95 = measure(flat, queries, truth)
    rows.append((size, "flat (exact)", build, size_mb(flat), recall, p50, p95, "-"))

    for m in (32,):
        started = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        index = faiss.IndexIDMap2(hnsw)
        index.add_with_ids(vectors, ids)
        build = time.perf_counter() - started
        ef, tuned_recall = tune_ef_search(index, ids, vectors)
        for ef_search in sorted({64, ef, ef * 2}):
            params = faiss.SearchParametersHNSW(efSearch=ef_search)
            recall, p50, p95 = measure(index, queries, truth, params)
            label = f"hnsw M={m} ef={ef_search}" + (" (tuned)" if ef_search == ef else "")
            rows.append((size, label, build, size_mb(index), recall, p50, p95, f"{tuned_recall:.3f}"))

    started = time.perf_counter()
    nlist = int(4 * np.sqrt(size))
    quantizer = faiss.IndexFlatIP(vectors.shape[1])
    ivf = faiss.IndexIVFFlat(quantizer, vectors.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.train(vectors[np.random.default_rng(3).choice(size, min(size, 50 * nlist), replace=False)])
    ivf.add(vectors)
    build = time.perf_counter() - started
    for nprobe in (32, 64):
        recall, p50, p95 = measure(ivf, queries, truth, faiss.SearchParametersIVF(nprobe=nprobe))
        rows.append((size, f"ivf-flat nlist={nlist} nprobe={nprobe}", build, size_mb(ivf), recall, p50, p95, "-"))
    return rows


def bench_db_build(base: np.ndarray, size: int) -> tuple[float, float, str]:
    """Full `build_and_publish` from `size` vectors stored in a throw-away embedded PostgreSQL."""
    from sqlalchemy import text

    from indexer.build import build_and_publish
    from papersift import embedded_pg
    from papersift.db import make_engine, upgrade_schema

    data_dir = Path(tempfile.mkdtemp(prefix="papersift-bench-index-"))
    settings = Settings(_env_file=None, data_dir=data_dir)
    engine = make_engine(settings)
    upgrade_schema(engine)
    vectors = synthetic(base, size, seed=11)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO papers (public_id, source, source_record_id, title, title_raw, title_key, "
            "record_hash, content_hash) SELECT 'bench:' || g, 'arxiv', g::text, 'paper ' || g, "
            "'paper ' || g, 'paper ' || g, 'h', 'c' FROM generate_series(1, :n) AS g"), {"n": size})
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(
            "COPY paper_embeddings (model, paper_id, content_hash, vector) FROM STDIN") as copy:
            for i in range(size):
                copy.write_row((space_of(settings.model, BACKEND).key, i + 1, "c", vectors[i].tobytes()))
    started = time.perf_counter()
    summary = build_and_publish(engine, settings, backend=BACKEND, space=space_of(settings.model, BACKEND),
                                force_full=True)
    seconds = time.perf_counter() - started
    engine.dispose()
    embedded_pg.stop(settings.pgdata_dir)
    shutil.rmtree(data_dir, ignore_errors=True)
    return seconds, summary.manifest.build_seconds, summary.manifest.index_type


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[160_000, 1_000_000])
    parser.add_argument("--real", type=int, default=2000, help="real papers embedded as the base")
    parser.add_argument("--skip-db", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    cache = Path(tempfile.mkdtemp(prefix="papersift-bench-models-"))
    base = real_vectors(settings, args.real, cache)

    rows = []
    for size in args.sizes:
        rows += bench_size(base, size)
    print(f"\nfaiss on {base.shape[1]}-d vectors (synthetic from {len(base):,} real papers); "
          f"1 thread per query; recall@10 vs exact\n")
    print(f"{'vectors':>10}  {'index':<34}{'build s':>9}{'MB':>9}{'recall@10':>11}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'tune recall':>13}")
    flat_p50 = {}
    for size, label, build, mb, recall, p50, p95, tuned in rows:
        flat_p50.setdefault(size, p50)
        print(f"{size:>10,}  {label:<34}{build:>9.1f}{mb:>9.0f}{recall:>11.3f}{p50:>9.2f}{p95:>9.2f}{tuned:>13}")
    print("\n(ratios: p50 of each index vs exact flat at the same size)")
    for size, label, _, _, _, p50, _, _ in rows:
        print(f"{size:>10,}  {label:<34}{flat_p50[size] / p50:>8.1f}x faster than flat")
    if not args.skip_db:
        total, build_only, index_type = bench_db_build(base, 160_000)
        print(f"\nfull build from PostgreSQL, 160,000 stored vectors: {total:.1f} s "
              f"(index {index_type}; load + build + atomic publish; floor 60 s)")


if __name__ == "__main__":
    main()
