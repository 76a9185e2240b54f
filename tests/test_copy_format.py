"""Rows encoded in COPY's text format read back from PostgreSQL exactly as they were."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, text

from indexer.copy_format import COLUMN_LIST, PAPER_COLUMNS, encode_row
from indexer.records import PaperRecord
from indexer.sources.arxiv_snapshot import iter_snapshot

AWKWARD = {
    "title": 'Tabs\tand "quotes", a backslash \\ and \\N, which is not a null',
    "title_raw": "line one\nline two\r\nthree",
    "abstract": "",
    "authors": ['O"Neil', "Back\\slash", "Tab\tin name", "Comma, Jr.", "{braces}", "NULL", ""],
    "author_keys": [],
    "keywords": ["a;b", 'quote"'],
    "categories": ["cs.CL"],
    "venue": None,
    "year": 2025,
    "is_published": False,
    "published_date": date(2025, 3, 18),
    "versions": [{"version": "v1", "created": 'Tue, "18" Mar 2025\n'}],
    "links": {"abs": "https://arxiv.org/abs/2503.11731", "note": "back\\slash \u00e9 \U0001f600"},
    "source_hash": None,
}


def test_awkward_values_survive_copy_exactly(engine: Engine, shared_data):
    record = next(r for r in iter_snapshot(shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl")
                  if isinstance(r, PaperRecord))
    rows = [record.to_row(source_hash="abc"), {**record.to_row(), **AWKWARD, "public_id": "arxiv:awkward"}]

    with engine.begin() as connection:
        connection.execute(text("CREATE TEMP TABLE copied AS SELECT * FROM papers WITH NO DATA"))
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY copied ({COLUMN_LIST}) FROM STDIN") as copy:
            copy.write(b"".join(encode_row(row).line for row in rows))
        stored = connection.execute(text(f"SELECT {COLUMN_LIST} FROM copied ORDER BY public_id")).mappings().all()

    by_id = {row["public_id"]: row for row in stored}
    for row in rows:
        assert {name: by_id[row["public_id"]][name] for name, _ in PAPER_COLUMNS} == \
            {name: row[name] for name, _ in PAPER_COLUMNS}


@pytest.mark.parametrize("column", ["title", "authors", "links"])
def test_a_row_is_one_line_whatever_its_text_holds(column):
    row = {name: None for name, _ in PAPER_COLUMNS} | {"public_id": "x", "record_hash": "r"}
    row[column] = {"title": "a\nb\tc", "authors": ["a\nb", "c\td"], "links": {"k": "a\nb"}}[column]
    line = encode_row(row).line
    assert line.count(b"\n") == 1 and line.endswith(b"\n")
    assert line.count(b"\t") == len(PAPER_COLUMNS) - 1
