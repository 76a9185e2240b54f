"""Load: requests/s, p50/p95/p99 and errors of `papersift serve` on 127.0.0.1 under concurrent
clients, the server's memory (per worker, and what the second adds), then the same load while
`papersift index --rebuild` republishes both indexes mid-run (the service swaps them in).

    PAPERSIFT_DATA_DIR=var/b160 .venv/bin/python bench/load.py [--seconds 60] [--clients 16] [--mix hybrid|site]

The service runs as a subprocess on a free port with serve's default workers (one per core;
`--workers N` to choose). `--mix hybrid` (the default, issue 15's floor: ≥ 150 requests/s, p99
≤ 250 ms, 0 errors) sends only hybrid searches, each query text once (titles, title fragments with
a typo, first sentences of abstracts drawn from the served corpus), so no answer comes from the
cache. `--mix site` is the site's mix, built from the service itself before the timed runs: 50 %
/api/v1/search (exact titles, title fragments with a typo, first sentences of abstracts, keyword
mode, a venue + year_from filter), 20 % /api/v1/papers/{id}/related, 15 % /api/v1/papers/{id},
15 % listings (/api/v1/venues/{venue}/{year}, the HTML pages /search?q= and /paper/{id}). Each
client is an asyncio task with one kept-alive connection that sends its next request when the
previous one answered. An error is a non-2xx answer or a failed request; both phases must have
none. Memory: VmRSS of the server and its child processes, after a warm-up of `--warmup` seconds
and after each phase, and every 10 s between (floor: growth ≤ 10 %); after phase 1, RSS, PSS and
private memory of each worker (floor: the second worker's private memory ≤ 25 % of the first's
RSS). The warm-up is 30 s because RSS climbs ~16 % in the first 40 s of load and then levels off
(2026-11-23). Phase 2 starts the rebuild `--rebuild-at` seconds into the run, runs until it
finished plus 10 s if that is later than `--seconds`, and reports the index generations /readyz
showed before and after. Ratios are phase 2 against phase 1 (the baseline, same process, same
server). The embedded PostgreSQL is stopped at the end when this script started it.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from papersift.settings import Settings  # noqa: E402

KINDS = {  # kind → share of requests; the listing kinds share 15 % equally
    "search": 0.50, "related": 0.20, "paper": 0.15,
    "venue listing": 0.05, "html search": 0.05, "html paper": 0.05,
}
SEARCH_SHAPES = {"title": 0.20, "fragment+typo": 0.25, "sentence": 0.25, "keyword mode": 0.15,
                 "venue+year filter": 0.15}
RSS_GROWTH_FLOOR = 10.0
THROUGHPUT_FLOOR = 150.0  # requests/s (issue 15, distinct hybrid searches, 16 clients, 2 cores)
P99_FLOOR_MS = 250.0
_SYNTAX = re.compile(r'["():]|(?<!\w)-|\b(?:OR|AND|NOT)\b')
_ARXIV_ID = re.compile(r"\d{4}\.\d{4,5}|https?://", re.IGNORECASE)
_GENERATION = re.compile(r"generation (\d+)")


@dataclass
class Paper:
    id: str
    title: str
    abstract: str


@dataclass
class Sample:
    kind: str
    ms: float
    ok: bool


@dataclass
class Phase:
    name: str
    clients: int
    seconds: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rss_before: float = 0.0
    rss_after: float = 0.0
    notes: list[str] = field(default_factory=list)

    def latencies(self, kind: str | None = None) -> list[float]:
        return [s.ms for s in self.samples if kind is None or s.kind == kind]

    @property
    def error_count(self) -> int:
        return sum(not s.ok for s in self.samples)

    @property
    def growth(self) -> float:
        return (self.rss_after / self.rss_before - 1) * 100 if self.rss_before else math.nan


class Deadline:
    """When the clients stop; phase 2 holds it open while the rebuild runs."""

    def __init__(self, at: float) -> None:
        self.at = at


class RequestMix:
    """Draws (kind, path, params) from real papers and venues of the served corpus: the site's mix
    of requests, or (`hybrid_only`) only hybrid searches, each query text sent once."""

    def __init__(self, papers: list[Paper], venue_years: list[tuple[str, int]], *, hybrid_only: bool = False) -> None:
        self.papers = papers
        self.venue_years = venue_years
        self.kinds, self.kind_weights = list(KINDS), list(KINDS.values())
        self.shapes, self.shape_weights = list(SEARCH_SHAPES), list(SEARCH_SHAPES.values())
        self.hybrid_only = hybrid_only
        self.sent: set[str] = set()

    def distinct_query(self, rng: random.Random) -> str:
        """A plain query (title, fragment with a typo or first sentence) not sent before."""
        for _ in range(1000):
            q = query_from(rng, rng.choice(self.papers), rng.choice(["title", "fragment+typo", "sentence"]))
            if q and q not in self.sent:
                self.sent.add(q)
                return q
        raise SystemExit("ran out of distinct queries: use a larger corpus or a shorter run")

    def draw(self, rng: random.Random) -> tuple[str, str, dict]:
        if self.hybrid_only:
            return "search", "/api/v1/search", {"q": self.distinct_query(rng)}
        kind = rng.choices(self.kinds, self.kind_weights)[0]
        paper = rng.choice(self.papers)
        if kind == "search":
            return kind, "/api/v1/search", self.search_params(rng, paper)
        if kind == "related":
            return kind, f"/api/v1/papers/{paper.id}/related", {}
        if kind == "paper":
            return kind, f"/api/v1/papers/{paper.id}", {}
        if kind == "venue listing":
            venue, year = rng.choice(self.venue_years)
            return kind, f"/api/v1/venues/{venue}/{year}", {}
        if kind == "html search":
            return kind, "/search", {"q": query_from(rng, paper, rng.choice(["title", "fragment+typo", "sentence"]))}
        return kind, f"/paper/{paper.id}", {}

    def search_params(self, rng: random.Random, paper: Paper) -> dict:
        shape = rng.choices(self.shapes, self.shape_weights)[0]
        if shape == "keyword mode":
            return {"q": query_from(rng, paper, "fragment"), "mode": "keyword"}
        if shape == "venue+year filter":
            venue, year = rng.choice(self.venue_years)
            return {"q": query_from(rng, paper, rng.choice(["fragment", "sentence"])), "venue": venue,
                    "year_from": year - 1}
        return {"q": query_from(rng, paper, shape)}


def clean(query: str) -> str:
    """Plain words: no query syntax, so every query is valid and none asks for an arXiv id."""
    return " ".join(_SYNTAX.sub(" ", query).split())


def typo(word: str, rng: random.Random) -> str:
    """Swap two neighbouring letters or drop one."""
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    if rng.random() < 0.5:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + word[i + 1:]


def query_from(rng: random.Random, paper: Paper, shape: str) -> str:
    words = clean(paper.title).split()
    if shape == "sentence" and paper.abstract:
        return clean(re.split(r"(?<=[.!?])\s+", paper.abstract)[0])[:300]
    if shape in ("fragment", "fragment+typo") and len(words) > 3:
        start = rng.randrange(len(words) - 2)
        fragment = words[start:start + rng.randint(2, 4)]
        if shape == "fragment+typo":
            longest = max(range(len(fragment)), key=lambda j: len(fragment[j]))
            fragment[longest] = typo(fragment[longest], rng)
        return " ".join(fragment)
    return " ".join(words)


def is_plain(paper: Paper) -> bool:
    return bool(clean(paper.title)) and not _ARXIV_ID.search(paper.title + " " + paper.abstract[:400])


async def load_mix(base: str, papers_per_venue_year: int = 100, seed: int = 7, *,
                   hybrid_only: bool = False) -> RequestMix:
    """Papers and venue-years read from the running service (not timed)."""
    rng = random.Random(seed)
    papers: dict[str, Paper] = {}

    def add(rows: list[dict]) -> None:
        for row in rows:
            paper = Paper(row["id"], row["title"], row.get("abstract") or "")
            if is_plain(paper):
                papers.setdefault(paper.id, paper)

    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for offset in range(0, 1000, 100):
            page = await http.get("/api/v1/search", params={"q": "", "limit": 100, "offset": offset})
            page.raise_for_status()
            add(page.json()["results"])
        venues = (await http.get("/api/v1/venues")).raise_for_status().json()
        venue_years = [(v["venue"], y["year"]) for v in venues for y in v["years"]]
        for venue in venues:
            for year in venue["years"]:
                offset = rng.randrange(max(1, year["papers"] - papers_per_venue_year))
                listing = await http.get(f"/api/v1/venues/{venue['venue']}/{year['year']}",
                                         params={"limit": papers_per_venue_year, "offset": offset})
                add(listing.raise_for_status().json()["results"])
    return RequestMix(sorted(papers.values(), key=lambda p: p.id), venue_years, hybrid_only=hybrid_only)


async def client(number: int, base: str, mix: RequestMix, deadline: Deadline, phase: Phase | None,
                 seed: int) -> None:
    """One user: one connection, the next request as soon as the last one answered."""
    rng = random.Random(seed * 1000 + number)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        while time.perf_counter() < deadline.at:
            kind, path, params = mix.draw(rng)
            started = time.perf_counter()
            try:
                response = await http.get(path, params=params)
                ok, problem = response.is_success, f"{response.status_code} {response.text[:160]!r}"
            except httpx.HTTPError as error:
                ok, problem = False, f"{type(error).__name__}: {error}"
            ms = (time.perf_counter() - started) * 1000
            if phase is not None:
                phase.samples.append(Sample(kind, ms, ok))
                if not ok and len(phase.errors) < 10:
                    phase.errors.append(f"{kind} {path} {params} -> {problem}")


async def drive(base: str, mix: RequestMix, clients: int, deadline: Deadline, phase: Phase | None,
                seed: int) -> float:
    """Run the clients until the deadline; the phase's wall seconds (the load generator's own CPU
    share goes into its notes: it shares the machine with the server)."""
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client(n, base, mix, deadline, phase, seed) for n in range(clients)))
    seconds = time.perf_counter() - started
    if phase is not None:
        phase.notes.append(f"load generator used {(time.process_time() - cpu) / seconds * 100:.0f} % of one core")
    return seconds


async def readyz_generations(http: httpx.AsyncClient) -> tuple[int | None, int | None]:
    """(keyword index, vector index) generations the service reports."""
    checks = (await http.get("/readyz")).json()["checks"]

    def generation(name: str) -> int | None:
        found = _GENERATION.search(checks.get(name, {}).get("detail", ""))
        return int(found.group(1)) if found else None

    return generation("keyword_index"), generation("vector_index")


async def watch_generations(base: str, started: float, stop: asyncio.Event, seen: list) -> None:
    """Every 0.5 s: the generations /readyz reports; `seen` gets (seconds, keyword, vector) on change."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while not stop.is_set():
            try:
                generations = await readyz_generations(http)
            except (httpx.HTTPError, ValueError, KeyError) as error:
                seen.append((time.perf_counter() - started, f"readyz failed: {error}", None))
            else:
                if not seen or seen[-1][1:] != generations:
                    seen.append((time.perf_counter() - started, *generations))
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except TimeoutError:
                pass


