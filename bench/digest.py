"""The daily digest at scale: 10,000 subscribers with 50 starred papers each, ranked over a day of
1,500 new papers, end to end except SMTP.

    .venv/bin/python bench/digest.py [--source var/b160] [--subscribers 10000] [--compare-models]

Vectors are real: the published vector index of a papersift data directory (`--source`, 160k
papers), read in place (memory-mapped, read-only) through a symlink. The day's 1,500 papers and
the 50 stars of each reader are drawn from its papers; their rows in a throw-away embedded
PostgreSQL carry the real ids but placeholder titles and abstracts (the bench reads no catalog
text). Each reader has one or two of 12 category subscriptions. Mail goes to an IN-PROCESS STUB
SENDER (it renders the message to bytes and counts it; no SMTP), the one fake of this bench.

Printed: the run (every mail claimed, composed, "sent" and marked in PostgreSQL), the same
run again (everything already sent), the preparation alone (papers, subscriptions, libraries,
models), peak RSS and the CPU. Floor (issue 20): ≤ 60 s end to end on a 2-core machine.

--compare-models measures the ranking model choice (DECISIONS.md) on real vectors (`--quality-source`,
18.6k venue papers embedded by the model): simulated readers with 50 stars from one or two venue
communities (ML, vision, NLP, language models) or topics (neighbourhoods of random papers), 1,500
new papers; precision@20 and time per reader of LinearSVC (C=0.01, balanced, against 1,000 random
background papers), of the digest's closed-form model and of plain Rocchio (stars' mean minus the
background's).

Note: most vectors of the 160k data directory are bench/fill_vectors.py mixtures of real donor
vectors, realistic in size and spread (what the timing needs) but not in meaning; hence the
quality comparison's own source.
"""

from __future__ import annotations

import argparse
import importlib
import io
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from papersift import embedded_pg  # noqa: E402
from papersift.db import make_engine, upgrade_schema  # noqa: E402
from papersift.digest import run as digest_run  # noqa: E402
from papersift.digest.periods import parse_period  # noqa: E402
from papersift.digest.shards import shares_for  # noqa: E402
from papersift.settings import Settings  # noqa: E402
from papersift.vector_index import load_index  # noqa: E402

cpu_line = importlib.import_module("bench.import").cpu_line  # the other benches' CPU line
FLOOR_SECONDS = 60.0
DAY_PAPERS = 1_500
STARS = 50
STAR_POOL = 40_000
CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "cs.RO", "stat.ML", "cs.IR", "cs.CR", "cs.NE", "cs.SE",
              "cs.HC", "eess.IV"]
