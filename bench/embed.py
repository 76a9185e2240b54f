"""Embedding backends on real abstracts: documents/s at a 256-token cap, single-query latency, and
known-item retrieval quality against torch fp32 in the same process.

    .venv/bin/python bench/embed.py [--docs 600] [--queries 200]

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

from papersift.embedding import BACKENDS, load_embedder  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=600)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", nargs="*", default=list(BACKENDS))
    args = parser.parse_args()

    settings = Settings()
    papers = load_papers(settings.shared_data / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz", args.docs)
    abstracts = [abstract for _, abstract in papers]
    titles = [title for title, _ in papers[: args.queries]]
    cache = Path(tempfile.mkdtemp(prefix="papersift-bench-models-"))
    calibration = load_papers(settings.shared_data / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz", 300, skip=0)

    rows = []
    for backend in args.backends:
        embedder = load_embedder(settings.model, backend=backend, cache_dir=cache,
                                 calibration_texts=[f"{t}. {a}" for t, a in calibration])
        embedder.encode(abstracts[:32])  # warm up
        started = time.perf_counter()
        corpus = embedder.encode(abstracts, batch_size=32)
        docs_per_second = len(abstracts) / (time.perf_counter() - started)
        query_embedder = load_embedder(settings.model, backend=backend, cache_dir=cache, threads=1)
        query_embedder.encode(titles[:4])
        latencies = []
        for title in titles[:50]:
            started = time.perf_counter()
            query_embedder.encode([title])
            latencies.append((time.perf_counter() - started) * 1000)
        queries = query_embedder.encode(titles)
        rows.append((backend, docs_per_second, statistics.median(latencies), *known_item(queries, corpus)))

    baseline = next((r for r in rows if r[0] == "torch"), rows[0])
    print(f"\nembedding {len(abstracts)} real abstracts (256-token cap); known-item: {len(titles)} titles "
          f"→ abstracts\n")
    print(f"{'backend':<15}{'docs/s':>9}{'vs torch':>10}{'query p50 ms':>14}{'MRR@10':>9}{'MRR vs torch':>14}"
          f"{'R@1':>7}{'R@10':>7}")
    for backend, rate, query_ms, mrr, r1, r10 in rows:
        change = (mrr - baseline[3]) / baseline[3] * 100 if baseline[3] else 0.0
        print(f"{backend:<15}{rate:>9.1f}{rate / baseline[1]:>9.2f}x{query_ms:>14.1f}{mrr:>9.3f}"
              f"{change:>+13.1f}%{r1:>7.2f}{r10:>7.2f}")


if __name__ == "__main__":
    main()
