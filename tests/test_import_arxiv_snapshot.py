"""`papersift import arxiv-snapshot`: real records, idempotency, in-place updates, rejects."""

from __future__ import annotations

import dataclasses
import gzip
import itertools
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from indexer.ingest import run_import
from indexer.records import RawRecord
from indexer.records import Reject as RecordReject
from indexer.sources.arxiv_snapshot import SOURCE, iter_raw_snapshot, iter_snapshot
from papersift.models import IngestRun, Paper, Reject


def _papers(engine: Engine) -> dict[str, Paper]:
    with engine.connect() as conn:
        rows = conn.execute(select(*Paper.__table__.columns)).all()  # every stored column, deferred ones too
    return {row.public_id: row for row in rows}


def _write_lines(path: Path, lines: list[bytes | str]) -> Path:
    with path.open("wb") as handle:
        for line in lines:
            handle.write((line.encode() if isinstance(line, str) else line) + b"\n")
    return path


def test_the_200_genuine_snapshot_records_import_faithfully(cli, engine, shared_data):
    result = cli("import", "arxiv-snapshot", shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl")

    assert result.exit_code == 0, result.output
    assert "read 200 · inserted 200 · updated 0 · unchanged 0 · rejected 0" in result.output
    papers = _papers(engine)
    assert len(papers) == 200
    first = papers["arxiv:0704.0001"]
    assert first.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert first.title_raw.startswith("Calculation of prompt diphoton production cross sections at "
                                      "Tevatron and\n  LHC energies")
    assert first.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]
    assert first.categories == ["hep-ph"]
    assert first.primary_category == "hep-ph"
    assert first.doi == "10.1103/PhysRevD.76.013009"
    assert first.journal_ref == "Phys.Rev.D76:013009,2007"
    assert first.published_date == date(2007, 4, 2)
    assert [v["version"] for v in first.versions] == ["v1", "v2"]
    assert first.links == {"abs": "https://arxiv.org/abs/0704.0001", "pdf": "https://arxiv.org/pdf/0704.0001"}
    assert first.abstract.startswith("A fully differential calculation in perturbative quantum")
    assert "\n" not in first.abstract


def test_second_import_reports_everything_unchanged_and_writes_nothing(cli, engine, shared_data):
    sample = shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl"
    assert cli("import", "arxiv-snapshot", sample).exit_code == 0
    with engine.connect() as conn:
        before = conn.execute(text("SELECT public_id, xmin::text, updated_at FROM papers ORDER BY id")).all()

    again = cli("import", "arxiv-snapshot", sample)

    assert again.exit_code == 0, again.output
    assert "read 200 · inserted 0 · updated 0 · unchanged 200 · rejected 0" in again.output
    with engine.connect() as conn:
        after = conn.execute(text("SELECT public_id, xmin::text, updated_at FROM papers ORDER BY id")).all()
    assert after == before  # same row versions: nothing was rewritten


def test_a_second_import_maps_no_record_whose_source_hash_is_stored(engine, shared_data):
    sample = shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl"
    run_import(engine, source=SOURCE, target="sample", items=iter_raw_snapshot(sample), batch_size=50)
    mapped: list[str] = []

    def watched(item):  # each raw record, with its mapper noting when it is called
        if not isinstance(item, RawRecord):
            return item

        def mapper(raw: bytes, *, inner=item.mapper, public_id=item.public_id):
            mapped.append(public_id)
            return inner(raw)
        return dataclasses.replace(item, mapper=mapper)

    again = run_import(engine, source=SOURCE, target="sample", batch_size=50, processes=0,  # the watch in view
                       items=(watched(item) for item in iter_raw_snapshot(sample)))

    assert (again.counts.read, again.counts.unchanged, again.counts.inserted, again.counts.updated) == (200, 200, 0, 0)
    assert mapped == []
    with engine.connect() as conn:
        hashes = conn.execute(text("SELECT count(DISTINCT source_hash) FROM papers WHERE source_hash IS NOT NULL"))
        assert hashes.scalar_one() == 200


def test_after_the_mapping_changes_records_are_mapped_again_and_only_their_source_hashes_written(
        cli, engine, shared_data):
    sample = shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl"
    assert cli("import", "arxiv-snapshot", sample).exit_code == 0
    with engine.begin() as conn:  # what a change to the mapping code makes of every stored source hash
        expected = dict(conn.execute(text("SELECT public_id, source_hash FROM papers")).all())
        conn.execute(text("UPDATE papers SET source_hash = 'from older code'"))
        before = conn.execute(text("SELECT public_id, record_hash, updated_at FROM papers ORDER BY id")).all()

    again = cli("import", "arxiv-snapshot", sample)

    assert "read 200 · inserted 0 · updated 0 · unchanged 200 · rejected 0" in again.output
    with engine.connect() as conn:
        assert dict(conn.execute(text("SELECT public_id, source_hash FROM papers")).all()) == expected
        after = conn.execute(text("SELECT public_id, record_hash, updated_at FROM papers ORDER BY id")).all()
        versions = conn.execute(text("SELECT xmin::text FROM papers ORDER BY id")).scalars().all()
    assert after == before  # same content, not touched as an update
    assert cli("import", "arxiv-snapshot", sample).exit_code == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT xmin::text FROM papers ORDER BY id")).scalars().all() == versions


