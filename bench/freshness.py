"""A day's arXiv announcement, from harvest start until its papers are findable on the running site.

    PAPERSIFT_DATA_DIR=var/b160 .venv/bin/python bench/freshness.py [--papers 1500] [--delay 1]

A local server (bench/arxiv_day.py) plays one announcement day built from real records of
../shared/data (new ids, the day's dates) through arXiv's API at arXiv's page size
(`harvest_page_size`) and a mirror's politeness delay (`--delay`). `papersift serve` runs on the
data directory throughout. The clock starts when `papersift harvest arxiv` starts; `papersift
index` runs when it ends (as the scheduled jobs do), and two pollers ask the site every 0.2 s:
- keyword: the day's last paper is among the top five of `/api/v1/search?mode=keyword` for its
  title (the day's records are real ones under new ids: the original paper may rank with it);
- vector: `/api/v1/papers/{id}/related` answers for it (its vector is in the served index);
- listing: `/api/v1/arxiv/{its category}` (the latest day) lists it (read from PostgreSQL).
Every line the commands print is shown with its time. Afterwards the day's papers are deleted and
`papersift index` runs again (the removal path), so the corpus is left as it was.

The vector index keeps the embedding space it was built in (backend and token limit are read from
its manifest). Floors (issue 22, this 2-core kind): keyword catalog updated in <= 3 s at 160k and
<= 5 s at 1M; harvest start -> keyword-searchable <= 2 min, -> vector-searchable <= 5 min.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from bench.arxiv_day import build_day, serve_day  # noqa: E402
from bench.search import cpu_flags, start_server  # noqa: E402
from papersift.db import make_engine, upgrade_schema  # noqa: E402
from papersift.settings import Settings  # noqa: E402
from papersift.vector_index import read_manifest  # noqa: E402

SNAPSHOT = "arxiv/arxiv-cs-2025-2026.jsonl.gz"
MONTH = "2612"


@dataclass
class Clock:
    """Seconds since the harvest started, and the lines the commands printed, with their times."""

    started: float = 0.0
    lines: list[tuple[float, str]] = field(default_factory=list)
    failed: bool = False

    def now(self) -> float:
        return time.perf_counter() - self.started

    def run(self, label: str, command: list[str], env: dict[str, str]) -> float:
        """Run a command, time-stamping each line it prints; returns when it ended."""
        self.lines.append((self.now(), f"$ papersift {' '.join(command)}"))
        process = subprocess.Popen([sys.executable, "-m", "papersift.cli", *command], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            line = line.rstrip()
            if line and "\r" not in line:
                self.lines.append((self.now(), f"  {line}"))
        if process.wait() != 0:
            self.lines.append((self.now(), f"  {label} failed: exit code {process.returncode}"))
            self.failed = True
        return self.now()


class Poller(threading.Thread):
    """Asks the site, every 0.2 s, until it answers the question; keeps the time it first did."""

    def __init__(self, clock: Clock, ask) -> None:
        super().__init__(daemon=True)
        self.clock, self.ask, self.at, self.done = clock, ask, None, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                if self.ask():
                    self.at = self.clock.now()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=1500, help="papers in the day's announcement")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds between API requests (a mirror's)")
    parser.add_argument("--reload-seconds", type=float, default=1.0,
                        help="how often the served site looks for a new generation")
    parser.add_argument("--timeout", type=float, default=900, help="give up after this many seconds")
    args = parser.parse_args()

    settings = Settings()
    engine = make_engine(settings)
    upgrade_schema(engine)
    manifest = read_manifest(settings.index_dir)
    if manifest is None:
        raise SystemExit(f"no vector index under {settings.index_dir}: build the corpus first (papersift index)")
    env = {**os.environ, "PAPERSIFT_DATA_DIR": str(settings.data_dir),
           "PAPERSIFT_EMBEDDING_BACKEND": manifest.backend, "PAPERSIFT_EMBEDDING_MAX_TOKENS": str(manifest.max_tokens),
           "PAPERSIFT_INDEX_RELOAD_SECONDS": str(args.reload_seconds), "PAPERSIFT_HARVEST_DELAY_SECONDS": str(args.delay),
           "PAPERSIFT_LOG_LEVEL": "WARNING"}
    print(f"CPU: {os.cpu_count()} cores, flags {cpu_flags()}")
    print(f"corpus: {settings.data_dir} · vector index {manifest.count:,} {manifest.index_type} "
          f"({manifest.backend}, {manifest.max_tokens} tokens) · page size {settings.harvest_page_size}, "
          f"delay {args.delay} s, site reload every {args.reload_seconds} s")

    warm = Clock(time.perf_counter())
    warm.run("index", ["index"], env)  # the corpus as published before the day
    print("\nbefore the day (bringing both indexes up to date):")
    for at, line in warm.lines:
        print(f"  {at:7.1f} s {line}")

    with engine.connect() as connection:
        taken = connection.execute(text(
            "SELECT coalesce(max(substr(public_id, 12)::int), 0) FROM papers WHERE public_id LIKE :p"),
            {"p": f"arxiv:{MONTH}.%"}).scalar()
    day_start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    day = build_day(settings.shared_data / SNAPSHOT, count=args.papers, first_number=taken + 1, month=MONTH,
                    day_start=day_start.replace(tzinfo=None), skip=(taken * 7) % 40_000)
    last = day[-1]
    categories = sorted({paper.categories[0] for paper in day})[:8]
    server, base = start_server(settings, workers=None, env=env)
    http = httpx.Client(base_url=base, timeout=10)
    clock = Clock()

    def keyword_found() -> bool:
        found = http.get("/api/v1/search", params={"q": last.title, "mode": "keyword", "limit": 5}).json()
        return any(r["id"] == f"arxiv:{last.arxiv_id}" for r in found.get("results", []))

    def listed() -> bool:
        listing = http.get(f"/api/v1/arxiv/{last.categories[0]}").json()
        return any(p["id"] == f"arxiv:{last.arxiv_id}" for p in listing.get("new", []))

    def vector_found() -> bool:
        return http.get(f"/api/v1/papers/arxiv:{last.arxiv_id}/related", params={"limit": 3}).status_code == 200

    try:
        with serve_day(day) as (url, requests):
            harvest_env = {**env, "PAPERSIFT_ARXIV_API_URL": url}
            window = ["--since", day_start.strftime("%Y-%m-%dT%H:%M"),
                      "--until", (day_start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")]
            clock.started = time.perf_counter()
            pollers = [Poller(clock, keyword_found), Poller(clock, vector_found), Poller(clock, listed)]
            for poller in pollers:
                poller.start()
            harvested = clock.run("harvest", ["harvest", "arxiv", *sum((["-c", c] for c in categories), []),
                                              *window], harvest_env)
            indexed = clock.run("index", ["index"], env)
            deadline = time.perf_counter() + args.timeout
            while any(p.at is None for p in pollers) and time.perf_counter() < deadline:
                time.sleep(0.2)
            for poller in pollers:
                poller.done.set()
        print(f"\nthe day: {len(day):,} papers ({len(requests)} API pages); the last is {last.arxiv_id} "
              f"'{last.title[:60]}'")
        for at, line in clock.lines:
            print(f"  {at:7.1f} s {line}")
        keyword_at, vector_at, listed_at = (poller.at for poller in pollers)
        print(f"\n{'from harvest start':<40} {'seconds':>9} {'floor':>7}")
        print("-" * 58)
        print(f"{'harvest done':<40} {harvested:>9.1f}")
        print(f"{'index done':<40} {indexed:>9.1f}")
        print(f"{'last paper in its category listing (API)':<40} {_seconds(listed_at):>9}")
        print(f"{'last paper keyword-searchable (site)':<40} {_seconds(keyword_at):>9} {'120':>7}")
        print(f"{'last paper vector-searchable (site)':<40} {_seconds(vector_at):>9} {'300':>7}")
        print(f"{'keyword catalog update (its own time)':<40} {_catalog_seconds(clock.lines):>9} "
              f"{'3 / 5':>7}")
    finally:
        http.close()
        server.terminate()
        server.wait()
        cleanup = Clock(time.perf_counter())
        with engine.begin() as connection:
            removed = connection.execute(text("DELETE FROM papers WHERE public_id = ANY(:ids)"),
                                         {"ids": [f"arxiv:{p.arxiv_id}" for p in day]}).rowcount
        cleanup.run("index", ["index"], env)
        print(f"\nafterwards: deleted the day's {removed:,} papers and indexed again:")
        for at, line in cleanup.lines:
            print(f"  {at:7.1f} s {line}")
    if warm.failed or clock.failed or cleanup.failed:
        raise SystemExit(1)


def _seconds(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "never"


def _catalog_seconds(lines: list[tuple[float, str]]) -> str:
    for _, line in lines:
        if "keyword index" in line and "generation" in line:
            return line.rsplit(", ", 1)[-1].rstrip(")").removesuffix(" s")
    return "?"


if __name__ == "__main__":
    main()
