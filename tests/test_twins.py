"""arXiv preprints linked to their venue papers, on real data: COLM 2025 and its arXiv preprints."""

from __future__ import annotations

import gzip
import json

import pytest

from indexer.lexical import build_catalog
from indexer.twins import link_twins
from papersift.normalize import title_key
from tests.conftest import Cli, query_rows

COLM_2025 = "venues/paperlists/colm/colm2025.json.gz"
ICRA_2020 = "venues/paperlists/icra/icra2020.json.gz"


@pytest.fixture(scope="module")
def twin_files(shared_data, tmp_path_factory):
    """The arXiv lines whose titles match a COLM 2025 or ICRA 2020 paper, plus 100 others."""
    venue_titles = set()
    for name in (COLM_2025, ICRA_2020):
        with gzip.open(shared_data / name) as handle:
            venue_titles |= {title_key(item["title"]) for item in json.load(handle) if item.get("title")}
    matched, others = [], []
    with gzip.open(shared_data / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz", "rt") as handle:
        for line in handle:
            record = json.loads(line)
            if title_key(record["title"]) in venue_titles:
                matched.append(line)
            elif len(others) < 100:
                others.append(line)
    path = tmp_path_factory.mktemp("twins") / "arxiv-twins.jsonl"
    path.write_text("".join(matched + others))
    return path, len(matched)


@pytest.fixture
def imported(cli: Cli, shared_data, twin_files):
    path, _ = twin_files
    for args in (("import", "arxiv-snapshot", path), ("import", "paperlists", shared_data / COLM_2025),
                 ("import", "paperlists", shared_data / ICRA_2020)):
        result = cli(*args)
        assert result.exit_code in (0, 1), result.output
    return cli


def _pairs(settings) -> list[tuple]:
    return query_rows(settings, """
        SELECT v.public_id, a.public_id, v.venue_slug, v.title_key = a.title_key
        FROM papers v JOIN papers a ON a.id = v.twin_id
        WHERE v.source = 'venue' AND a.twin_id = v.id""")


def test_preprints_are_linked_to_their_venue_papers_by_title_and_authors(imported, engine, settings, twin_files):
    _, matched_lines = twin_files
    counts = link_twins(engine)
    pairs = _pairs(settings)
    assert counts.by_title == len(pairs)
    colm = [p for p in pairs if p[2] == "colm"]
    # nearly every COLM 2025 paper whose title is on arXiv is its preprint (same authors)
    assert len(colm) >= 0.9 * (matched_lines - 1)
    assert all(same_title for *_, same_title in pairs)
    # ICRA 2020's paper posted to arXiv in 2025 by the same authors is its preprint
    assert ("icra:2020:9197024", "arxiv:2509.13507", "icra", True) in pairs
    # each paper has one twin; linking again changes nothing
    assert len({p[0] for p in pairs}) == len({p[1] for p in pairs}) == len(pairs)
    again = link_twins(engine)
    assert (again.by_id, again.by_title, again.unlinked) == (0, 0, 0)


def test_a_preprint_with_the_same_title_by_other_authors_is_not_linked(imported, engine, settings, tmp_path):
    venue_title = query_rows(settings, "SELECT title_raw FROM papers WHERE venue_slug = 'colm' ORDER BY id LIMIT 1")[0][0]
    other = {"id": "2601.99999", "title": venue_title, "abstract": "Another paper.", "categories": "cs.CL",
             "authors": "Ada Lovelace, Charles Babbage", "versions": [{"version": "v1", "created": "Mon, 5 Jan 2026 00:00:00 GMT"}],
             "update_date": "2026-01-05"}
    (tmp_path / "other.jsonl").write_text(json.dumps(other) + "\n")
    assert imported("import", "arxiv-snapshot", tmp_path / "other.jsonl").exit_code == 0
    link_twins(engine)
    assert query_rows(settings, "SELECT twin_id FROM papers WHERE public_id = 'arxiv:2601.99999'")[0][0] is None


def test_a_venue_record_naming_its_arxiv_id_is_linked_even_with_another_title(imported, engine, settings):
    arxiv_id, venue_id = query_rows(settings, """
        SELECT a.public_id, v.public_id FROM papers a JOIN papers v ON v.title_key = a.title_key
        WHERE a.source = 'arxiv' AND v.venue_slug = 'colm' LIMIT 1""")[0]
    with engine.begin() as connection:
        from sqlalchemy import text
        connection.execute(text("""
            UPDATE papers SET title_key = title_key || ' revised',
                   links = links || jsonb_build_object('arxiv', 'https://arxiv.org/abs/' || :aid)
            WHERE public_id = :vid"""), {"aid": arxiv_id.removeprefix("arxiv:"), "vid": venue_id})
    counts = link_twins(engine)
    assert counts.by_id == 1
    assert (venue_id, arxiv_id) in {(p[0], p[1]) for p in _pairs(settings)}


def test_search_shows_a_pair_as_one_entry_with_both_links_and_dates(imported, engine, settings, client_for):
    link_twins(engine)
    build_catalog(engine, settings.search_dir)
    venue_id, arxiv_id, title, arxiv_day, categories = query_rows(settings, """
        SELECT v.public_id, a.public_id, v.title, a.published_date, a.categories
        FROM papers v JOIN papers a ON a.id = v.twin_id WHERE v.venue_slug = 'colm'
        ORDER BY v.public_id LIMIT 1""")[0]
    with client_for() as client:
        body = client.get("/api/v1/search", params={"q": f'"{title}"', "mode": "keyword"}).json()
        ids = [r["id"] for r in body["results"]]
        assert ids.count(venue_id) == 1 and arxiv_id not in ids
        entry = body["results"][ids.index(venue_id)]
        assert entry["twin"]["id"] == arxiv_id
        assert entry["twin"]["links"]["abs"].startswith("https://arxiv.org/abs/")
        assert entry["links"]["forum"].startswith("https://openreview.net/forum?id=")
        assert entry["published"] == arxiv_day.isoformat()
        assert set(categories) <= set(entry["categories"])
        # the arXiv category filter finds the pair through its preprint; source=arxiv does too
        for params in ({"category": categories[0]}, {"source": "arxiv"}, {"source": "venue"}):
            found = client.get("/api/v1/search", params={"q": f'"{title}"', "mode": "keyword", **params}).json()
            assert venue_id in [r["id"] for r in found["results"]], params
        # asking for the preprint by id finds the pair's entry
        by_id = client.get("/api/v1/search", params={"q": arxiv_id, "mode": "keyword"}).json()
        assert by_id["results"] and by_id["results"][0]["id"] == venue_id, by_id["notices"]
        # the preprint's own page and the arXiv listing name the venue paper
        page = client.get(f"/paper/{arxiv_id}").text
        assert "also at" in page and f"/paper/{venue_id}" in page
        assert client.get(f"/api/v1/papers/{arxiv_id}").json()["twin"]["id"] == venue_id
