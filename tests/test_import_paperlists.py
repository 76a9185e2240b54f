"""`papersift import paperlists`: real venue lists, tracks, hidden rejections, bad files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from sqlalchemy import Engine, select

from papersift.models import Paper, Reject


def _papers(engine: Engine) -> dict[str, Paper]:
    with engine.connect() as conn:
        return {row.public_id: row for row in conn.execute(select(*Paper.__table__.columns)).all()}


def _rejects(engine: Engine) -> dict[tuple[str, str], str]:
    with engine.connect() as conn:
        rows = conn.execute(select(Reject.origin, Reject.locator, Reject.reason)).all()
    return {(Path(origin).name, locator): reason for origin, locator, reason in rows}


def _count_records(folder: Path) -> int:
    return sum(len(json.loads(gzip.open(f).read())) for f in folder.glob("*.json.gz"))


def test_openreview_lists_import_with_forum_ids_and_tracks(cli, engine, shared_data):
    folder = shared_data / "venues" / "paperlists" / "colm"
    expected = _count_records(folder)

    result = cli("import", "paperlists", folder)

    assert result.exit_code == 0, result.output
    assert f"read {expected:,} · inserted {expected:,} · updated 0 · unchanged 0 · rejected 0" in result.output
    paper = _papers(engine)["openreview:0UK8c2kg7c"]
    assert paper.title.startswith("InstructAV: Instruction Fine-tuning Large Language Models")
    assert paper.venue == "COLM"
    assert paper.venue_slug == "colm"
    assert paper.year == 2024
    assert paper.track == "poster"
    assert paper.is_published
    assert paper.authors == ["Yujia Hu", "Zhiqiang Hu", "Chun Wei Seah", "Roy Ka-Wei Lee"]
    assert paper.keywords == ["Authorship Verification", "Parameter-Efficient Fine-Tuning (PEFT)",
                              "InstructAV"]
    assert paper.links["forum"] == "https://openreview.net/forum?id=0UK8c2kg7c"
    assert paper.source == "venue"


def test_proceedings_lists_use_venue_year_ids_and_canonical_names(cli, engine, shared_data):
    nips = shared_data / "venues" / "paperlists" / "nips" / "nips1987.json.gz"
    result = cli("import", "paperlists", nips)
    assert result.exit_code == 0, result.output

    paper = _papers(engine)["neurips:1987:bb31aa9271"]
    assert paper.title == "A 'Neural' Network that Learns to Play Backgammon"
    assert paper.venue == "NeurIPS"
    assert paper.year == 1987
    assert paper.authors == ["G. Tesauro", "T. J. Sejnowski"]
    assert paper.links["pdf"].startswith("https://papers.nips.cc/paper_files/paper/1987/file/")


def test_second_import_of_lists_reports_everything_unchanged(cli, shared_data):
    folder = shared_data / "venues" / "paperlists" / "colm"
    expected = _count_records(folder)
    assert cli("import", "paperlists", folder).exit_code == 0
    again = cli("import", "paperlists", folder)
    assert f"read {expected:,} · inserted 0 · updated 0 · unchanged {expected:,} · rejected 0" in again.output


def test_statuses_map_to_tracks_and_rejections_are_stored_but_hidden(tmp_path, cli, engine, client_for):
    items = [
        {"id": "AAAAAAAAA1", "title": "An oral paper", "status": "Oral", "author": "A One;B Two",
         "site": "https://openreview.net/forum?id=AAAAAAAAA1"},
        {"id": "AAAAAAAAA2", "title": "A spotlight", "status": "Accept (spotlight)", "author": "C"},
        {"id": "AAAAAAAAA3", "title": "Turned down", "status": "Reject", "author": "D"},
        {"id": "AAAAAAAAA4", "title": "Pulled out", "status": "Withdraw", "author": "E"},
        {"id": "AAAAAAAAA5", "title": "Findings paper", "status": "Findings", "author": "F; G"},
    ]
    path = tmp_path / "iclr2025.json"
    path.write_text(json.dumps(items))

    assert cli("import", "paperlists", path).exit_code == 0

    papers = _papers(engine)
    assert papers["openreview:AAAAAAAAA1"].track == "oral"
    assert papers["iclr:2025:AAAAAAAAA2"].track == "spotlight"
    assert (papers["iclr:2025:AAAAAAAAA3"].track, papers["iclr:2025:AAAAAAAAA3"].is_published) == (
        "rejected", False)
    assert (papers["iclr:2025:AAAAAAAAA4"].track, papers["iclr:2025:AAAAAAAAA4"].is_published) == (
        "withdrawn", False)
    assert papers["iclr:2025:AAAAAAAAA5"].authors == ["F", "G"]
    with client_for() as client:
        stats = client.get("/api/v1/stats").json()
    assert stats == {"total": 3, "sources": [{"source": "venue", "papers": 3}]}


def test_bad_files_and_records_are_rejected_and_good_ones_imported(tmp_path, cli, engine):
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / "icml2020.json").write_text("this is not json")
    (folder / "icml2021.json").write_bytes(b"")
    (folder / "icml2022.json").write_text(json.dumps({"title": "an object, not a list"}))
    good = {"id": "g1", "title": "A good paper", "author": "Ann Author", "abstract": "Fine."}
    records = [
        good,
        "just a string",
        {"id": "m1", "author": "No Title"},
        {"id": "w1", "title": ["not", "a", "string"]},
        {"id": "h1", "title": "Huge abstract", "abstract": "a" * 60_000},
    ]
    (folder / "icml2023.json").write_text(json.dumps(records))
    bad_utf8 = json.dumps([{"id": "u1", "title": "Bad BYTES here"}, {"id": "u2", "title": "Fine too"}])
    (folder / "icml2024.json").write_bytes(bad_utf8.encode().replace(b"BYTES", b"\xff\xfe"))
    (folder / "misc.json").write_text(json.dumps([{"id": "n1", "title": "Where from?"}]))

    result = cli("import", "paperlists", folder)

    assert result.exit_code == 1, result.output
    assert set(_papers(engine)) == {"icml:2023:g1", "icml:2024:u2"}
    assert _rejects(engine) == {
        ("icml2020.json", "file"): _rejects(engine)[("icml2020.json", "file")],
        ("icml2021.json", "file"): "file is empty",
        ("icml2022.json", "file"): "expected a JSON array, got dict",
        ("icml2023.json", "item 1"): "expected a JSON object, got str",
        ("icml2023.json", "item 2"): "missing title",
        ("icml2023.json", "item 3"): "field 'title' must be a string, got list",
        ("icml2023.json", "item 4"): "abstract is 60,000 characters; the limit is 50,000",
        ("icml2024.json", "item 0"): "field 'title' is not valid UTF-8 (at character 4)",
        ("misc.json", "item 0"): "no venue and year: name the file <venue><year>.json or give venue and year",
    }
    assert _rejects(engine)[("icml2020.json", "file")].startswith("not valid JSON")


def test_a_record_twice_in_one_file_is_a_duplicate_not_unchanged(tmp_path, cli, engine):
    record = {"id": "abc", "title": "Twice listed", "author": "Ann Author"}
    other = {"id": "def", "title": "Listed once", "author": "Bo Author"}
    path = tmp_path / "neurips2017.json.gz"
    path.write_bytes(gzip.compress(json.dumps([record, other, record]).encode()))

    first = cli("import", "paperlists", path)

    assert first.exit_code == 0, first.output
    assert ("read 3 · inserted 2 · updated 0 · unchanged 0 · duplicate 1 (ids: neurips:2017:abc)"
            " · rejected 0") in first.output
    assert set(_papers(engine)) == {"neurips:2017:abc", "neurips:2017:def"}

    # the file still lists it twice: once unchanged, and the repeat is still a duplicate
    again = cli("import", "paperlists", path)
    assert ("read 3 · inserted 0 · updated 0 · unchanged 2 · duplicate 1 (ids: neurips:2017:abc)"
            " · rejected 0") in again.output
