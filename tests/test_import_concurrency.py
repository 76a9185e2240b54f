"""Imports write two batches at once but commit them in order: a failure never leaves a gap, and
the same paper in neighbouring batches cannot deadlock them."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, func, select, text

from indexer.ingest import run_import
from indexer.records import PaperRecord
from indexer.repeats import SeenKeys
from indexer.sources.arxiv_snapshot import SOURCE, iter_snapshot
from indexer.store import upsert_papers
from papersift.models import IngestRun, Paper


def _sample(shared_data) -> list[PaperRecord]:
    records = list(iter_snapshot(shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl"))
    assert all(isinstance(record, PaperRecord) for record in records)
    return records


def _stored(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Paper.public_id, Paper.title)).all())


def test_a_failing_batch_keeps_the_batches_after_it_from_committing(engine, shared_data):
    records = _sample(shared_data)
    poisoned = list(records)
    poisoned[110] = dataclasses.replace(records[110], year=10**12)  # no PostgreSQL integer holds it

    with pytest.raises(Exception, match="out of range"):
        run_import(engine, source=SOURCE, target="sample", items=poisoned, batch_size=50, writers=2)

    stored = _stored(engine)
    assert set(stored) == {record.public_id for record in records[:100]}  # the prefix, no gap
    with engine.connect() as conn:
        run = conn.execute(select(IngestRun.status, IngestRun.read_count, IngestRun.inserted_count,
                                  IngestRun.cursor)).one()
    assert tuple(run) == ("failed", 100, 100, {"items": 100})

    summary = run_import(engine, source=SOURCE, target="sample", items=records, batch_size=50, writers=2)
    assert (summary.counts.inserted, summary.counts.unchanged) == (100, 100)  # a re-run finishes the job
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Paper)).scalar_one() == 200


@pytest.mark.timeout(120)
def test_a_paper_in_two_neighbouring_batches_is_written_in_batch_order(engine, shared_data):
    records = _sample(shared_data)
    last = records[99]
    revised = dataclasses.replace(last, title_raw=f"{last.title_raw} (revised)")
    # The second batch starts with the first batch's last paper: written at once, it would lock
    # that row before the first batch reaches it, and each would wait for the other.
    items = records[:100] + [revised] + records[100:199]

    summary = run_import(engine, source=SOURCE, target="twice", items=items, batch_size=100, writers=2)

    counts = summary.counts
    assert (counts.read, counts.inserted, counts.updated, counts.duplicate) == (200, 199, 0, 1)
    assert counts.duplicate_ids == [last.public_id]
    stored = _stored(engine)
    assert len(stored) == 199
    assert stored[last.public_id].endswith("(revised)")


@pytest.mark.timeout(120)
def test_papers_another_writer_adds_meanwhile_are_upserted_not_refused(engine, shared_data):
    """A writer finds the papers new, but another transaction stores them before it commits: its
    COPY straight into the table fails, and it upserts them instead."""
    rows = [record.to_row() for record in _sample(shared_data)[:20]]
    rows[3] = {**rows[3], "title": "Another writer's title", "record_hash": "different"}
    first = engine.connect()
    first.begin()
    assert upsert_papers(first, rows[:10]).inserted == 10  # stored, not committed yet
    with ThreadPoolExecutor(1) as pool, engine.begin() as second:
        racing = pool.submit(upsert_papers, second, [record.to_row() for record in _sample(shared_data)[:20]])
        time.sleep(1)
        assert not racing.done()  # it found all 20 new, and its COPY waits on the first one's rows
        first.commit()
        first.close()
        counts = racing.result(timeout=60)
    assert (counts.inserted, counts.updated, counts.unchanged) == (10, 1, 9)
    stored = _stored(engine)
    assert len(stored) == 20
    assert stored[rows[3]["public_id"]] != "Another writer's title"


def test_a_run_broken_off_mid_statement_releases_its_repeat_check_quietly(engine):
    """Ctrl-C inside a statement of the run's repeat check (an interrupt invalidates the
    connection's transaction) must surface as the interrupt, not as a failing clean-up."""
    seen = SeenKeys(engine)
    assert seen.split([{"public_id": "a"}], key=lambda row: row["public_id"]) == ([{"public_id": "a"}], [])
    seen._connection.execute(text("SELECT 1"))
    seen._connection.invalidate()  # what SQLAlchemy does when a BaseException interrupts the driver

    seen.close()

    with engine.connect() as connection:  # no pooled connection keeps the run's table
        assert connection.execute(text("SELECT to_regclass('import_seen_keys')")).scalar() is None
