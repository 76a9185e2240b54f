"""Import all of ../shared/data into an empty database and print records/s per source.

    .venv/bin/python bench/import.py [--keep] [--writers 1 --writers 2]

Starts a throw-away embedded PostgreSQL in a temporary data directory (stopped and removed at the
end unless --keep). Baseline: the same source read and mapped without writing, in the same process,
so the table shows what the database costs. Each --writers value imports every source again into
a truncated table (the default, 2, is what `papersift import` uses). Floor (issue 2): 3,000
records/s per source.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from indexer.ingest import run_import  # noqa: E402
from indexer.sources.arxiv_snapshot import iter_snapshot  # noqa: E402
from indexer.sources.paperlists import iter_paperlists  # noqa: E402
from papersift import embedded_pg  # noqa: E402
from papersift.db import make_engine, upgrade_schema  # noqa: E402
from papersift.settings import Settings  # noqa: E402

FLOOR = 3_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--writers", type=int, action="append",
                        help="concurrent writer connections (repeat to compare; default 2)")
    args = parser.parse_args()

    shared = Settings().shared_data
    sources = {
        "arxiv-snapshot": lambda: iter_snapshot(shared / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz"),
        "paperlists": lambda: iter_paperlists([shared / "venues" / "paperlists"]),
    }
    data_dir = Path(tempfile.mkdtemp(prefix="papersift-bench-"))
    settings = Settings(_env_file=None, data_dir=data_dir, shared_data=shared)
    engine = make_engine(settings)
    upgrade_schema(engine)

    parse_rates = {}
    for name, make_items in sources.items():
        started = time.perf_counter()
        parsed = sum(1 for _ in make_items())
        parse_rates[name] = parsed / (time.perf_counter() - started)
    rows = []
    for writers in args.writers or [2]:
        _empty(engine)
        for name, make_items in sources.items():
            summary = run_import(engine, source=name, target=f"{name} ({writers} writers)",
                                 items=make_items(), batch_size=args.batch_size, writers=writers)
            rows.append((name, writers, summary))

    print(f"\nimport into an empty database (batch {args.batch_size:,}; floor {FLOOR:,} rec/s)\n")
    print(f"{'source':<16}{'writers':>8}{'records':>10}{'inserted':>10}{'rejected':>10}{'seconds':>9}"
          f"{'rec/s':>9}{'parse-only rec/s':>18}{'write cost':>12}{'floor':>7}")
    for name, writers, summary in rows:
        c, parse_rate = summary.counts, parse_rates[name]
        print(f"{name:<16}{writers:>8}{c.read:>10,}{c.inserted:>10,}{c.rejected:>10,}{summary.seconds:>9.1f}"
              f"{summary.rate:>9,.0f}{parse_rate:>18,.0f}{parse_rate / summary.rate:>11.2f}x"
              f"{'ok' if summary.rate >= FLOOR else 'LOW':>7}")

    engine.dispose()
    if args.keep:
        print(f"\nkept: PAPERSIFT_DATA_DIR={data_dir}")
    else:
        embedded_pg.stop(settings.pgdata_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def _empty(engine) -> None:
    """Start each comparison from empty tables (and a checkpoint, so none pays for another's)."""
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE papers, rejects CASCADE"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("CHECKPOINT"))


if __name__ == "__main__":
    main()
