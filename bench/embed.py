"""Embedding backends on real abstracts at 256 and 128 tokens: documents/s on all cores, single-query
latency on one thread, known-item quality, and mean cosine to torch fp32 at the same cap, all
against torch fp32 at 256 tokens measured in the same run; then the `auto` choice and whether it
meets the floor (>= 2x torch fp32 at 256 tokens on AVX2, >= 3x with VNNI).

    .venv/bin/python bench/embed.py [--docs 600] [--queries 200] [--tokens 256 128]

Known-item evaluation: each query is a paper's title; the corpus holds the papers' abstracts only
(titles removed), from ../shared/data/arxiv. MRR@10 and recall@1/@10 of finding the paper.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from papersift.embedding import load_embedder  # noqa: E402
from papersift.embedding_choice import choose_backend, cpu_flags, installed_backends  # noqa: E402
from papersift.normalize import clean_text  # noqa: E402
from papersift.settings import Settings  # noqa: E402


def load_papers(path: Path, count: int, skip: int = 5000) -> list[tuple[str, str]]:
    """(title, abstract) of real papers with abstracts, from the gzip snapshot."""
    papers = []
    with gzip.open(path, "rt") as handle:
        for line in itertools.islice(handle, skip, None):
            record = json.loads(line)
            if record.get("abstract") and len(record["abstract"]) > 400:
                papers.append((clean_text(record["title"]), clean_text(record["abstract"])))
            if len(papers) == count:
                break
    return papers


def known_item(queries: np.ndarray, corpus: np.ndarray) -> tuple[float, float, float]:
    """MRR@10, recall@1, recall@10 where query i's answer is corpus row i."""
    scores = queries @ corpus.T
    top = np.argsort(-scores, axis=1)[:, :10]
    ranks = [int(np.where(row == i)[0][0]) + 1 if i in row else None for i, row in enumerate(top)]
    mrr = float(np.mean([1 / r if r else 0 for r in ranks]))
    return mrr, float(np.mean([r == 1 for r in ranks])), float(np.mean([r is not None for r in ranks]))


def measure(model: str, backend: str, max_tokens: int, cache: Path, abstracts: list[str],
            titles: list[str], calibration: list[str]) -> dict:
    """One row: documents/s, query p50, known-item quality, and the corpus vectors."""
    embedder = load_embedder(model, backend=backend, cache_dir=cache, max_tokens=max_tokens,
                             calibration_texts=calibration)
    embedder.encode(abstracts[:32])  # warm up
    started = time.perf_counter()
    corpus = embedder.encode(abstracts, batch_size=32)
    rate = len(abstracts) / (time.perf_counter() - started)
    del embedder
    query_embedder = load_embedder(model, backend=backend, cache_dir=cache, max_tokens=max_tokens, threads=1)
    query_embedder.encode(titles[:4])
    latencies = []
    for title in titles[:50]:
        started = time.perf_counter()
        query_embedder.encode([title])
        latencies.append((time.perf_counter() - started) * 1000)
    queries = query_embedder.encode(titles)
    mrr, r1, r10 = known_item(queries, corpus)
    return {"backend": backend, "tokens": max_tokens, "rate": rate, "query_ms": statistics.median(latencies),
            "mrr": mrr, "r1": r1, "r10": r10, "corpus": corpus}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=600)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", nargs="*", default=list(installed_backends()))
    parser.add_argument("--tokens", nargs="*", type=int, default=[256, 128])
    args = parser.parse_args()

    settings = Settings()
    snapshot = settings.shared_data / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz"
    papers = load_papers(snapshot, args.docs)
    abstracts = [abstract for _, abstract in papers]
    titles = [title for title, _ in papers[: args.queries]]
    calibration_papers = load_papers(snapshot, 300, skip=0)
    calibration = [f"{t}. {a}" for t, a in calibration_papers]
    cache = Path(tempfile.mkdtemp(prefix="papersift-bench-models-"))
    flags = cpu_flags()
    print(f"CPU flags: {' '.join(flags) or '(none of avx2/avx512/vnni/amx)'}", flush=True)

    backends = ["torch", *(b for b in args.backends if b != "torch")]
    rows = [measure(settings.model, backend, tokens, cache, abstracts, titles, calibration)
            for tokens in args.tokens for backend in backends]
    baseline = next(r for r in rows if r["backend"] == "torch" and r["tokens"] == args.tokens[0])
    torch_at = {r["tokens"]: r["corpus"] for r in rows if r["backend"] == "torch"}
    print(f"\nembedding {len(abstracts)} real abstracts; known-item: {len(titles)} titles → abstracts; "
          f"ratio vs torch fp32 at {args.tokens[0]} tokens; cosine vs torch fp32 at the same cap\n")
    print(f"{'backend':<15}{'tokens':>7}{'docs/s':>9}{'vs torch':>10}{'query p50 ms':>14}{'MRR@10':>9}"
          f"{'MRR vs torch':>14}{'R@1':>7}{'R@10':>7}{'cosine':>9}")
    for row in rows:
        change = (row["mrr"] - baseline["mrr"]) / baseline["mrr"] * 100
        cosine = float((row["corpus"] * torch_at[row["tokens"]]).sum(axis=1).mean())
        ratio = row["rate"] / baseline["rate"]
        print(f"{row['backend']:<15}{row['tokens']:>7}{row['rate']:>9.1f}{ratio:>9.2f}x"
              f"{row['query_ms']:>14.1f}{row['mrr']:>9.3f}{change:>+13.1f}%"
              f"{row['r1']:>7.2f}{row['r10']:>7.2f}{cosine:>9.4f}")

    # `auto` as a deployment runs it: at the configured token limit (PAPERSIFT_EMBEDDING_MAX_TOKENS,
    # 256 by default), against the floor's baseline, torch fp32 at 256 tokens.
    default_tokens = settings.embedding_max_tokens
    sample = load_papers(snapshot, 64, skip=2000)
    started = time.perf_counter()
    chosen = choose_backend(settings.model, cache, default_tokens, sample, force=True)
    took = time.perf_counter() - started
    row = next((r for r in rows if r["backend"] == chosen and r["tokens"] == default_tokens), None)
    ratio = row["rate"] / baseline["rate"] if row else float("nan")
    mrr_change = (row["mrr"] - baseline["mrr"]) if row else float("nan")
    floor = 3.0 if {"avx512_vnni", "avx_vnni"} & set(flags) else 2.0
    print(f"\nauto → {chosen} at {default_tokens} tokens (chosen in {took:.0f} s): {ratio:.2f}x torch fp32 at "
          f"{args.tokens[0]} tokens, known-item MRR@10 {mrr_change:+.3f}; floor {floor:.0f}x "
          f"{'holds' if ratio >= floor else 'NOT met'} (bench/quality.py measures every search set)")

if __name__ == "__main__":
    main()
