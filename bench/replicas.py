"""Replicas on many hosts: three `papersift serve` processes with separate data directories (local
processes standing in for hosts) against one PostgreSQL and an S3 server (moto's, on 127.0.0.1),
one publisher. Measures

1. how long after a new keyword catalog is published locally it is live on all three (each
   replica's /readyz names the new generation), with bench/load.py's clients sending searches to
   every replica across the swap (failed requests counted; floor: ≤ 60 s, 0 failures);
2. how long a replica on an empty data directory takes to become ready against a store holding a
   bigger corpus: the published 160k-paper indexes of `--cold-from` (read, never written; floor ≤ 60 s).

    .venv/bin/python bench/replicas.py [--cold-from var/b160]

The replicas' database holds COLM 2024 + 2025 and the Kaggle sample (imported here into an embedded
PostgreSQL under a temporary folder); the 160k cold start only needs a database that answers, since
readiness is the indexes downloaded, verified and loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # noqa: E402

from bench.load import Deadline, Phase, drive, free_port, load_mix, percentiles, readyz_generations  # noqa: E402
from bench.search import cpu_flags  # noqa: E402
from indexer.lexical import build_catalog  # noqa: E402
from indexer.store_upload import upload_published  # noqa: E402
from papersift import embedded_pg  # noqa: E402
from papersift.db import make_engine  # noqa: E402
from papersift.settings import Settings  # noqa: E402
from tests.s3_server import s3_server  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PAPERSIFT = [sys.executable, "-m", "papersift.cli"]  # this checkout's code, run from its root
IMPORTS = (("import", "paperlists", "venues/paperlists/colm"),
           ("import", "arxiv-snapshot", "arxiv/kaggle-snapshot-sample-200.jsonl"))


def prepare_database(root: Path, shared: Path) -> str:
    """An embedded PostgreSQL under `root` with a migrated, imported database; its URL."""
    pgdata = root / "pgdata"
    embedded_pg.ensure_running(pgdata)
    url = f"postgresql://postgres@/postgres?host={embedded_pg.status(pgdata).socket_dir}"
    env = {**os.environ, "PAPERSIFT_DATABASE_URL": url, "PAPERSIFT_DATA_DIR": str(root / "publisher")}
    for args in (("db", "upgrade"), *((kind, what, str(shared / path)) for kind, what, path in IMPORTS)):
        subprocess.run([*PAPERSIFT, *args], env=env, cwd=REPO, check=True, capture_output=True)
    return url


def start_replica(name: str, root: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = (root / f"{name}.log").open("w")
    server = subprocess.Popen([*PAPERSIFT, "serve", "--port", str(port), "--workers", "1"], cwd=REPO,
                              env={**env, "PAPERSIFT_DATA_DIR": str(root / name)}, stdout=log, stderr=log)
    return server, f"http://127.0.0.1:{port}"


async def wait_generation(bases: list[str], generation: int, started: float, *, timeout: float) -> dict[str, float]:
    """Seconds after `started` at which each replica's /readyz first named `generation`."""
    live: dict[str, float] = {}
    clients = {base: httpx.AsyncClient(base_url=base, timeout=5) for base in bases}
    try:
        while len(live) < len(bases) and time.perf_counter() - started < timeout:
            for base, http in clients.items():
                if base in live:
                    continue
                try:
                    keyword, _ = await readyz_generations(http)
                except (httpx.HTTPError, ValueError, KeyError):
                    continue
                if keyword == generation:
                    live[base] = time.perf_counter() - started
            await asyncio.sleep(0.2)
    finally:
        for http in clients.values():
            await http.aclose()
    return live


async def swap_under_load(publisher: Settings, bases: list[str], clients: int, after: float) -> tuple[Phase, dict, float]:
    """Load on every replica; publish + upload a new catalog generation mid-run; the phase, when each
    replica served it (seconds after the local publish) and the upload's seconds."""
    mixes = [await load_mix(base, hybrid_only=True) for base in bases]  # searches only: no vector index here
    phase = Phase("searches on 3 replicas across the swap", clients * len(bases))
    deadline = Deadline(float("inf"))
    load = asyncio.gather(*(drive(base, mix, clients, deadline, phase, seed=n)
                            for n, (base, mix) in enumerate(zip(bases, mixes))))
    await asyncio.sleep(5)
    engine = make_engine(publisher)
    generation = (await asyncio.to_thread(build_catalog, engine, publisher.search_dir, force=True)).manifest.generation
    engine.dispose()
    published = time.perf_counter()
    await asyncio.to_thread(upload_published, publisher)
    uploaded = time.perf_counter() - published
    live = await wait_generation(bases, generation, published, timeout=120)
    await asyncio.sleep(after)
    deadline.at = 0
    await load
    return phase, live, uploaded