async def rebuild_midrun(command: list[str], env: dict, delay: float, deadline: Deadline, planned_end: float,
                         phase: Phase, started: float) -> None:
    """Start `papersift index --rebuild` after `delay` s; keep the run open until it finished + 10 s."""
    await asyncio.sleep(delay)
    deadline.at = math.inf
    began = time.perf_counter()
    try:
        process = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate()
    finally:
        finished = time.perf_counter()
        deadline.at = max(planned_end, finished + 10)
    if deadline.at > planned_end:
        phase.notes.append(f"run extended by {deadline.at - planned_end:.1f} s: the rebuild ended "
                           f"{finished - started:.1f} s into the run")
    phase.notes.append(f"rebuild from {began - started:.1f} s to {finished - started:.1f} s "
                       f"({finished - began:.1f} s), exit {process.returncode}")
    lines = out.decode().strip().splitlines()
    phase.notes += [f"  {line}" for line in lines[-3:]]
    if process.returncode != 0:
        phase.notes += [f"  stderr: {line}" for line in err.decode().strip().splitlines()[-10:]]


def rss_mib(pid: int) -> float:
    """VmRSS of a process and all its descendants, in MiB."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue  # a process that ended meanwhile
    return total / 1024


def worker_pids(pid: int) -> list[int]:
    """The serving processes: the server itself with one worker, else its workers (forked: the
    server's own command line; spawned by multiprocessing: spawn_main)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    server = Path(f"/proc/{pid}/cmdline").read_bytes()
    workers = [c for c in children
               if (command := Path(f"/proc/{c}/cmdline").read_bytes()) == server or b"spawn_main" in command]
    return workers or [pid]


def memory_kib(pid: int) -> dict[str, int]:
    """Rss, Pss and private (Private_Clean + Private_Dirty: the unique set) of one process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "private": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)}


def worker_memory_report(pid: int) -> list[str]:
    """One line per worker, and what the second worker adds to the first (shared index pages are
    counted once: the sum of PSS of all workers against the first's RSS alone)."""
    workers = worker_pids(pid)
    memories = [memory_kib(w) for w in workers]
    lines = [f"worker {i + 1} (pid {w}): RSS {m['rss'] / 1024:.0f} MiB, PSS {m['pss'] / 1024:.0f} MiB, "
             f"private {m['private'] / 1024:.0f} MiB" for i, (w, m) in enumerate(zip(workers, memories))]
    if len(memories) > 1:
        first = memories[0]["rss"]
        together = sum(m["pss"] for m in memories)
        extra = (together / first - 1) * 100
        supervisor = memory_kib(pid)  # holds the pages the workers share, and its own
        lines.append(f"the serving process itself (pid {pid}): RSS {supervisor['rss'] / 1024:.0f} MiB, "
                     f"PSS {supervisor['pss'] / 1024:.0f} MiB, private {supervisor['private'] / 1024:.0f} MiB; "
                     f"with the workers, sum of PSS {(together + supervisor['pss']) / 1024:.0f} MiB")
        lines.append(f"all {len(memories)} workers together (sum of PSS) {together / 1024:.0f} MiB = "
                     f"{extra:+.0f} % over one worker's RSS; the second worker's private memory is "
                     f"{memories[1]['private'] / first * 100:.0f} % of the first's RSS "
                     f"(floor ≤ 25 %: {'ok' if memories[1]['private'] <= 0.25 * first else 'MISSED'})")
    return lines


async def sample_rss(pid: int, stop: asyncio.Event, phase: Phase, every: float = 10.0) -> None:
    """The server's RSS every `every` s of a phase (is growth a warm-up that levels off, or a leak?)."""
    samples = []
    while True:
        samples.append(rss_mib(pid))
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            continue
        break
    samples.append(rss_mib(pid))
    phase.notes.append(f"RSS MiB every {every:.0f} s: " + " ".join(f"{mib:.0f}" for mib in samples))


async def measure(phase: Phase, pid: int, run) -> None:
    """Run one phase (`run` returns its wall seconds) with RSS sampled before, during and after."""
    phase.rss_before = rss_mib(pid)
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(pid, stop, phase))
    phase.seconds = await run
    stop.set()
    await sampler
    phase.rss_after = rss_mib(pid)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(base: str, server: subprocess.Popen, timeout: float = 300) -> None:
    """Until /healthz and /readyz answer 200 (the indexes are loaded)."""
    stop = time.monotonic() + timeout
    for path in ("/healthz", "/readyz"):
        while True:
            if server.poll() is not None:
                raise SystemExit(f"papersift serve exited with {server.returncode} before {path} answered")
            try:
                if httpx.get(base + path, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > stop:
                raise SystemExit(f"{path} did not answer 200 within {timeout:.0f} s")
            time.sleep(0.2)


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    if not samples:
        return math.nan, math.nan, math.nan
    return tuple(float(np.percentile(samples, p)) for p in (50, 95, 99))


def print_report(phases: list[Phase], workers: int) -> None:
    print(f"\npapersift serve, {workers} worker{'s' if workers > 1 else ''}, "
          f"{phases[0].clients} concurrent clients on 127.0.0.1 (latency ms; RSS MiB of the server and its children)")
    header = (f"{'phase':<18}{'clients':>8}{'seconds':>9}{'requests':>10}{'req/s':>9}{'p50':>9}{'p95':>9}{'p99':>9}"
              f"{'errors':>8}{'RSS before':>12}{'RSS after':>11}{'growth':>9}")
    print(header)
    print("-" * len(header))
    for phase in phases:
        p50, p95, p99 = percentiles(phase.latencies())
        print(f"{phase.name:<18}{phase.clients:>8}{phase.seconds:>9.1f}{len(phase.samples):>10,}"
              f"{len(phase.samples) / phase.seconds:>9.1f}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}{phase.error_count:>8}"
              f"{phase.rss_before:>12.0f}{phase.rss_after:>11.0f}{phase.growth:>8.1f}%")
    print("\np95 ms per kind of request (share of requests; requests in brackets)")
    header = f"{'kind':<18}{'share':>7}" + "".join(f"{p.name:>20}" for p in phases) + f"{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for kind, share in KINDS.items():
        p95s = [percentiles(p.latencies(kind))[1] for p in phases]
        ratio = f"{p95s[-1] / p95s[0]:>7.2f}x" if len(p95s) > 1 and p95s[0] else ""
        counts = "".join(f"{p95:>12.1f} ({len(p.latencies(kind)):>5})" for p95, p in zip(p95s, phases))
        print(f"{kind:<18}{share * 100:>6.0f}%{counts}{ratio}")
    if len(phases) > 1:
        base, other = phases[0], phases[-1]
        throughput = (len(other.samples) / other.seconds) / (len(base.samples) / base.seconds)
        p95 = percentiles(other.latencies())[1] / percentiles(base.latencies())[1]
        print(f"\n{other.name} / {base.name}: throughput {throughput:.2f}x, p95 {p95:.2f}x")
        print(f"RSS over both phases: {base.rss_before:.0f} → {other.rss_after:.0f} MiB "
              f"({(other.rss_after / base.rss_before - 1) * 100:+.1f} %)")
    for phase in phases:
        for note in phase.notes:
            print(f"{phase.name}: {note}")
        rate, p99 = len(phase.samples) / phase.seconds, percentiles(phase.latencies())[2]
        print(f"{phase.name}: {rate:.1f} requests/s (floor ≥ {THROUGHPUT_FLOOR:.0f}: "
              f"{'ok' if rate >= THROUGHPUT_FLOOR else 'MISSED'}); p99 {p99:.0f} ms (floor ≤ {P99_FLOOR_MS:.0f}: "
              f"{'ok' if p99 <= P99_FLOOR_MS else 'MISSED'})")
        verdict = "ok" if phase.error_count == 0 else "FAILED"
        memory = "ok" if phase.growth <= RSS_GROWTH_FLOOR else "MISSED"
        print(f"{phase.name}: errors {phase.error_count} (floor 0: {verdict}); RSS growth {phase.growth:.1f} % "
              f"(floor {RSS_GROWTH_FLOOR:.0f} %: {memory})")
        for error in phase.errors:
            print(f"{phase.name}: error: {error}")


async def run_bench(args, base: str, pid: int, papersift: str, env: dict) -> list[Phase]:
    mix = await load_mix(base, hybrid_only=args.mix == "hybrid")
    print(f"request mix from {len(mix.papers):,} papers and {len(mix.venue_years)} venue-years; "
          f"warm-up {args.warmup:.0f} s", file=sys.stderr)
    await drive(base, mix, args.clients, Deadline(time.perf_counter() + args.warmup), None, seed=1)

    steady = Phase("steady", args.clients)
    print(f"phase 1: {args.seconds:.0f} s of load", file=sys.stderr)
    await measure(steady, pid, drive(base, mix, args.clients, Deadline(time.perf_counter() + args.seconds),
                                     steady, seed=2))
    steady.notes += worker_memory_report(pid)
    if args.skip_rebuild:
        return [steady]

    rebuild = Phase("rebuild mid-run", args.clients)
    print(f"phase 2: {args.seconds:.0f} s of load, `papersift index --rebuild` at {args.rebuild_at:.0f} s",
          file=sys.stderr)
    started = time.perf_counter()
    deadline = Deadline(started + args.seconds)
    seen: list = []
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_generations(base, started, stop, seen))
    rebuilder = asyncio.create_task(rebuild_midrun([papersift, "index", "--rebuild"], env, args.rebuild_at,
                                                   deadline, started + args.seconds, rebuild, started))
    await measure(rebuild, pid, drive(base, mix, args.clients, deadline, rebuild, seed=2))
    await rebuilder
    stop.set()
    await watcher
    changes = ", ".join(f"{t:.1f} s: keyword {k} · vector {v}" for t, k, v in seen)
    rebuild.notes.append(f"/readyz generations seen: {changes}")
    if len({(k, v) for _, k, v in seen}) < 2:
        rebuild.notes.append("NO SWAP SEEN: the generations did not change during the run")
    return [steady, rebuild]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each timed phase")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=None,
                        help="uvicorn workers of papersift serve (default: serve's own, one per core)")
    parser.add_argument("--mix", choices=("hybrid", "site"), default="hybrid",
                        help="hybrid: only hybrid searches, each query sent once (issue 15's floor); "
                             "site: the site's mix of searches, related papers, papers and listings")
    parser.add_argument("--warmup", type=float, default=30.0, help="untimed load before phase 1")
    parser.add_argument("--rebuild-at", type=float, default=10.0, help="seconds into phase 2")
    parser.add_argument("--skip-rebuild", action="store_true", help="phase 1 only")
    args = parser.parse_args()
    settings = Settings()
    load_at_start = os.getloadavg()[0]
    papersift = str(Path(sys.executable).parent / "papersift")
    env = {**os.environ, "PAPERSIFT_DATA_DIR": str(settings.data_dir), "PAPERSIFT_LOG_LEVEL": "WARNING"}
    status = subprocess.run([papersift, "db", "status"], env=env, capture_output=True, text=True,
                            check=False).stdout
    embedded_was_stopped = "embedded PostgreSQL" in status and "· stopped" in status

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile(mode="w+") as log:
        command = [papersift, "serve", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--workers", str(args.workers)] if args.workers else []
        server = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        try:
            wait_ready(base, server)
            workers = len(worker_pids(server.pid))
            phases = asyncio.run(run_bench(args, base, server.pid, papersift, env))
        except BaseException:
            log.seek(0)
            print("last lines of the server's log:\n" + "\n".join(log.read().strip().splitlines()[-20:]),
                  file=sys.stderr)
            raise
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            if embedded_was_stopped:
                subprocess.run([papersift, "db", "stop"], env=env, capture_output=True, check=False)
            log.seek(0)
            server_log = log.read().strip().splitlines()
    print(f"data dir {settings.data_dir}; {os.cpu_count()} CPUs; 1-minute load average {load_at_start:.2f} "
          f"at the start, {os.getloadavg()[0]:.2f} at the end (other work on the machine counts too)")
    print_report(phases, workers)
    if any(p.error_count for p in phases) and server_log:
        print("\nlast lines of the server's log:")
        print("\n".join(server_log[-20:]))


if __name__ == "__main__":
    main()