def test_a_raw_records_id_read_from_its_line_is_the_id_its_mapping_gives(tmp_path, shared_data):
    lines = (shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl").read_text().splitlines()
    last_id = json.loads(lines[0])
    last_id = json.dumps({**{k: v for k, v in last_id.items() if k != "id"}, "id": "0704.0001"})
    path = _write_lines(tmp_path / "mixed.jsonl", [*lines, last_id, '{"id": "0704.0003", "title": "broken'])

    items = list(iter_raw_snapshot(path))

    raw = [item for item in items if isinstance(item, RawRecord)]
    assert len(raw) == 201  # the 200 sample lines and the broken one: their ids lead
    assert all(item.mapped().public_id == item.public_id for item in raw[:200])
    assert items[200].public_id == "arxiv:0704.0001"  # an id not first: parsed, mapped at once
    broken = raw[200].mapped()
    assert isinstance(broken, RecordReject) and broken.reason.startswith("not valid JSON")


def test_changed_record_updates_in_place(tmp_path, cli, engine, shared_data):
    lines = (shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl").read_text().splitlines()[:5]
    original = _write_lines(tmp_path / "v1.jsonl", lines)
    assert cli("import", "arxiv-snapshot", original).exit_code == 0
    id_before = _papers(engine)["arxiv:0704.0002"].id
    changed = json.loads(lines[1])
    changed["title"] = "Sparsity-certifying Graph Decompositions (revised)"
    revised = _write_lines(tmp_path / "v2.jsonl", [lines[0], json.dumps(changed), *lines[2:]])

    result = cli("import", "arxiv-snapshot", revised)

    assert "read 5 · inserted 0 · updated 1 · unchanged 4 · rejected 0" in result.output
    paper = _papers(engine)["arxiv:0704.0002"]
    assert paper.id == id_before
    assert paper.title == "Sparsity-certifying Graph Decompositions (revised)"
    assert len(_papers(engine)) == 5


def test_bad_lines_are_rejected_with_reasons_and_the_run_goes_on(tmp_path, cli, engine, shared_data):
    good = (shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl").read_text().splitlines()[:2]
    base = json.loads(good[0])
    bad_lines = [
        '{"id": "0704.0003", "title": "broken',  # truncated JSON
        json.dumps({**base, "id": None}),
        json.dumps({**base, "id": "0704.0004", "title": ""}),
        json.dumps({**base, "id": "0704.0005", "title": 42}),
        json.dumps({**base, "id": "0704.0006", "authors_parsed": "Smith, J."}),
        json.dumps({**base, "id": "not-an-id"}),
        json.dumps({**base, "id": "0704.0007", "title": "x" * 3_000_000}),
        json.dumps({**base, "id": "0704.0008"}).encode().replace(b"Calculation", b"Calcul\xff\xfetion"),
        json.dumps([1, 2, 3]),
        json.dumps({**base, "id": "0704.0009", "versions": [{"version": "v1", "created": "yesterday"}]}),
    ]
    path = _write_lines(tmp_path / "mixed.jsonl", [good[0], *bad_lines, good[1]])

    result = cli("import", "arxiv-snapshot", path)

    assert result.exit_code == 1, result.output
    assert "read 12 · inserted 2 · updated 0 · unchanged 0 · rejected 10" in result.output
    assert set(_papers(engine)) == {"arxiv:0704.0001", "arxiv:0704.0002"}
    with engine.connect() as conn:
        reasons = dict(conn.execute(select(Reject.locator, Reject.reason)).all())
    assert reasons["line 2"].startswith("not valid JSON")
    assert reasons["line 3"] == "missing id"
    assert reasons["line 4"] == "missing title"
    assert reasons["line 5"] == "field 'title' must be a string, got int"
    assert reasons["line 6"] == "field 'authors_parsed' must be a list, got str"
    assert reasons["line 7"] == "id 'not-an-id' is not an arXiv identifier"
    assert reasons["line 8"] == "title is 3,000,000 characters; the limit is 2,000"
    assert reasons["line 9"].startswith("invalid UTF-8 at byte")
    assert reasons["line 10"] == "expected a JSON object, got list"
    assert reasons["line 11"] == "version v1: unreadable date 'yesterday'"
    with engine.connect() as conn:
        raw = conn.execute(select(Reject.raw).where(Reject.locator == "line 9")).scalar_one()
    assert "Calcul\\xff\\xfetion" in raw  # the bad bytes are kept, escaped


def test_reimporting_a_file_with_rejects_does_not_duplicate_reject_rows(tmp_path, cli, engine):
    path = _write_lines(tmp_path / "bad.jsonl", ["{not json", '{"id": "0704.0001"}'])
    assert cli("import", "arxiv-snapshot", path).exit_code == 1
    assert cli("import", "arxiv-snapshot", path).exit_code == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Reject)).scalar_one() == 2


def test_old_style_ids_and_authors_without_parsed_names(tmp_path, cli, engine):
    record = {
        "id": "hep-th/9901001",
        "title": "Old  style\n  identifiers",
        "authors": "J. Smith, K. M\\\"uller and L. Zhao",
        "categories": "hep-th gr-qc",
        "abstract": "  An abstract.\n",
        "versions": [{"version": "v1", "created": "Fri, 1 Jan 1999 10:00:00 GMT"}],
        "update_date": "2001-02-03",
    }
    path = _write_lines(tmp_path / "old.jsonl", [json.dumps(record)])

    assert cli("import", "arxiv-snapshot", path).exit_code == 0

    paper = _papers(engine)["arxiv:hep-th/9901001"]
    assert paper.title == "Old style identifiers"
    assert paper.authors == ["J. Smith", "K. Müller", "L. Zhao"]
    assert paper.categories == ["hep-th", "gr-qc"]
    assert paper.published_date == date(1999, 1, 1)
    assert paper.updated_date == date(2001, 2, 3)
    assert paper.links["abs"] == "https://arxiv.org/abs/hep-th/9901001"


def test_real_gzip_listing_subset_keeps_latex_math(tmp_path, cli, engine, shared_data):
    with gzip.open(shared_data / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz", "rb") as source:
        head = list(itertools.islice(source, 1500))
    subset = tmp_path / "subset.jsonl.gz"
    with gzip.open(subset, "wb") as target:
        target.writelines(head)

    result = cli("import", "arxiv-snapshot", subset)

    assert result.exit_code == 0, result.output
    assert "read 1,500 · inserted 1,500" in result.output
    cordic = _papers(engine)["arxiv:2503.11685"]
    assert cordic.title == "CORDIC Is All You Need"
    assert "throughput up to 4.64$\\times$, and reduction" in cordic.abstract
    assert "40% pruning rate" in cordic.abstract
    assert cordic.categories == ["cs.AR", "cs.CV", "eess.IV"]
    assert cordic.announced_date == date(2025, 3, 18)


def test_missing_and_corrupt_files_fail_with_the_file_named(tmp_path, cli, shared_data):
    missing = cli("import", "arxiv-snapshot", tmp_path / "nope.jsonl")
    assert missing.exit_code == 2
    assert f"{tmp_path / 'nope.jsonl'}: no such file" in missing.output

    corrupt = tmp_path / "corrupt.jsonl.gz"
    whole = gzip.compress((shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl").read_bytes())
    corrupt.write_bytes(whole[: len(whole) // 2])
    result = cli("import", "arxiv-snapshot", corrupt)
    assert result.exit_code == 2
    assert "corrupt or truncated compressed data" in result.output


def test_empty_file_imports_nothing(tmp_path, cli, engine):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    result = cli("import", "arxiv-snapshot", empty)
    assert result.exit_code == 0
    assert "read 0 · inserted 0" in result.output


def test_interrupted_run_is_resumed_after_its_committed_batches(tmp_path, engine, shared_data):
    sample = shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl"
    target = str(sample)

    def dies_after_120():
        for number, item in enumerate(iter_snapshot(sample)):
            if number == 120:
                raise KeyboardInterrupt  # like a kill: the batch in flight is rolled back
            yield item

    with pytest.raises(KeyboardInterrupt):
        run_import(engine, source=SOURCE, target=target, items=dies_after_120(), batch_size=50)
    assert len(_papers(engine)) == 100  # two whole batches, not a partial third
    with engine.begin() as conn:  # a SIGKILL leaves the run marked running
        conn.execute(text("UPDATE ingest_runs SET status = 'running', finished_at = NULL"))

    summary = run_import(engine, source=SOURCE, target=target, items=iter_snapshot(sample), batch_size=50)

    assert summary.resumed_after == 100
    assert (summary.counts.read, summary.counts.inserted) == (100, 100)
    assert len(_papers(engine)) == 200
    with engine.connect() as conn:
        statuses = conn.execute(select(IngestRun.status, IngestRun.error).order_by(IngestRun.id)).all()
    assert statuses[0] == ("failed", f"interrupted; resumed by run {summary.run_id}")
    assert statuses[1] == ("succeeded", None)
