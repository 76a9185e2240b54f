"""The `papersift` command as a real subprocess: import, SIGKILL midway, re-run to completion."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, func, select, text

from papersift.models import Paper

LINES = 12_000
BATCH = 500


def _papersift(settings, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "PAPERSIFT_DATABASE_URL": settings.database_url.get_secret_value(),
        "PAPERSIFT_DATA_DIR": str(settings.data_dir),
        "PAPERSIFT_IMPORT_BATCH_SIZE": str(BATCH),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "papersift.cli", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _running(marker: str) -> list[int]:
    """Pids of the processes whose command line holds `marker`."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:  # gone meanwhile
            pass
    return pids


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Paper)).scalar_one()


def test_sigkilled_import_leaves_whole_batches_and_the_rerun_completes(tmp_path: Path, settings, engine,
                                                                      shared_data):
    subset = tmp_path / "subset.jsonl.gz"
    with gzip.open(shared_data / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz", "rb") as source:
        lines = list(itertools.islice(source, LINES))
    with gzip.open(subset, "wb") as target:
        target.writelines(lines)
    distinct_ids = len({json.loads(line)["id"] for line in lines})

    process = _papersift(settings, "import", "arxiv-snapshot", str(subset))
    deadline = time.monotonic() + 120
    while _count(engine) < 3 * BATCH and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while _running(str(subset)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _running(str(subset)) == []  # its mapping processes went with it
    killed_at = _count(engine)
    assert 0 < killed_at < distinct_ids, "the import should have been killed midway"
    assert killed_at % BATCH == 0  # only whole batches were committed

    rerun = _papersift(settings, "import", "arxiv-snapshot", str(subset))
    out, err = rerun.communicate(timeout=300)

    assert rerun.returncode == 0, err
    assert f"resumed after {killed_at:,}" in out
    assert _count(engine) == distinct_ids
    with engine.connect() as conn:
        statuses = conn.execute(text("SELECT status FROM ingest_runs ORDER BY id")).scalars().all()
    assert statuses == ["failed", "succeeded"]

    clean = _papersift(settings, "import", "arxiv-snapshot", str(subset))
    out, _ = clean.communicate(timeout=300)
    assert f"read {LINES:,} · inserted 0 · updated 0 · unchanged {LINES:,} · rejected 0" in out
