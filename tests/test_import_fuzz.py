"""Property-based: real records from ../shared/data, mutated (fields dropped, wrong types, huge
strings, control characters, invalid UTF-8, nested garbage), imported through the real importers
into PostgreSQL. Nothing crashes; each record is either imported or stored as a reject with a
reason; a mutation that breaks a record is always a reject and a harmless one never is."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from indexer.ingest import run_import
from indexer.sources.arxiv_snapshot import iter_snapshot
from indexer.sources.paperlists import iter_list_file
from papersift.normalize import title_key

CONTROL = "\x00\x01\x07\x1b\x85\u200b\u202e\u2066\ufeff"
GARBAGE = st.recursive(st.none() | st.integers() | st.booleans() | st.text(max_size=5),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                       max_leaves=12)

# (mutation, field) → does it break the record? Fields are the format's own names.
SNAPSHOT_BREAKING = {("drop", "id"), ("drop", "title"), ("wrong_type", "title"), ("wrong_type", "id"),
                     ("wrong_type", "abstract"), ("wrong_type", "authors_parsed"), ("wrong_type", "versions"),
                     ("huge", "title"), ("huge", "abstract"), ("invalid_utf8", "title"), ("nested", "title"),
                     ("nested", "abstract")}
SNAPSHOT_HARMLESS = {("drop", "abstract"), ("drop", "comments"), ("drop", "authors_parsed"), ("drop", "doi"),
                     ("control", "title"), ("control", "abstract"), ("drop", "versions")}
LIST_BREAKING = {("drop", "title"), ("wrong_type", "title"), ("wrong_type", "abstract"), ("wrong_type", "author"),
                 ("huge", "title"), ("huge", "abstract"), ("invalid_utf8", "title"), ("nested", "title"),
                 ("nested", "author")}
LIST_HARMLESS = {("drop", "abstract"), ("drop", "author"), ("drop", "keywords"), ("drop", "tldr"),
                 ("control", "title"), ("control", "abstract")}


def _real_records(path: Path, count: int) -> list[dict]:
    if path.name.endswith(".jsonl"):
        with path.open() as handle:
            return [json.loads(line) for line in itertools.islice(handle, count)]
    with gzip.open(path) as handle:
        return json.load(handle)[:count]


def _mutations(kinds: set[tuple[str, str]]):
    return st.lists(st.tuples(st.integers(0, 39), st.sampled_from(sorted(kinds))), min_size=1, max_size=6)


def _mutate(record: dict, mutation: str, name: str, data) -> tuple[dict, bool]:
    """The mutated record and whether its bytes must carry invalid UTF-8 in that field."""
    record = dict(record)
    if mutation == "drop":
        record.pop(name, None)
    elif mutation == "wrong_type":
        record[name] = data.draw(st.sampled_from([12345, 3.5, True, {"x": 1}] + ([["a"]] if name != "authors_parsed" else ["a b"])))
    elif mutation == "huge":
        record[name] = "word " * 20_000
    elif mutation == "control":
        value = record.get(name) or "text"
        cut = data.draw(st.integers(0, len(value)))
        record[name] = value[:cut] + data.draw(st.text(CONTROL, min_size=1, max_size=4)) + value[cut:]
    elif mutation == "nested":
        record[name] = data.draw(st.lists(GARBAGE, min_size=1, max_size=3) | st.dictionaries(st.text(max_size=3), GARBAGE, min_size=1, max_size=3))
    elif mutation == "invalid_utf8":
        record[name] = "BAD\u2063BYTES " + str(record.get(name) or "")
        return record, True
    return record, False


def _encode(record: dict, invalid: bool) -> bytes:
    raw = json.dumps(record, ensure_ascii=False).encode()
    return raw.replace("\u2063".encode(), b"\xff\xfe") if invalid else raw


def _stored(engine, origin: str, public_ids: list[str]):
    with engine.connect() as connection:
        titles = dict(connection.execute(text("SELECT public_id, title FROM papers WHERE public_id = ANY(:ids)"),
                                         {"ids": public_ids}).all())
        rejects = dict(connection.execute(text("SELECT locator, reason FROM rejects WHERE origin = :o"),
                                          {"o": origin}).all())
    return titles, rejects


def _forget(engine, origin: str, public_ids: list[str]) -> None:
    """Remove what an example wrote, so the next example (or a replay of this one) starts clean."""
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM papers WHERE public_id = ANY(:ids)"), {"ids": public_ids})
        connection.execute(text("DELETE FROM rejects WHERE origin = :o"), {"o": origin})
        connection.execute(text("DELETE FROM ingest_runs WHERE target = :o"), {"o": origin})


FUZZ = settings(max_examples=30, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def snapshot_records(shared_data):
    return _real_records(shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl", 40)


@pytest.fixture
def list_records(shared_data):
    return _real_records(shared_data / "venues" / "paperlists" / "colm" / "colm2024.json.gz", 40)


@FUZZ
@given(data=st.data(), chosen=_mutations(SNAPSHOT_BREAKING | SNAPSHOT_HARMLESS))
def test_mutated_snapshot_records(data, chosen, snapshot_records, engine, tmp_path):
    lines, expected = [], []
    for number, (index, (mutation, name)) in enumerate(chosen, start=1):
        record, invalid = _mutate(snapshot_records[index], mutation, name, data)
        new_id = f"2601.{number:05d}"
        if (mutation, name) not in {("drop", "id"), ("wrong_type", "id")}:
            record["id"] = new_id
        lines.append(_encode(record, invalid))
        expected.append(((mutation, name) in SNAPSHOT_BREAKING, f"arxiv:{new_id}", f"line {number}"))
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    summary = run_import(engine, source="arxiv-snapshot", target=str(path), items=iter_snapshot(path), batch_size=3)

    public_ids = [public_id for _, public_id, _ in expected]
    titles, rejects = _stored(engine, str(path), public_ids)
    _forget(engine, str(path), public_ids)
    assert summary.counts.read == len(lines)
    assert summary.counts.rejected == len(rejects)
    for breaks, public_id, locator in expected:
        if breaks:
            assert rejects.get(locator), (locator, chosen)
        else:
            assert public_id in titles and locator not in rejects, (locator, rejects.get(locator), chosen)
            assert not set(titles[public_id]) & set(CONTROL)  # control characters never reach the store
        assert (public_id in titles) != (locator in rejects)  # every record accounted for, once


@FUZZ
@given(data=st.data(), chosen=_mutations(LIST_BREAKING | LIST_HARMLESS))
def test_mutated_paperlists_records(data, chosen, list_records, engine, tmp_path):
    items, expected, invalid_any = [], [], False
    for position, (index, (mutation, name)) in enumerate(chosen):
        record, invalid = _mutate(list_records[index], mutation, name, data)
        record["site"] = f"https://openreview.net/forum?id=fuzzFuzz{position:04d}"
        items.append((record, invalid))
        invalid_any |= invalid
        forum = record["site"].rsplit("=", 1)[1]
        expected.append(((mutation, name) in LIST_BREAKING, f"openreview:{forum}", f"item {position}"))
    body = b"[" + b",".join(_encode(record, invalid) for record, invalid in items) + b"]"
    path = tmp_path / "colm2024.json"
    path.write_bytes(body)

    summary = run_import(engine, source="paperlists", target=str(path), items=iter_list_file(path), batch_size=3)

    public_ids = [public_id for _, public_id, _ in expected]
    titles, rejects = _stored(engine, str(path), public_ids)
    _forget(engine, str(path), public_ids)
    assert summary.counts.read == len(items)
    for breaks, public_id, locator in expected:
        if breaks:
            assert rejects.get(locator), (locator, chosen)
        else:
            assert public_id in titles and locator not in rejects, (locator, rejects.get(locator), chosen)
            assert title_key(titles[public_id])  # a readable title was kept
            assert not set(titles[public_id]) & set(CONTROL)
        assert (public_id in titles) != (locator in rejects)
