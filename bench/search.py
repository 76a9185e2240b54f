"""Search latency: p50/p95/p99 of keyword, semantic, hybrid, filtered-hybrid and related-paper
queries, in process on the real corpus and on a synthetic 1M-paper corpus, plus requests/s with
8 concurrent HTTP clients against `papersift serve` on 127.0.0.1.

    PAPERSIFT_DATA_DIR=var/eval .venv/bin/python bench/search.py [--synthetic 1000000] [--http-seconds 20]

The real corpus is the data directory's (catalog + vector index, built by `papersift index`).
The synthetic corpus repeats the real papers under new ids until it holds N papers (so term
statistics grow as a larger corpus of the same fields would) and gives each copy the real vector
plus Gaussian noise (σ 0.05, renormalized), as PERF-NOTES.md did; it is built once under
<data_dir>/bench-synthetic-N and reused. Queries: real titles, title words, first sentences of
abstracts; the filtered queries add a venue or a category filter. Warm: each query set runs once
before it is timed. Floors (issue 5): hybrid p95 ≤ 50 ms at the real size and ≤ 150 ms at 1M;
related p95 ≤ 20 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import namedtuple
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from indexer.lexical import MANIFEST, PAPERS_SQL, CatalogManifest, write_catalog  # noqa: E402
from papersift.db import make_engine  # noqa: E402
from papersift.embedding import load_embedder  # noqa: E402
from papersift.settings import Settings  # noqa: E402
from papersift.vector_index import LoadedIndex, Manifest, build_index, load_index  # noqa: E402
from service.search.catalog import load_catalog  # noqa: E402
from service.search.engine import SearchEngine, SearchRequest  # noqa: E402
from service.search.filters import make_filters  # noqa: E402
from service.search.semantic import QueryEncoder  # noqa: E402

Row = namedtuple("Row", "id title title_key abstract authors_text keywords_text categories venue_slug year "
                        "track source published")



def percentiles(samples: list[float]) -> tuple[float, float, float]:
    values = np.asarray(samples)
    return tuple(float(np.percentile(values, p)) for p in (50, 95, 99))


def query_pool(rows, count: int, seed: int = 11) -> dict[str, list[str]]:
    rng = random.Random(seed)
    sample = rng.sample(rows, min(count, len(rows)))
    sentences = [re.split(r"(?<=[.!?])\s+", r.abstract)[0] for r in sample if r.abstract]
    words = [" ".join(rng.sample(r.title.split(), min(3, len(r.title.split())))) for r in sample]
    clean = lambda q: re.sub(r'["\-:]', " ", q)  # noqa: E731 - plain text, no query syntax
    return {"title": [clean(r.title) for r in sample], "words": [clean(w) for w in words],
            "sentence": [clean(s)[:300] for s in sentences]}


def time_engine(engine: SearchEngine, pool: dict[str, list[str]], filters_for) -> dict[str, list[float]]:
    """Per scenario: milliseconds per query (each scenario warmed once)."""
    scenarios = {
        "keyword": ("keyword", False), "semantic": ("semantic", False), "hybrid": ("hybrid", False),
        "hybrid + filter": ("hybrid", True),
    }
    queries = pool["title"] + pool["words"] + pool["sentence"]
    results: dict[str, list[float]] = {}
    for name, (mode, filtered) in scenarios.items():
        for warm in (True, False):
            samples = []
            for i, q in enumerate(queries):
                request = SearchRequest(q=q, mode=mode, limit=20, filters=filters_for(i) if filtered else make_filters())
                started = time.perf_counter()
                engine.search(request)
                samples.append((time.perf_counter() - started) * 1000)
            if not warm:
                results[name] = samples
    return results


def time_related(index: LoadedIndex, ids: np.ndarray, count: int = 300) -> list[float]:
    rng = np.random.default_rng(5)
    samples = []
    for paper_id in rng.choice(ids, size=min(count, len(ids)), replace=False):
        started = time.perf_counter()
        vector = index.reconstruct(int(paper_id))
        index.search(vector, 21)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def print_table(title: str, rows: dict[str, list[float]], floors: dict[str, float]) -> None:
    print(f"\n{title}")
    header = f"{'scenario':<18} {'queries':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'floor p95':>10}"
    print(header)
    print("-" * len(header))
    for name, samples in rows.items():
        p50, p95, p99 = percentiles(samples)
        floor = floors.get(name)
        verdict = f"≤ {floor:.0f} {'ok' if p95 <= floor else 'MISSED'}" if floor else ""
        print(f"{name:<18} {len(samples):>7} {p50:>8.2f} {p95:>8.2f} {p99:>8.2f} {verdict:>10}")


def synthetic_corpus(settings: Settings, rows, vectors: dict[int, np.ndarray], size: int):
    """(catalog, index) of `size` papers built from the real ones; cached on disk."""
    import faiss

    directory = settings.data_dir / f"bench-synthetic-{size}"
    catalog_dir, index_file = directory / "lexical-1", directory / "vectors.faiss"
    if not (catalog_dir / "columns.npz").exists():
        shutil.rmtree(catalog_dir, ignore_errors=True)
        catalog_dir.mkdir(parents=True)
        started = time.perf_counter()

        def batches():
            batch = []
            for new_id in range(1, size + 1):
                r = rows[(new_id - 1) % len(rows)]
                batch.append(r._replace(id=new_id))
                if len(batch) == 10_000:
                    yield batch
                    batch = []
            if batch:
                yield batch

        write_catalog(batches(), catalog_dir)
        manifest = CatalogManifest(count=size, generation=1, directory=catalog_dir.name, built_at="",
                                   build_seconds=0, watermark="")
        (directory / MANIFEST).write_text(json.dumps(asdict(manifest)))
        print(f"synthetic catalog of {size:,} papers built in {time.perf_counter() - started:.0f} s")
    if not index_file.exists():
        started = time.perf_counter()
        rng = np.random.default_rng(3)
        dimension = len(next(iter(vectors.values())))
        has_vector = np.asarray([r.id in vectors for r in rows])
        row_vectors = np.stack([vectors.get(r.id, np.zeros(dimension, np.float32)) for r in rows])
        ids = np.arange(1, size + 1, dtype=np.int64)
        source_rows = (ids - 1) % len(rows)  # the copy with id i repeats rows[source_rows[i - 1]]
        keep = has_vector[source_rows]
        ids = ids[keep]
        matrix = row_vectors[source_rows[keep]] + rng.normal(0, 0.05, (len(ids), dimension)).astype(np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # build on every core, search on one
        index, index_type, ef, recall = build_index(ids, np.ascontiguousarray(matrix, np.float32),
                                                    exact_max=settings.index_exact_max)
        faiss.omp_set_num_threads(1)
        faiss.write_index(index, str(index_file))
        (directory / "index.txt").write_text(f"{index_type} {ef} {recall}")
        print(f"synthetic {index_type} index of {len(ids):,} vectors built in {time.perf_counter() - started:.0f} s "
              f"(efSearch {ef}, recall@10 {recall})")
    index_type, ef, recall = (directory / "index.txt").read_text().split()
    faiss_index = faiss.read_index(str(index_file))
    manifest = Manifest(model=settings.model, backend="", dimension=faiss_index.d, count=faiss_index.ntotal,
                        index_type=index_type, file=index_file.name, generation=1, built_at="",
                        build_seconds=0, watermark="", ef_search=None if ef == "None" else int(ef))
    return load_catalog(directory), LoadedIndex(manifest=manifest, index=faiss_index, loaded_at=time.time())


def http_load(settings: Settings, pool: dict[str, list[str]], ids: list[str], seconds: float, clients: int = 8):
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PAPERSIFT_DATA_DIR": str(settings.data_dir), "PAPERSIFT_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([sys.executable, "-m", "papersift.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        queries = pool["title"] + pool["words"] + pool["sentence"]
        for q in queries[:50]:  # warm the encoder's and tantivy's caches
            httpx.get(f"{base}/api/v1/search", params={"q": q}, timeout=30)
        latencies: dict[str, list[float]] = {"search": [], "related": []}
        errors = [0]
        stop = time.perf_counter() + seconds

        def client(number: int) -> None:
            rng = random.Random(number)
            with httpx.Client(base_url=base, timeout=30) as http:
                while time.perf_counter() < stop:
                    kind = "related" if rng.random() < 0.25 else "search"
                    started = time.perf_counter()
                    if kind == "search":
                        response = http.get("/api/v1/search", params={"q": rng.choice(queries)})
                    else:
                        response = http.get(f"/api/v1/papers/{rng.choice(ids)}/related")
                    latencies[kind].append((time.perf_counter() - started) * 1000)
                    errors[0] += response.status_code >= 400

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        total = sum(len(v) for v in latencies.values())
        print_table(f"HTTP, {clients} concurrent clients, {elapsed:.0f} s: {total / elapsed:.1f} requests/s, "
                    f"{errors[0]} errors", latencies, {})
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=100, help="papers to draw queries from")
    parser.add_argument("--synthetic", type=int, default=0, help="also measure a synthetic corpus of N papers")
    parser.add_argument("--http-seconds", type=float, default=20.0)
    args = parser.parse_args()
    settings = Settings()
    import faiss

    faiss.omp_set_num_threads(1)  # as the service does
    engine_db = make_engine(settings)
    with engine_db.connect() as connection:
        rows = [Row(*r) for r in connection.execute(text(PAPERS_SQL))]
        public_ids = list(connection.execute(text(
            "SELECT p.public_id FROM papers p JOIN paper_embeddings e ON e.paper_id = p.id LIMIT 2000")).scalars())
    catalog = load_catalog(settings.search_dir)
    index = load_index(settings.index_dir, model=settings.model)
    encoder = QueryEncoder(load_embedder(settings.model, backend=settings.embedding_backend,
                                         cache_dir=settings.model_cache_dir, threads=1))
    pool = query_pool(rows, args.queries)
    venues = sorted(catalog.vocab["venue"]) or [None]
    categories = sorted(catalog.vocab["category"]) or [None]

    def filters_for(i: int):
        return make_filters(venue=[venues[i % len(venues)]]) if i % 2 and venues[0] else \
            make_filters(category=[categories[i % len(categories)]]) if categories[0] else make_filters(year_from=2020)

    print(f"corpus: {catalog.count:,} papers, {index.manifest.count:,} vectors ({index.manifest.index_type}); "
          f"{sum(len(v) for v in pool.values())} queries per scenario; encoder {settings.embedding_backend}, 1 thread")
    floors = {"hybrid": 50.0, "related": 20.0}
    timings = time_engine(SearchEngine(catalog, index, encoder), pool, filters_for)
    timings["related"] = time_related(index, catalog.ids)
    print_table(f"in process, {catalog.count:,} papers", timings, floors)
    if args.http_seconds:
        http_load(settings, pool, public_ids, args.http_seconds)
    if args.synthetic:
        vectors = dict(zip(*index.vectors_of(catalog.ids)))
        big_catalog, big_index = synthetic_corpus(settings, rows, vectors, args.synthetic)
        timings = time_engine(SearchEngine(big_catalog, big_index, encoder), pool, filters_for)
        timings["related"] = time_related(big_index, big_catalog.ids)
        print_table(f"in process, synthetic {big_catalog.count:,} papers ({big_index.manifest.index_type}, "
                    f"efSearch {big_index.manifest.ef_search})", timings,
                    {"hybrid": 50.0 if big_catalog.count <= 200_000 else 150.0, "related": 20.0})


if __name__ == "__main__":
    main()