def cold_start(root: Path, env: dict[str, str], source: Path, endpoint: str,
               bucket: str) -> tuple[float, float | None, float | None, str]:
    """Upload `source`'s published indexes to a fresh prefix, start a replica on an empty data dir;
    (upload seconds, seconds to ready, seconds to the vector index loaded too)."""
    prefix = f"s3://{bucket}/cold"
    large = Settings(_env_file=None, data_dir=source, index_store=prefix, s3_endpoint_url=endpoint)
    started = time.perf_counter()
    lines = upload_published(large)
    uploaded = time.perf_counter() - started
    server, base = start_replica("cold", root, {**env, "PAPERSIFT_INDEX_STORE": prefix})
    started, ready, complete = time.perf_counter(), None, None
    try:
        while complete is None and time.perf_counter() - started < 600:
            try:
                response = httpx.get(base + "/readyz", timeout=5)
                if response.status_code == 200:
                    ready = ready or time.perf_counter() - started
                    if response.json()["checks"]["vector_index"]["ok"]:
                        complete = time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    finally:
        stop(server)
    return uploaded, ready, complete, "; ".join(lines)


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients per replica")
    parser.add_argument("--after", type=float, default=5.0, help="seconds of load after the last replica swapped")
    parser.add_argument("--cold-from", type=Path, default=Path("var/b160"),
                        help="a data dir whose published indexes the cold replica downloads (read only)")
    args = parser.parse_args()
    shared = Settings().shared_data
    with tempfile.TemporaryDirectory(prefix="papersift-replicas-") as folder, s3_server() as s3:
        root = Path(folder)
        url = prepare_database(root, shared)
        store = f"s3://{s3.bucket}/papersift"
        publisher = Settings(_env_file=None, database_url=url, data_dir=root / "publisher", index_store=store,
                             s3_endpoint_url=s3.endpoint_url)
        engine = make_engine(publisher)
        build_catalog(engine, publisher.search_dir)
        engine.dispose()
        upload_published(publisher)
        env = {**os.environ, "PAPERSIFT_DATABASE_URL": url, "PAPERSIFT_INDEX_STORE": store,
               "PAPERSIFT_S3_ENDPOINT_URL": s3.endpoint_url, "PAPERSIFT_INDEX_STORE_POLL_SECONDS": "1",
               "PAPERSIFT_INDEX_RELOAD_SECONDS": "1", "PAPERSIFT_LOG_LEVEL": "WARNING"}
        replicas = [start_replica(f"replica-{n}", root, env) for n in range(1, 4)]
        bases = [base for _, base in replicas]
        try:
            started = time.perf_counter()
            first = asyncio.run(wait_generation(bases, 1, started, timeout=120))
            phase, live, uploaded = asyncio.run(swap_under_load(publisher, bases, args.clients, args.after))
        except BaseException as error:
            if isinstance(error, httpx.HTTPStatusError):
                print(f"{error.request.url} answered {error.response.text[:400]}", file=sys.stderr)
            log = (root / "replica-1.log").read_text().strip().splitlines()
            print("last lines of replica-1's log:\n" + "\n".join(log[-20:]), file=sys.stderr)
            raise
        finally:
            for server, _ in replicas:
                stop(server)
        cold = cold_start(root, env, args.cold_from, s3.endpoint_url, s3.bucket)
        embedded_pg.stop(root / "pgdata")
    print_report(first, phase, live, uploaded, cold, args.cold_from)


def print_report(first, phase: Phase, live: dict, uploaded: float, cold, cold_from: Path) -> None:
    p50, p95, p99 = percentiles(phase.latencies())
    print(f"CPU flags: {cpu_flags()}; {os.cpu_count()} CPUs; replicas: papersift serve --workers 1 each; "
          f"store: moto server on 127.0.0.1")
    rows = [
        ("3 empty replicas ready (small corpus, first generation)", f"{max(first.values()):.1f} s" if len(first) == 3
         else f"only {len(first)} of 3"),
        ("new catalog generation: upload to the store", f"{uploaded:.1f} s"),
        ("new catalog generation live on all 3 (after the local publish)",
         f"{max(live.values()):.1f} s" if len(live) == 3 else f"only {len(live)} of 3 within 120 s"),
        ("  per replica", ", ".join(f"{s:.1f} s" for s in sorted(live.values()))),
        (f"requests during the swap ({phase.clients} clients)", f"{len(phase.samples):,}"),
        ("failed requests", f"{phase.error_count}"),
        ("latency p50 / p95 / p99", f"{p50:.0f} / {p95:.0f} / {p99:.0f} ms"),
        (f"cold store upload ({cold_from.name})", f"{cold[0]:.1f} s"),
        ("cold replica ready (keyword index), empty data dir", f"{cold[1]:.1f} s" if cold[1] else "not ready"),
        ("cold replica with the vector index loaded too", f"{cold[2]:.1f} s" if cold[2] else "not loaded"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure':<{width}} | value |\n|{'-' * (width + 2)}|------:|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")
    print(f"cold upload: {cold[3]}")
    for error in phase.errors:
        print("error:", error)


if __name__ == "__main__":
    main()
