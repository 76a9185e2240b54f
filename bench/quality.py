"""Known-item search quality: MRR@10 and Recall@1/10/100 per query set and mode, with a bm25s
baseline over the same documents and queries.

    PAPERSIFT_DATA_DIR=var/eval .venv/bin/python bench/quality.py [--per-set 400] [--tune]

The corpus is whatever the data directory's database holds (imported and indexed with
`papersift import ...` and `papersift index`). Query sets, built from the papers themselves with a
fixed seed and split into a development half (used only by --tune) and a test half (reported):

- exact title: the title as stored;
- typo title: the title with one word dropped (not the first) and one typo (two adjacent letters
  swapped in a word of ≥ 5 letters);
- description: the first sentence of the abstract's results part — the first sentence after the
  opening one that reports what the paper shows ("we show", "results", "outperforms", ...);
- keywords: the venue record's author keywords joined by commas (papers with ≥ 3 keywords);
- pasted abstract: the paper's whole abstract as stored (line breaks, LaTeX, quotes), sent as is;
- mixed script: a Chinese sentence built around the distinctive Latin name a title opens with
  ("Long-VMNet: ...", a name no other title opens with), glued to the Chinese as people write it.

Every query of every set is also parsed as typed (no escaping), and the number answered with an
error (a 4xx in the service) is printed; it should be 0.
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from papersift.db import make_engine  # noqa: E402
from papersift.embedding import load_embedder  # noqa: E402
from papersift.errors import IndexNotReady, InvalidQuery  # noqa: E402
from papersift.settings import Settings  # noqa: E402
from papersift.vector_index import load_index  # noqa: E402
from service.search.catalog import load_catalog  # noqa: E402
from service.search.engine import SearchEngine, SearchRequest  # noqa: E402
from service.search.fusion import DEFAULT_WEIGHTS, FusionWeights  # noqa: E402
from service.search.query_language import parse_query  # noqa: E402
from service.search.semantic import QueryEncoder  # noqa: E402

SEED = 20261123
RESULT_CUES = re.compile(r"\b(we show|we demonstrate|results|outperform|achiev|experiments? (show|demonstrate)|"
                         r"improv|state[- ]of[- ]the[- ]art|significantly)", re.IGNORECASE)
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@dataclass
class Query:
    set_name: str
    text: str
    target: int
    raw: bool = False  # sent as typed; the older sets neutralize query syntax (see _escape)


CHINESE_TEMPLATES = (
    "提出了一种新的方法{}，用于解决这一问题。",
    "我想找介绍{}的那篇论文",
    "{}是怎么训练的？它的主要贡献是什么",
    "关于{}模型的论文，实验结果如何",
)
LEADING_NAME = re.compile(r"^([A-Za-z][A-Za-z0-9-]*[A-Z][A-Za-z0-9-]*):\s")


def distinctive_names(rows) -> dict[int, str]:
    """Paper id → the name its title opens with ("Long-VMNet: ..."), when no other title opens
    with the same name."""
    found: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        match = LEADING_NAME.match(row.title)
        if match and len(match.group(1)) >= 3:
            found.setdefault(match.group(1).lower(), []).append((row.id, match.group(1)))
    return {entries[0][0]: entries[0][1] for entries in found.values() if len(entries) == 1}


def build_queries(rows, per_set: int) -> dict[str, list[Query]]:
    rng = random.Random(SEED)
    rows = list(rows)
    rng.shuffle(rows)
    sets: dict[str, list[Query]] = {"exact title": [], "typo title": [], "description": [], "keywords": [],
                                    "pasted abstract": [], "mixed script": []}
    names = distinctive_names(rows)
    for row in rows:
        if len(sets["exact title"]) < per_set:
            sets["exact title"].append(Query("exact title", row.title, row.id))
        typo = typo_title(row.title, rng)
        if typo and len(sets["typo title"]) < per_set:
            sets["typo title"].append(Query("typo title", typo, row.id))
        sentence = results_sentence(row.abstract)
        if sentence and len(sets["description"]) < per_set:
            sets["description"].append(Query("description", sentence, row.id))
        if row.keywords and len(row.keywords) >= 3 and len(sets["keywords"]) < per_set:
            sets["keywords"].append(Query("keywords", ", ".join(row.keywords), row.id))
        if len(sets["pasted abstract"]) < per_set:
            sets["pasted abstract"].append(Query("pasted abstract", row.abstract, row.id, raw=True))
        if row.id in names and len(sets["mixed script"]) < per_set:
            template = CHINESE_TEMPLATES[len(sets["mixed script"]) % len(CHINESE_TEMPLATES)]
            sets["mixed script"].append(Query("mixed script", template.format(names[row.id]), row.id, raw=True))
    return {name: queries for name, queries in sets.items() if len(queries) >= 40}


def typo_title(title: str, rng: random.Random) -> str | None:
    words = title.split()
    if len(words) < 4:
        return None
    words.pop(rng.randrange(1, len(words)))
    candidates = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not candidates:
        return None
    i = rng.choice(candidates)
    word = words[i]
    j = rng.randrange(1, len(word) - 2)
    words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2:]
    return " ".join(words)


def results_sentence(abstract: str) -> str | None:
    sentences = [s.strip() for s in SENTENCE.split(abstract or "") if s.strip()]
    for sentence in sentences[1:]:
        if RESULT_CUES.search(sentence) and 8 <= len(sentence.split()) <= 60 and "$" not in sentence:
            return sentence
    return None


def rank_of(ids: list[int], target: int) -> int | None:
    try:
        return ids.index(target) + 1
    except ValueError:
        return None


def metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {
        "MRR@10": sum(1 / r for r in ranks if r and r <= 10) / n,
        "R@1": sum(1 for r in ranks if r == 1) / n,
        "R@10": sum(1 for r in ranks if r and r <= 10) / n,
        "R@100": sum(1 for r in ranks if r and r <= 100) / n,
    }


def run_engine(engine: SearchEngine, queries: list[Query], mode: str) -> tuple[list[int | None], float]:
    ranks, started = [], time.perf_counter()
    for query in queries:
        text_ = query.text if query.raw else _escape(query.text)
        outcome = engine.search(SearchRequest(q=text_, mode=mode, limit=100))
        ranks.append(rank_of([r.id for r in outcome.results], query.target))
    return ranks, (time.perf_counter() - started) / max(len(queries), 1) * 1000


def _refused(text_: str) -> bool:
    try:
        parse_query(text_)
    except InvalidQuery:
        return True
    return False


def _escape(text_: str) -> str:
    """Queries are plain text: neutralize query-language syntax a title may contain."""
    cleaned = text_.replace('"', " ")
    words = []
    for word in cleaned.split():
        if word == "OR":
            word = "or"
        if word.startswith("-"):
            word = word.lstrip("-")
        if re.match(r"^[A-Za-z]+:\S", word):
            word = word.replace(":", " ", 1)
        if re.match(r"^https?://", word):
            continue
        words.append(word)
    return " ".join(words)


class Bm25Baseline:
    """bm25s over title + abstract (English stopwords, Snowball stemmer), the issue's baseline."""

    def __init__(self, rows) -> None:
        import bm25s
        import Stemmer

        self.bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        self.ids = np.asarray([r.id for r in rows])
        corpus = [f"{r.title} {r.abstract}" for r in rows]
        tokens = bm25s.tokenize(corpus, stopwords="en", stemmer=self.stemmer, show_progress=False)
        self.retriever = bm25s.BM25()
        self.retriever.index(tokens, show_progress=False)

    def run(self, queries: list[Query]) -> tuple[list[int | None], float]:
        started = time.perf_counter()
        tokens = self.bm25s.tokenize([q.text for q in queries], stopwords="en", stemmer=self.stemmer,
                                     show_progress=False)
        results, _ = self.retriever.retrieve(tokens, k=100, show_progress=False, n_threads=1)
        ranks = [rank_of(self.ids[row].tolist(), q.target) for row, q in zip(results, queries)]
        return ranks, (time.perf_counter() - started) / max(len(queries), 1) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-set", type=int, default=400, help="queries per set (half dev, half test)")
    parser.add_argument("--tune", action="store_true", help="grid-search fusion weights on the dev half")
    args = parser.parse_args()
    settings = Settings()
    engine_db = make_engine(settings)
    with engine_db.connect() as connection:
        rows = connection.execute(text(
            "SELECT id, title, abstract, keywords FROM papers WHERE is_published AND length(abstract) > 200 "
            "ORDER BY id")).all()
    catalog = load_catalog(settings.search_dir)
    try:
        index = load_index(settings.index_dir, model=settings.model)
    except IndexNotReady:
        index = None
        print("no vector index: semantic and hybrid columns are skipped")
    encoder = QueryEncoder(load_embedder(  # queries in the index's embedding space, as the service does
        settings.model, backend=index.manifest.backend, max_tokens=index.manifest.max_tokens,
        cache_dir=settings.model_cache_dir, threads=1)) if index else None
    embedded = set()
    if index is not None:
        embedded = set(index.vectors_of(np.asarray([r.id for r in rows], np.int64))[0].tolist())
        rows = [r for r in rows if r.id in embedded]  # known items must be in both indexes
    sets = build_queries(rows, args.per_set)
    engine = SearchEngine(catalog, index, encoder)
    if index is not None:
        print(f"vectors: {index.manifest.backend}, {index.manifest.max_tokens} tokens "
              f"(space {index.manifest.space or index.manifest.model!r})")
    print(f"corpus: {catalog.count:,} papers in the catalog, {len(embedded):,} with vectors; "
          f"queries per set: {', '.join(f'{k} {len(v)}' for k, v in sets.items())} (half dev, half test)")
    queries_typed = [q for queries in sets.values() for q in queries]
    refused = [q for q in queries_typed if _refused(q.text)]
    print(f"answered with an error (a 4xx in the service), every set's queries as typed: "
          f"{len(refused)} of {len(queries_typed)}" + "".join(f"\n  {q.set_name}: {q.text[:80]!r}" for q in refused[:5]))
    if args.tune and index is not None:
        tune(engine, sets)
    baseline = Bm25Baseline(list(_all_rows(engine_db)))
    modes = ["keyword"] + (["semantic", "hybrid"] if index is not None else [])
    header = f"{'query set':<16} {'method':<14} {'MRR@10':>7} {'R@1':>6} {'R@10':>6} {'R@100':>6} {'ms/q':>7}"
    print(header)
    print("-" * len(header))
    for name, queries in sets.items():
        test = queries[len(queries) // 2:]
        runs = {"bm25s baseline": baseline.run(test)}
        for mode in modes:
            runs[mode] = run_engine(engine, test, mode)
        for method, (ranks, ms) in runs.items():
            m = metrics(ranks)
            print(f"{name:<16} {method:<14} {m['MRR@10']:>7.4f} {m['R@1']:>6.3f} {m['R@10']:>6.3f} "
                  f"{m['R@100']:>6.3f} {ms:>7.1f}")
        print()


def _all_rows(engine_db):
    with engine_db.connect() as connection:
        yield from connection.execute(text("SELECT id, title, abstract FROM papers WHERE is_published ORDER BY id"))


def tune(engine: SearchEngine, sets: dict[str, list[Query]]) -> None:
    """Grid over fusion weights; the score is the mean MRR@10 over the dev halves of all sets."""
    dev = {name: queries[: len(queries) // 2] for name, queries in sets.items()}
    results = []
    for semantic, title in itertools.product((0.05, 0.1, 0.25, 0.5, 1.0), (0.1, 0.25, 0.5)):
        engine.weights = FusionWeights(lexical=1.0, semantic=semantic, title=title)
        per_set = {name: metrics(run_engine(engine, queries, "hybrid")[0])["MRR@10"] for name, queries in dev.items()}
        results.append((float(np.mean(list(per_set.values()))), engine.weights, per_set))
    results.sort(key=lambda r: -r[0])
    for score, weights, per_set in results[:5]:
        print(f"dev mean MRR@10 {score:.4f}  {weights}  " + ", ".join(f"{k} {v:.3f}" for k, v in per_set.items()))
    engine.weights = results[0][1]
    print(f"tuned weights used below: {engine.weights} (defaults: {DEFAULT_WEIGHTS})\n")


if __name__ == "__main__":
    main()