EXPRESSIONS = ["cs.LG", "cs.CL", "cs.CV", "cs.AI+cs.LG", "cs.RO", "stat.ML+cs.LG-cs.CV", "cs.IR", "cs.CR",
               "cs.NE+cs.AI", "cs.SE", "cs.HC", "eess.IV+cs.CV"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("var/b160"),
                        help="a papersift data directory with a published vector index (read only)")
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--compare-models", action="store_true", help="also measure SVM vs the closed form")
    parser.add_argument("--quality-source", type=Path, default=Path("var/eval-torch"),
                        help="a data directory of real vectors with venue columns, for --compare-models")
    args = parser.parse_args()
    print(cpu_line(), flush=True)

    data_dir = Path(tempfile.mkdtemp(prefix="papersift-bench-digest-"))
    settings = Settings(_env_file=None, data_dir=data_dir, smtp_url=None)
    source_index = args.source / "index" / settings.index_dir.name
    settings.index_dir.parent.mkdir(parents=True)
    settings.index_dir.symlink_to(source_index.resolve(), target_is_directory=True)
    engine = make_engine(settings)
    try:
        upgrade_schema(engine)
        started = time.perf_counter()
        index = load_index(source_index, model=settings.model, mmap=True)
        ids = index._flat_storage()[0]
        ids = ids[ids >= 0]
        day = date.today()
        _fill(engine, ids, args.subscribers, day)
        print(f"setup: {args.subscribers:,} subscribers × {STARS} stars, {DAY_PAPERS:,} new papers, "
              f"{len(ids):,} real vectors · {time.perf_counter() - started:.1f} s", flush=True)
        del index

        # Shared with the forked mailing processes (papersift/digest/shards.py).
        mails, mail_bytes = multiprocessing.Value("q", 0), multiprocessing.Value("q", 0)

        def stub_sender(_settings, message) -> None:  # IN-PROCESS STUB: no SMTP in this bench
            size = len(message.as_bytes())
            with mails.get_lock():
                mails.value += 1
                mail_bytes.value += size

        rows = []
        for label in ("first run (mails everyone)", "second run (all sent: skipped)"):
            began = time.perf_counter()
            summary = digest_run.send_digests(settings, engine, cadence="daily", period_key=day.isoformat(),
                                              sender=stub_sender)
            seconds = time.perf_counter() - began
            rows.append((label, seconds, summary))
        began = time.perf_counter()
        with Session(engine) as session:
            subscribers = digest_run._subscribers(session, "daily")
            digest_run._prepare(settings, session, parse_period("daily", day.isoformat()), subscribers)
        prepare_seconds = time.perf_counter() - began

        print(f"\n{'run':<34}{'seconds':>9}{'sent':>8}{'skipped':>9}{'mails/s':>9}  floor")
        for label, seconds, summary in rows:
            rate = summary.sent / seconds if summary.sent else 0
            verdict = f"≤ {FLOOR_SECONDS:.0f} s {'ok' if seconds <= FLOOR_SECONDS else 'SLOW'}" if summary.sent else ""
            print(f"{label:<34}{seconds:>9.1f}{summary.sent:>8,}{summary.skipped:>9,}{rate:>9.0f}  {verdict}")
        print(f"{'preparation alone':<34}{prepare_seconds:>9.1f}")
        peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        print(f"\nmails: {mails.value:,}, {mail_bytes.value / max(1, mails.value) / 1024:.1f} KiB each on average · "
              f"peak RSS {peak / 1024:.0f} MiB (the largest process; the mailing processes share the rest "
              f"copy-on-write) · mailing processes: {len(shares_for(range(args.subscribers)))}")
    finally:
        engine.dispose()
        embedded_pg.stop(settings.pgdata_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    if args.compare_models:
        compare_models(args.quality_source, settings.model)


def _fill(engine, ids: np.ndarray, subscribers: int, day: date) -> None:
    """The day's papers, the starred papers and the readers, written with COPY."""
    rng = np.random.default_rng(20)
    chosen = rng.choice(ids, DAY_PAPERS + STAR_POOL, replace=False)
    new, pool = chosen[:DAY_PAPERS], chosen[DAY_PAPERS:]
    papers = io.StringIO()
    for number, paper_id in enumerate(chosen):
        categories = rng.choice(CATEGORIES, 2, replace=False)
        announced = day.isoformat() if number < DAY_PAPERS else "2020-01-01"
        papers.write(f"{paper_id}\tarxiv:bench.{paper_id}\tarxiv\t{paper_id}\tPaper {paper_id}\tPaper {paper_id}\t"
                     f"paper {paper_id}\t"
                     f"{'A placeholder abstract of the bench. ' * 25}\t{{Ada Lovelace,Alan Turing}}\t"
                     f"{{{','.join(categories)}}}\t{categories[0]}\t{announced}\th\th\n")
    accounts, marks, subscriptions = io.StringIO(), io.StringIO(), io.StringIO()
    for account_id in range(1, subscribers + 1):
        accounts.write(f"{account_id}\treader{account_id}@bench.example\tkey{account_id}\n")
        for paper_id in rng.choice(pool, STARS, replace=False):
            marks.write(f"{account_id}\tstar\tarxiv:bench.{paper_id}\n")
        for expression in rng.choice(EXPRESSIONS, rng.integers(1, 3), replace=False):
            subscriptions.write(f"{account_id}\tcategory\t{expression}\tdaily\n")
    with engine.begin() as connection:
        cursor = connection.connection.cursor()
        for table, columns, buffer in (
                ("papers", "id, public_id, source, source_record_id, title, title_raw, title_key, abstract, authors, "
                 "categories, "
                 "primary_category, announced_date, record_hash, content_hash", papers),
                ("accounts", "id, email, unsubscribe_key", accounts),
                ("library_marks", "account_id, kind, paper", marks),
                ("subscriptions", "account_id, kind, expression, cadence", subscriptions)):
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
        connection.execute(text("ANALYZE"))


def compare_models(source: Path, model: str, readers: int = 100) -> None:
    """p@20 and time per reader of LinearSVC, the digest's model and plain Rocchio (see the docstring)."""
    from sklearn.svm import LinearSVC

    from indexer.catalog_columns import load_columns
    from indexer.lexical import read_catalog_manifest
    from papersift.digest.ranking import background_from, fit_reader, score_matrix

    columns = load_columns(source / "search" / read_catalog_manifest(source / "search").directory / "columns.npz")
    ids, vectors = load_index(source / "index" / "all-MiniLM-L6-v2", model=model).vectors_of(columns.ids)
    venues = np.asarray(columns.vocab["venue"])[columns.venue[np.searchsorted(columns.ids, ids)]]
    communities = np.asarray([VENUE_COMMUNITIES.get(v, -1) for v in venues])
    rng = np.random.default_rng(1)
    sample = vectors[rng.choice(len(vectors), 1000, replace=False)]
    shared = background_from(sample)
    no_negatives = np.zeros((0, vectors.shape[1]), np.float32)
    print(f"\nranking models: {len(vectors):,} real vectors of {source.name}; {readers} simulated readers per row; "
          f"p@20 = share of the top 20 of {DAY_PAPERS:,} new papers that are of the reader's interest")
    print(f"{'interest':<30}{'base':>6}{'LinearSVC':>11}{'digest model':>14}{'Rocchio':>9}{'ms SVM':>8}{'ms digest':>11}")
    for simulation in ("venue community", "topic"):
        for interests in (1, 2):
            precision: dict[str, list[float]] = {}
            seconds: dict[str, list[float]] = {}
            for _ in range(readers):
                stars, new, relevant = _simulated_reader(rng, vectors, communities, simulation, interests)
                star_vectors, new_vectors = vectors[stars], vectors[new]
                began = time.perf_counter()
                svm = LinearSVC(C=0.01, class_weight="balanced", tol=1e-4, max_iter=2000).fit(
                    np.vstack([star_vectors, sample]), np.r_[np.ones(len(stars)), np.zeros(len(sample))])
                scores = {"svm": new_vectors @ svm.coef_[0]}
                seconds.setdefault("svm", []).append(time.perf_counter() - began)
                began = time.perf_counter()
                fitted = fit_reader(star_vectors, [], no_negatives, shared)
                scores["digest"] = score_matrix([fitted], new_vectors)[0]
                seconds.setdefault("digest", []).append(time.perf_counter() - began)
                scores["rocchio"] = new_vectors @ (star_vectors.mean(axis=0) - shared.mean)
                for name, score in scores.items():
                    precision.setdefault(name, []).append(relevant[np.argsort(-score)[:20]].mean())
                precision.setdefault("base", []).append(relevant.mean())
            mean = {name: float(np.mean(values)) for name, values in precision.items()}
            label = f"{simulation}, {interests}"
            print(f"{label:<30}{mean['base']:>6.3f}{mean['svm']:>11.3f}{mean['digest']:>14.3f}{mean['rocchio']:>9.3f}"
                  f"{np.mean(seconds['svm']) * 1000:>8.2f}{np.mean(seconds['digest']) * 1000:>11.3f}")


# Venue series by research community: the interest of a "venue community" reader.
VENUE_COMMUNITIES = {"neurips": 0, "icml": 0, "iclr": 0, "iccv": 1, "cvpr": 1, "eccv": 1, "acl": 2, "naacl": 2,
                     "emnlp": 2, "colm": 3}


def _simulated_reader(rng, vectors: np.ndarray, communities: np.ndarray, simulation: str, interests: int):
    """(starred rows, new rows, whether each new row is of interest). A venue-community reader stars
    50 papers of one or two communities; a topic reader 50 papers among the 300 nearest to one or two
    random seed papers, and 30 more of those neighbourhoods are among the new ones."""
    everything = np.arange(len(vectors))
    if simulation == "venue community":
        wanted = rng.choice(np.unique(communities[communities >= 0]), interests, replace=False)
        stars = rng.choice(np.flatnonzero(np.isin(communities, wanted)), STARS, replace=False)
        new = rng.choice(np.setdiff1d(everything, stars), DAY_PAPERS, replace=False)
        return stars, new, np.isin(communities[new], wanted)
    hoods = [np.argsort(-(vectors @ vectors[seed]))[:300] for seed in rng.choice(len(vectors), interests, replace=False)]
    liked = np.unique(np.concatenate(hoods))
    stars = np.concatenate([rng.choice(hood, STARS // interests, replace=False) for hood in hoods])
    new = np.concatenate([rng.choice(np.setdiff1d(liked, stars), 30, replace=False),
                          rng.choice(np.setdiff1d(everything, liked), DAY_PAPERS - 30, replace=False)])
    return stars, new, np.isin(new, liked)


if __name__ == "__main__":
    main()
