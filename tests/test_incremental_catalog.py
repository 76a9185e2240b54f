"""The keyword catalog updated incrementally, on real arXiv and COLM 2025 records: new, changed,
deleted, unpublished and newly twinned papers give the same catalog as a full rebuild; a killed
update leaves the previous generation serving and the next run completes it."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from indexer.catalog_columns import load_columns
from indexer.lexical import build_catalog, read_catalog_manifest
from indexer.store import delete_papers
from indexer.twins import link_twins
from papersift.normalize import title_key
from service.search.catalog import load_catalog
from service.search.filters import make_filters
from service.search.lexical import exact_title, keyword_query, search_keyword
from service.search.query_language import parse_query
from tests.conftest import Cli, query_rows

ARXIV = "arxiv/arxiv-cs-2025-2026.jsonl.gz"
COLM_2025 = "venues/paperlists/colm/colm2025.json.gz"
QUERIES = ("language model", "reinforcement learning reward", "graph neural network", "diffusion",
           "retrieval augmented generation for question answering", "robot manipulation policy")


@pytest.fixture(scope="module")
def records(shared_data) -> dict[str, list[str]]:
    """arXiv lines: 3,000 for the first build, 600 more, and 40 preprints of COLM 2025 papers."""
    with gzip.open(shared_data / COLM_2025) as handle:
        colm_titles = {title_key(item["title"]) for item in json.load(handle) if item.get("title")}
    preprints, others = [], []
    with gzip.open(shared_data / ARXIV, "rt") as handle:
        for line in handle:
            if title_key(json.loads(line)["title"]) in colm_titles:
                preprints.append(line)
            elif len(others) < 3600:
                others.append(line)
            if len(preprints) >= 40 and len(others) >= 3600:
                break
    return {"first": others[:3000] + preprints[:40], "more": others[3000:3600]}


def _import_lines(cli: Cli, path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines))
    result = cli("import", "arxiv-snapshot", path)
    assert result.exit_code == 0, result.output


def _search(catalog, query: str) -> tuple[list[int], np.ndarray]:
    hits = search_keyword(catalog, keyword_query(catalog, parse_query(query), make_filters()), limit=20)
    return hits.ids.tolist(), hits.scores


@pytest.fixture
def first_build(cli: Cli, engine, settings, records, tmp_path):
    _import_lines(cli, tmp_path / "first.jsonl", records["first"])
    link_twins(engine)
    built = build_catalog(engine, settings.search_dir)
    assert built.mode == "full" and built.manifest.count == 3040
    return built


def _change_everything(cli: Cli, engine, settings, records, shared_data, tmp_path) -> dict:
    """New papers, a new venue list whose papers take over their preprints' entries, changed
    titles, deleted and unpublished papers; returns what was changed."""
    _import_lines(cli, tmp_path / "more.jsonl", records["more"])
    assert cli("import", "paperlists", shared_data / COLM_2025).exit_code in (0, 1)
    changed = [json.loads(line) for line in records["first"][:5]]
    for record in changed:
        record["title"] = f"Revised: {record['title']}"
    _import_lines(cli, tmp_path / "changed.jsonl", [json.dumps(r) + "\n" for r in changed])
    deleted = [f"arxiv:{json.loads(line)['id']}" for line in records["first"][10:13]]
    unpublished = [f"arxiv:{json.loads(line)['id']}" for line in records["first"][20:22]]
    with engine.begin() as connection:
        assert delete_papers(connection, deleted) == 3
        connection.execute(text("UPDATE papers SET is_published = false, updated_at = now() "
                                "WHERE public_id = ANY(:ids)"), {"ids": unpublished})
    twins = link_twins(engine)
    assert twins.by_id + twins.by_title >= 30
    return {"changed": [r["title"] for r in changed], "gone": deleted + unpublished}


def test_an_incremental_generation_equals_a_full_rebuild(cli, engine, settings, records, shared_data,
                                                         first_build, tmp_path):
    first = load_catalog(settings.search_dir)
    what = _change_everything(cli, engine, settings, records, shared_data, tmp_path)

    update = build_catalog(engine, settings.search_dir)
    full = build_catalog(engine, tmp_path / "full", force=True)
    assert (update.mode, full.mode) == ("incremental", "full")
    assert update.manifest.generation == 2 and update.manifest.count == full.manifest.count
    # 600 new arXiv papers and the COLM papers are new; the 5 revised titles and the preprints'
    # venue papers... the 40 preprints leave (merged into their venue entries), as do 5 gone papers
    assert update.updated == 5
    assert update.removed >= 5 + 30
    assert update.added == full.manifest.count - (first.count - update.removed)

    incremental = load_catalog(settings.search_dir)
    rebuilt = load_catalog(tmp_path / "full")
    new, old = load_columns(Path(settings.search_dir / update.manifest.directory / "columns.npz")), \
        load_columns(tmp_path / "full" / full.manifest.directory / "columns.npz")
    for name in ("ids", "year", "published", "source", "venue", "track", "category_indptr", "category_codes"):
        np.testing.assert_array_equal(getattr(new, name), getattr(old, name), err_msg=name)
    assert new.vocab == old.vocab
    every_row = np.arange(incremental.count)
    assert incremental.facets(every_row) == rebuilt.facets(every_row)

    for query in QUERIES + tuple(what["changed"]):
        _assert_same_hits(_search(incremental, query), _search(rebuilt, query), query)
    for title in what["changed"]:
        assert len(exact_title(incremental, title, make_filters())) == 1
    gone = query_rows(settings, "SELECT id FROM papers WHERE public_id = ANY(:ids)", ids=what["gone"])
    assert len(gone) == 2  # the unpublished ones are still stored, the deleted ones not
    assert not np.isin([row.id for row in gone], incremental.ids).any()
    assert build_catalog(engine, settings.search_dir).mode == "unchanged"


def _assert_same_hits(found, expected, query: str) -> None:
    """The same top hits, the same best one, scores within 8 %: tantivy counts a deleted document
    in its BM25 statistics until its segment merges, so the 50 documents (1.6 %) deleted here lower
    the weight of the words they held (a revised paper's rare title words most: one more holder
    each) and may swap neighbours whose scores are close."""
    (ids, scores), (expected_ids, expected_scores) = found, expected
    assert len(ids) == len(expected_ids) > 0 and ids[0] == expected_ids[0], query
    assert set(ids[:10]) <= set(expected_ids) and set(expected_ids[:10]) <= set(ids), query
    expected_by_id = dict(zip(expected_ids, expected_scores.tolist()))
    shared = [i for i in ids if i in expected_by_id]
    np.testing.assert_allclose(scores[[ids.index(i) for i in shared]], [expected_by_id[i] for i in shared],
                               rtol=8e-2, err_msg=query)


def test_additions_alone_score_exactly_as_a_full_rebuild(cli, engine, settings, records, first_build, tmp_path):
    _import_lines(cli, tmp_path / "more.jsonl", records["more"])
    update = build_catalog(engine, settings.search_dir)
    full = build_catalog(engine, tmp_path / "full", force=True)
    assert (update.mode, update.added, update.updated, update.removed) == ("incremental", 600, 0, 0)
    incremental, rebuilt = load_catalog(settings.search_dir), load_catalog(tmp_path / "full")
    for query in QUERIES:
        ids, scores = _search(incremental, query)
        expected_ids, expected_scores = _search(rebuilt, query)
        assert ids == expected_ids and len(ids) > 0, query
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-6, err_msg=query)
    assert full.manifest.count == update.manifest.count == 3640


def test_many_deletions_rebuild_in_full(cli, engine, settings, records, first_build):
    public_ids = [f"arxiv:{json.loads(line)['id']}" for line in records["first"][:200]]
    with engine.begin() as connection:
        delete_papers(connection, public_ids)
    update = build_catalog(engine, settings.search_dir)
    assert update.mode == "full" and update.manifest.count == 2840
    assert update.manifest.full_generation == update.manifest.generation == 2


_KILL_BEFORE_PUBLISHING = """
import os, signal, sys
import indexer.lexical as lexical
from papersift.db import make_engine
from papersift.settings import Settings
lexical._publish = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
settings = Settings()
lexical.build_catalog(make_engine(settings), settings.search_dir)
"""


def test_a_killed_update_leaves_the_previous_generation_and_the_next_run_completes_it(
        cli, engine, settings, records, first_build, tmp_path):
    _import_lines(cli, tmp_path / "more.jsonl", records["more"])
    environment = dict(os.environ, PAPERSIFT_DATABASE_URL=settings.database_url.get_secret_value(),
                       PAPERSIFT_DATA_DIR=str(settings.data_dir))
    killed = subprocess.run([sys.executable, "-c", _KILL_BEFORE_PUBLISHING], env=environment,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    assert (settings.search_dir / "staging-2").is_dir()  # the update had written its segments
    assert read_catalog_manifest(settings.search_dir).generation == 1
    assert load_catalog(settings.search_dir).count == 3040  # still served, whole

    again = build_catalog(engine, settings.search_dir)
    assert (again.mode, again.added, again.manifest.generation) == ("incremental", 600, 2)
    assert not (settings.search_dir / "staging-2").exists()
    assert load_catalog(settings.search_dir).count == 3640
    new_ids = query_rows(settings, "SELECT id FROM papers WHERE public_id = ANY(:ids)",
                         ids=[f"arxiv:{json.loads(line)['id']}" for line in itertools.islice(records["more"], 50)])
    assert np.isin([row.id for row in new_ids], load_catalog(settings.search_dir).ids).all()


def test_an_update_copies_the_segments_where_the_filesystem_has_no_hard_links(
        cli, engine, settings, records, first_build, tmp_path, monkeypatch):
    def no_links(source, target):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    _import_lines(cli, tmp_path / "more.jsonl", records["more"])
    update = build_catalog(engine, settings.search_dir)
    assert (update.mode, update.added, update.manifest.count) == ("incremental", 600, 3640)
    base = settings.search_dir / f"lexical-{first_build.manifest.generation}"
    copied = settings.search_dir / update.manifest.directory
    carried = [p for p in base.iterdir() if (copied / p.name).exists()]
    assert len(carried) > 5 and all((copied / p.name).stat().st_ino != p.stat().st_ino for p in carried)
    assert load_catalog(settings.search_dir).count == 3640


def test_the_home_pages_counts_are_kept_until_the_next_generation(
        cli, engine, settings, records, first_build, tmp_path, client_for):
    fast = settings.model_copy(update={"index_reload_seconds": 0.2})
    with client_for(fast) as client:
        assert "3,040 papers" in client.get("/").text
        _import_lines(cli, tmp_path / "more.jsonl", records["more"])
        assert "3,040 papers" in client.get("/").text  # the same generation: counted once
        assert build_catalog(engine, settings.search_dir).mode == "incremental"
        deadline = time.monotonic() + 10
        while client.app.state.search.catalog.current().generation != 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "3,640 papers" in client.get("/").text
