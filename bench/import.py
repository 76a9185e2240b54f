"""Import all of ../shared/data into an empty database, then again, and print records/s per source.

    .venv/bin/python bench/import.py [--keep] [--writers 1 --writers 2] [--processes N]

Starts a throw-away embedded PostgreSQL in a temporary data directory (stopped and removed at the
end unless --keep). Per source, in the same run:

- parse-only: the source read and mapped without writing (what Python alone costs);
- first import: into the empty table, as `papersift import` does it;
- second import: the same files again, all unchanged (nothing is written);
- plain COPY: the rows the first import stored, COPYed (batch by batch, one transaction each)
  into an unindexed copy of the table: what PostgreSQL needs just to store them.

The CPU time of the cluster's processes is printed per record for the first import and for the
plain COPY: what PostgreSQL spends beyond storing the rows.

Each --writers value imports every source again into truncated tables. Floors (issue 18): first
import >= 3,000 records/s and >= 0.5 x the plain COPY, second import >= 10,000 records/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from indexer.copy_format import COLUMN_LIST  # noqa: E402
from indexer.ingest import ImportSummary, run_import  # noqa: E402
from indexer.mapping import DEFAULT_PROCESSES  # noqa: E402
from indexer.sources.arxiv_snapshot import iter_raw_snapshot, iter_snapshot  # noqa: E402
from indexer.sources.paperlists import iter_paperlists, iter_raw_paperlists  # noqa: E402
from papersift import embedded_pg  # noqa: E402
from papersift.db import make_engine, upgrade_schema  # noqa: E402
from papersift.settings import Settings  # noqa: E402

FLOOR = 3_000
COPY_RATIO_FLOOR = 0.5
UNCHANGED_FLOOR = 10_000
CPU_FLAGS = ("avx2", "avx512f", "sha_ni", "aes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--writers", type=int, action="append",
                        help="concurrent writer connections (repeat to compare; default 2)")
    parser.add_argument("--processes", type=int, default=DEFAULT_PROCESSES,
                        help=f"mapping processes (0: map in the importing process; default {DEFAULT_PROCESSES})")
    args = parser.parse_args()

    shared = Settings().shared_data
    arxiv_file = shared / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz"
    lists = [shared / "venues" / "paperlists"]
    sources = {  # name: (raw items for the importer, mapped records for parse-only, papers.source)
        "arxiv-snapshot": (lambda: iter_raw_snapshot(arxiv_file), lambda: iter_snapshot(arxiv_file), "arxiv"),
        "paperlists": (lambda: iter_raw_paperlists(lists), lambda: iter_paperlists(lists), "venue"),
    }
    data_dir = Path(tempfile.mkdtemp(prefix="papersift-bench-"))
    settings = Settings(_env_file=None, data_dir=data_dir, shared_data=shared)
    engine = make_engine(settings)
    upgrade_schema(engine)
    print(cpu_line(), flush=True)

    parse_rates = {}
    for name, (_, read_records, _) in sources.items():
        started = time.perf_counter()
        parsed = sum(1 for _ in read_records())
        parse_rates[name] = parsed / (time.perf_counter() - started)
    results = []
    postgres_cpu: dict[tuple[str, str], float] = {}  # CPU seconds (per record once divided)
    for writers in args.writers or [2]:
        _empty(engine)
        runs: dict[str, dict[str, ImportSummary]] = {name: {} for name in sources}
        for round_ in ("first", "second"):
            for name, (read_raw, _, _) in sources.items():
                _checkpoint(engine)
                cpu = postgres_cpu_seconds(settings.pgdata_dir)
                runs[name][round_] = run_import(engine, source=name, target=f"{name} ({writers} writers)",
                                                items=read_raw(), batch_size=args.batch_size,
                                                writers=writers, processes=args.processes)
                postgres_cpu[name, round_] = postgres_cpu_seconds(settings.pgdata_dir) - cpu
        for name, (_, _, stored_as) in sources.items():
            cpu = postgres_cpu_seconds(settings.pgdata_dir)
            copy_rate, copied = plain_copy_rate(engine, stored_as, args.batch_size)
            postgres_cpu[name, "copy"] = (postgres_cpu_seconds(settings.pgdata_dir) - cpu) / copied
            postgres_cpu[name, "first"] /= runs[name]["first"].counts.read
            results.append((name, writers, runs[name]["first"], runs[name]["second"], copy_rate))

    print(f"\nimport of ../shared/data into an empty database, then again (batch {args.batch_size:,}, "
          f"{args.processes} mapping processes)\n")
    print(f"{'source':<16}{'writers':>8}{'records':>9}{'first rec/s':>13}{'plain COPY':>12}{'ratio':>7}"
          f"{'second rec/s':>14}{'unchanged':>11}{'parse-only':>12}{'pg us/rec':>11}{'COPY pg':>9}  floors")
    for name, writers, first, second, copy_rate in results:
        ratio = first.rate / copy_rate
        floors = " ".join(verdict for verdict in (
            _verdict(first.rate >= FLOOR, f"{FLOOR:,}"), _verdict(ratio >= COPY_RATIO_FLOOR, f"{COPY_RATIO_FLOOR}x"),
            _verdict(second.rate >= UNCHANGED_FLOOR, f"{UNCHANGED_FLOOR:,}")))
        print(f"{name:<16}{writers:>8}{first.counts.read:>9,}{first.rate:>13,.0f}{copy_rate:>12,.0f}{ratio:>7.2f}"
              f"{second.rate:>14,.0f}{second.counts.unchanged:>11,}{parse_rates[name]:>12,.0f}"
              f"{postgres_cpu[name, 'first'] * 1e6:>11.0f}{postgres_cpu[name, 'copy'] * 1e6:>9.0f}  {floors}")
    print("\nfirst: inserted " + ", ".join(f"{name} {first.counts.inserted:,} (rejected {first.counts.rejected:,})"
                                          for name, _, first, _, _ in results[:len(sources)]))

    engine.dispose()
    if args.keep:
        print(f"\nkept: PAPERSIFT_DATA_DIR={data_dir}")
    else:
        embedded_pg.stop(settings.pgdata_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def plain_copy_rate(engine, source: str, batch_size: int) -> tuple[float, int]:
    """(records/s, records) of COPYing the stored rows of `source` into an unindexed copy of papers,
    in batches of `batch_size` (one transaction each), on one connection; the rows are read out first."""
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        with connection.cursor() as cursor:
            with cursor.copy(f"COPY (SELECT {COLUMN_LIST} FROM papers WHERE source = %s ORDER BY id) TO STDOUT",
                             (source,)) as copy:
                lines = b"".join(bytes(chunk) for chunk in copy).split(b"\n")[:-1]
            reloptions = cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'papers'").fetchone()[0]
            with_options = f" WITH ({', '.join(reloptions)})" if reloptions else ""
            cursor.execute("DROP TABLE IF EXISTS papers_plain")
            cursor.execute(f"CREATE TABLE papers_plain (LIKE papers INCLUDING DEFAULTS INCLUDING STORAGE){with_options}")
        connection.commit()
        _checkpoint(engine)
        started = time.perf_counter()
        for start in range(0, len(lines), batch_size):
            with connection.transaction(), connection.cursor() as cursor:
                with cursor.copy(f"COPY papers_plain ({COLUMN_LIST}) FROM STDIN") as copy:
                    copy.write(b"\n".join(lines[start:start + batch_size]) + b"\n")
        seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE papers_plain")
        connection.commit()
    finally:
        raw.close()
    return len(lines) / seconds, len(lines)


def postgres_cpu_seconds(pgdata: Path) -> float:
    """CPU seconds used so far by the cluster's postmaster and its processes (Linux /proc)."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(entry.name) == postmaster or int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_line() -> str:
    """The CPU this ran on: model, cores and the flags the import's speed depends on."""
    info = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "unknown")
    flags = set(next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), []))
    wanted = " ".join(flag for flag in CPU_FLAGS if flag in flags) or f"none of {', '.join(CPU_FLAGS)}"
    return f"CPU: {model} · {os.cpu_count()} cores · flags {wanted}"


def _verdict(ok: bool, floor: str) -> str:
    return f"{floor} {'ok' if ok else 'LOW'}"


def _checkpoint(engine) -> None:
    """Start each timed phase with nothing left to flush from the one before."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("CHECKPOINT"))


def _empty(engine) -> None:
    """Start each comparison from empty tables."""
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE papers, rejects, ingest_runs CASCADE"))


if __name__ == "__main__":
    main()
