"""SIGKILL `papersift index` midway while the service answers: the service keeps serving the previous
index the whole time, the database holds only whole embedding batches, and the re-run embeds just
the rest and publishes an index equal to a clean run's."""

from __future__ import annotations

import gzip
import itertools
import os
import signal
import subprocess
import sys
import threading
import time

from tests.conftest import Cli, query_rows

BATCH = 8


def test_killed_index_build_keeps_the_service_on_the_previous_index(index_settings, shared_data, client_for, tmp_path):
    cli = Cli(index_settings)
    assert cli("import", "arxiv-snapshot", shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl").exit_code == 0
    assert "generation 1" in cli("index").output
    with gzip.open(shared_data / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz", "rt") as handle:
        (tmp_path / "more.jsonl").write_text("".join(itertools.islice(handle, 120)))
    assert cli("import", "arxiv-snapshot", tmp_path / "more.jsonl").exit_code == 0

    failures, answered, done = [], [], threading.Event()
    with client_for(index_settings) as client:
        def keep_asking() -> None:
            while not done.is_set():
                related = client.get("/api/v1/papers/arxiv:0704.0002/related", params={"limit": 5})
                search = client.get("/api/v1/search", params={"q": "photon pairs at hadron colliders"})
                for response in (related, search):
                    if response.status_code != 200:
                        failures.append((response.status_code, response.text[:200]))
                answered.append(client.get("/api/v1/index").json()["generation"])

        asker = threading.Thread(target=keep_asking)
        asker.start()
        environment = dict(os.environ, PAPERSIFT_DATABASE_URL=index_settings.database_url.get_secret_value(),
                           PAPERSIFT_DATA_DIR=str(index_settings.data_dir), PAPERSIFT_EMBED_BATCH_SIZE=str(BATCH))
        build = subprocess.Popen([sys.executable, "-m", "papersift.cli", "index"], env=environment,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        embedded = 200
        deadline = time.monotonic() + 120
        while embedded < 200 + 3 * BATCH and time.monotonic() < deadline and build.poll() is None:
            time.sleep(0.1)
            embedded = query_rows(index_settings, "SELECT count(*) FROM paper_embeddings")[0][0]
        assert build.poll() is None, build.stdout.read().decode()
        build.send_signal(signal.SIGKILL)
        build.wait()
        killed_at = query_rows(index_settings, "SELECT count(*) FROM paper_embeddings")[0][0]
        time.sleep(1.0)  # the service keeps answering after the kill
        done.set()
        asker.join()

        assert failures == []
        assert answered and set(answered) == {1}  # the previous index, the whole time
        assert 200 < killed_at < 320 and (killed_at - 200) % BATCH == 0  # whole batches only

        rerun = cli("index")
        assert rerun.exit_code == 0, rerun.output
        assert f"embedded {320 - killed_at} " in rerun.output  # only the rest
        assert "index of 320 vectors (generation 2" in rerun.output
        deadline = time.monotonic() + 10
        while client.get("/api/v1/index").json()["generation"] != 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        status = client.get("/api/v1/index").json()
    assert (status["generation"], status["count"]) == (2, 320)
    # exactly one current vector per published paper, as a clean run gives
    assert query_rows(index_settings, """
        SELECT count(*), count(DISTINCT e.paper_id) FROM paper_embeddings e JOIN papers p ON p.id = e.paper_id
        WHERE e.content_hash = p.content_hash""")[0] == (320, 320)
