"""Search speed against the floor of its engines, measured in one run on the same distinct queries:
the bare engines alone (tantivy, faiss, the query encoder, the row fetch), the whole search in
process, and `GET /api/v1/search` over HTTP against `papersift serve` (default workers), plus
`/related`, the HTML search page and a repeated (cached) query.

    PAPERSIFT_DATA_DIR=var/b160 .venv/bin/python bench/search.py [--queries 600] [--synthetic 1000000]

Queries are distinct real texts drawn from the corpus (titles, title fragments, first sentences of
abstracts), each sent once per column, so no column but "repeated" hits a cache. The encoder,
faiss and tantivy run on one thread, as in the service. `--synthetic N` also times the in-process
search over N papers built from the real ones (copies under new ids, vectors = real + noise),
built once under <data_dir>/bench-synthetic-N. Floors (issue 15): HTTP hybrid p95 ≤ 20 ms at
160k and ≤ 40 ms at 1M; HTTP p95 ≤ 3 × the summed bare-engine p95; /related p95 ≤ 5 ms; the HTML
search page p95 ≤ 30 ms.
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
from service.api.search import render_results  # noqa: E402
from service.reads import ReadPool  # noqa: E402
from service.search.cards import load_cards  # noqa: E402
from service.search.catalog import load_catalog  # noqa: E402
from service.search.engine import SEMANTIC_CANDIDATES, SearchEngine, SearchRequest  # noqa: E402
from service.search.filters import make_filters  # noqa: E402
from service.search.lexical import keyword_query, search_keyword  # noqa: E402
from service.search.query_language import parse_query  # noqa: E402
from service.search.semantic import QueryEncoder  # noqa: E402

Row = namedtuple("Row", "id title title_key abstract authors_text keywords_text categories venue_slug year "
                        "track source published")


def cpu_flags() -> str:
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")
    return " ".join(f for f in wanted if f in flags) or "none of " + ", ".join(wanted)


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    values = np.asarray(samples)
    return tuple(float(np.percentile(values, p)) for p in (50, 95, 99))


QUERY_KINDS = ("title", "3 title words", "first sentence")


def distinct_queries(rows, count: int, seed: int = 11) -> list[str]:
    """`count` distinct plain-text queries, of the QUERY_KINDS in turn (query i is of kind i % 3)."""
    rng = random.Random(seed)
    clean = lambda q: re.sub(r'["\-:()]|\b(?:OR|AND|NOT)\b', " ", q).strip()  # noqa: E731 - no query syntax
    queries: dict[str, None] = {}
    for r in rng.sample(rows, min(count * 3, len(rows))):
        kind = len(queries) % 3
        if kind == 0:
            q = r.title
        elif kind == 1:
            words = r.title.split()
            q = " ".join(rng.sample(words, min(3, len(words))))
        else:
            q = re.split(r"(?<=[.!?])\s+", r.abstract)[0][:300] if r.abstract else r.title
        q = clean(q)
        if q:
            queries.setdefault(q)
        if len(queries) == count:
            break
    return list(queries)


def timed(function, items) -> list[float]:
    samples = []
    for item in items:
        started = time.perf_counter()
        function(item)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def bare_engines(settings, catalog, index, embedder, reads, queries, vectors) -> dict[str, list[float]]:
    """Each engine alone on the same queries: BM25 top 200, the encoder, faiss top 200, 20 rows."""
    parsed = [parse_query(q) for q in queries]
    tantivy_queries = [keyword_query(catalog, p, make_filters()) for p in parsed]
    rng = np.random.default_rng(1)
    pages = [rng.choice(catalog.ids, 20, replace=False) for _ in queries]
    return {
        "tantivy BM25": timed(lambda q: q is not None and search_keyword(catalog, q, limit=200, count=False),
                              tantivy_queries),
        "query encoder": timed(lambda q: embedder.encode([q], batch_size=1), queries),
        "faiss": timed(lambda v: index.search(v, SEMANTIC_CANDIDATES), vectors),
        "row fetch (20)": timed(lambda ids: load_cards(reads, ids), pages),
    }


def in_process(catalog, index, embedder, reads, queries, mode="hybrid") -> list[float]:
    """The whole search (parse, engines, fusion, facets, rows, highlights) without HTTP."""
    engine = SearchEngine(catalog, index, QueryEncoder(embedder))  # a fresh query cache

    def one(q: str) -> None:
        outcome = engine.search(SearchRequest(q=q, mode=mode, limit=20))
        render_results(reads, outcome, explain=False)

    return timed(one, queries)


def print_engine_floor(bare: dict[str, list[float]]) -> None:
    """What the engines alone cost per distinct query (the first queries, which every bare column
    timed): the least latency a search can have (the encoder overlaps BM25; faiss and the row
    fetch follow), and the most searches per second this machine's cores could serve if nothing
    but the engines ran (no HTTP, fusion, highlights or load generator)."""
    n = min(len(samples) for samples in bare.values())
    encoder, bm25, faiss_ms, rows = (np.asarray(bare[c][:n]) for c in
                                     ("query encoder", "tantivy BM25", "faiss", "row fetch (20)"))
    path = np.maximum(encoder, bm25) + faiss_ms + rows
    cpu = float(np.mean(encoder + bm25 + faiss_ms + rows))
    cores = len(os.sched_getaffinity(0))
    print(f"\nengines alone, per distinct query ({n} queries): critical path (max(encoder, BM25) + faiss + rows) "
          f"p50 {np.percentile(path, 50):.2f} / p95 {np.percentile(path, 95):.2f} ms; work {cpu:.2f} ms "
          f"(mean of encoder + BM25 + faiss + rows) → at most {cores * 1000 / cpu:.0f} searches/s on "
          f"{cores} cores with nothing else running")


def print_table(title: str, rows: dict[str, list[float]], notes: dict[str, str] | None = None) -> None:
    print(f"\n{title}")
    header = f"{'':<28} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  note"
    print(header)
    print("-" * (len(header) + 20))
    for name, samples in rows.items():
        p50, p95, p99 = percentiles(samples)
        print(f"{name:<28} {len(samples):>5} {p50:>8.2f} {p95:>8.2f} {p99:>8.2f}  {(notes or {}).get(name, '')}")


def start_server(settings: Settings, workers: int | None, env: dict[str, str] | None = None):
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**(env or os.environ), "PAPERSIFT_DATA_DIR": str(settings.data_dir), "PAPERSIFT_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "papersift.cli", "serve", "--port", str(port)]
    if workers:
        command += ["--workers", str(workers)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):  # until ready with every check (the vector index too) passing
        try:
            response = httpx.get(f"{base}/readyz", timeout=1)
            if response.status_code == 200 and all(c["ok"] for c in response.json()["checks"].values()):
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return server, base


def http_columns(base: str, queries: list[str], page_queries: list[str], warm: list[str],
                 public_ids: list[str]) -> dict[str, list[float]]:
    """One client, sequential: distinct hybrid searches (the queries the engines were timed on:
    this server process has not seen them), a repeated one, /related, the HTML page (other queries
    of the same mix, so the API's answers cached in the server do not serve it)."""
    import httpx

    with httpx.Client(base_url=base, timeout=30) as http:
        for q in warm:  # warm each worker (different queries: no cache hits later)
            http.get("/api/v1/search", params={"q": q}).raise_for_status()
        for paper_id in public_ids[:50]:
            http.get(f"/api/v1/papers/{paper_id}/related")

        def get(path, **params):
            response = http.get(path, params=params)
            response.raise_for_status()

        columns = {"HTTP /api/v1/search": timed(lambda q: get("/api/v1/search", q=q, limit=20), queries)}
        # The last 50 again, at once: answers from the workers' caches (each holds its newest 256).
        columns["HTTP search, repeated"] = timed(lambda q: get("/api/v1/search", q=q, limit=20), queries[-50:])
        columns["HTTP /search (HTML page)"] = timed(lambda q: get("/search", q=q), page_queries)
        columns["HTTP /related"] = timed(lambda p: get(f"/api/v1/papers/{p}/related"), public_ids[50:350])
        return columns


def synthetic_corpus(settings: Settings, rows, vectors: dict[int, np.ndarray], size: int):
    """(catalog, index) of `size` papers built from the real ones; cached on disk."""
    import faiss

    directory = settings.data_dir / f"bench-synthetic-{size}"
    catalog_dir, index_file = directory / "lexical-1", directory / "vectors.faiss"
    if not (catalog_dir / "columns.npz").exists():
        shutil.rmtree(catalog_dir, ignore_errors=True)
        catalog_dir.mkdir(parents=True)

        def batches():
            for start in range(0, size, 10_000):
                yield [rows[i % len(rows)]._replace(id=i + 1) for i in range(start, min(size, start + 10_000))]

        write_catalog(batches(), catalog_dir)
        manifest = CatalogManifest(count=size, generation=1, directory=catalog_dir.name, built_at="",
                                   build_seconds=0, watermark="")
        (directory / MANIFEST).write_text(json.dumps(asdict(manifest)))
    if not index_file.exists():
        rng = np.random.default_rng(3)
        dimension = len(next(iter(vectors.values())))
        ids = np.arange(1, size + 1, dtype=np.int64)
        source_ids = np.asarray([rows[(i - 1) % len(rows)].id for i in ids])
        keep = np.asarray([s in vectors for s in source_ids])
        ids = ids[keep]
        matrix = np.stack([vectors[s] for s in source_ids[keep]])
        matrix += rng.normal(0, 0.05, matrix.shape).astype(np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # build on every core, search on one
        index, index_type, ef, recall = build_index(ids, np.ascontiguousarray(matrix, np.float32),
                                                    exact_max=settings.index_exact_max)
        faiss.omp_set_num_threads(1)
        faiss.write_index(index, str(index_file))
        (directory / "index.txt").write_text(f"{index_type} {ef} {recall}")
    index_type, ef, recall = (directory / "index.txt").read_text().split()
    faiss_index = faiss.read_index(str(index_file), faiss.IO_FLAG_MMAP_IFC)
    manifest = Manifest(model=settings.model, backend="", dimension=faiss_index.d, count=faiss_index.ntotal,
                        index_type=index_type, file=index_file.name, generation=1, built_at="",
                        build_seconds=0, watermark="", ef_search=None if ef == "None" else int(ef),
                        measured_recall_at_10=float(recall))
    return load_catalog(directory), LoadedIndex(manifest=manifest, index=faiss_index, loaded_at=time.time())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=600, help="distinct queries per column")
    parser.add_argument("--workers", type=int, default=None, help="papersift serve --workers (default: its own)")
    parser.add_argument("--synthetic", type=int, default=0, help="also time a synthetic corpus of N papers")
    parser.add_argument("--no-http", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    import faiss

    faiss.omp_set_num_threads(1)  # as the service does
    db = make_engine(settings)
    with db.connect() as connection:
        rows = [Row(*r) for r in connection.execute(text(PAPERS_SQL))]
    catalog = load_catalog(settings.search_dir)
    index = load_index(settings.index_dir, model=settings.model, mmap=True)
    with db.connect() as connection:
        public_ids = list(connection.execute(text(
            "SELECT public_id FROM papers WHERE id = ANY(:ids)"),
            {"ids": [int(i) for i in np.random.default_rng(2).choice(catalog.ids, 400, replace=False)]}).scalars())
    embedder = load_embedder(settings.model, backend=index.manifest.backend, max_tokens=index.manifest.max_tokens,
                             cache_dir=settings.model_cache_dir, threads=1)
    # One mix of titles, three title words and first sentences, in turn. Every column times the same
    # queries (each engine, the in-process search with a fresh query cache, and the server, a
    # separate process); the HTML page takes as many others of the same mix, and the server is
    # warmed with others still.
    queries = distinct_queries(rows, args.queries * 2 + 60)
    measured, page_queries, warm = (queries[:args.queries], queries[args.queries:2 * args.queries],
                                    queries[2 * args.queries:])
    vectors = embedder.encode(measured[:200], batch_size=1)

    reads = ReadPool(db.url.render_as_string(hide_password=False))

    print(f"CPU: {os.cpu_count()} cores, flags {cpu_flags()}")
    print(f"corpus: {catalog.count:,} papers, {index.manifest.count:,} vectors ({index.manifest.index_type}"
          + (f", efSearch {index.manifest.ef_search}, recall@10 {index.manifest.measured_recall_at_10}"
             if index.manifest.index_type == "hnsw" else "") + f"); encoder {embedder.backend}, 1 thread; "
          f"{len(measured)} distinct queries (titles, title words, first sentences) per column")
    bare = bare_engines(settings, catalog, index, embedder, reads, measured, vectors)
    for _ in range(2):  # warm tantivy's and the page cache's pages
        in_process(catalog, index, embedder, reads, measured[:30])
    columns = dict(bare)
    columns["in process: hybrid search"] = in_process(catalog, index, embedder, reads, measured)
    bare_p95 = sum(percentiles(samples)[1] for samples in bare.values())
    notes = {"in process: hybrid search": f"{percentiles(columns['in process: hybrid search'])[1] / bare_p95:.2f} × bare"}
    if not args.no_http:
        server, base = start_server(settings, args.workers)
        try:
            http = http_columns(base, measured, page_queries, warm, public_ids)
        finally:
            server.terminate()
            server.wait(timeout=30)
        columns.update(http)
        api_p95 = percentiles(http["HTTP /api/v1/search"])[1]
        floor_160k = 20.0 if catalog.count <= 200_000 else 40.0
        notes["HTTP /api/v1/search"] = (f"{api_p95 / bare_p95:.2f} × bare (floor ≤ 3.00: "
                                        f"{'ok' if api_p95 <= 3 * bare_p95 else 'MISSED'}); "
                                        f"floor p95 ≤ {floor_160k:.0f}: {'ok' if api_p95 <= floor_160k else 'MISSED'}")
        notes["HTTP /related"] = f"floor p95 ≤ 5: {'ok' if percentiles(http['HTTP /related'])[1] <= 5 else 'MISSED'}"
        notes["HTTP /search (HTML page)"] = (
            f"floor p95 ≤ 30: {'ok' if percentiles(http['HTTP /search (HTML page)'])[1] <= 30 else 'MISSED'}")
    notes["faiss"] = f"{index.manifest.index_type}, top {SEMANTIC_CANDIDATES}"
    print_table(f"{catalog.count:,} papers (bare engines summed p95: {bare_p95:.2f} ms)", columns, notes)
    by_kind = {f"{label} · {kind}": columns[column][start::3]
               for column, label in (("in process: hybrid search", "in process"), ("HTTP /api/v1/search", "HTTP"))
               if column in columns for start, kind in enumerate(QUERY_KINDS)}
    print_table("in process and HTTP by kind of query", by_kind)
    print_engine_floor(bare)
    if args.synthetic:
        real = dict(zip(*index.vectors_of(catalog.ids)))
        big_catalog, big_index = synthetic_corpus(settings, rows, real, args.synthetic)
        big_vectors = vectors
        big = bare_engines(settings, big_catalog, big_index, embedder, reads, measured, big_vectors)
        big.pop("row fetch (20)")
        big["in process: hybrid (no rows)"] = timed(
            lambda q: SearchEngine(big_catalog, big_index, QueryEncoder(embedder)).search(SearchRequest(q=q, limit=20)),
            measured)
        print_table(f"synthetic {big_catalog.count:,} papers ({big_index.manifest.index_type}, efSearch "
                    f"{big_index.manifest.ef_search}, recall@10 {big_index.manifest.measured_recall_at_10})", big)


if __name__ == "__main__":
    main()
