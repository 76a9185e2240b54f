"""/api/v1/search, /recommend and browsing over a real corpus: real records from ../shared/data
imported into PostgreSQL, embedded with the real model, indexed with tantivy and faiss."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pytest

from papersift.db import make_engine
from papersift.embedding import load_embedder
from papersift.vector_index import read_manifest
from service.search.catalog import load_catalog
from service.search.filters import make_filters
from service.search.lexical import filter_clauses
from tests.conftest import query_rows

@pytest.fixture(scope="module")
def papers(corpus):
    return query_rows(corpus, "SELECT id, public_id, title, abstract, authors, categories, venue_slug, year, "
                              "source FROM papers WHERE is_published ORDER BY id")


def search(client, **params):
    response = client.get("/api/v1/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def ids(body):
    return [r["id"] for r in body["results"]]


def with_abstract(papers, count, seed=3):
    rows = [p for p in papers if len(p.abstract) > 300 and len(p.title.split()) >= 5]
    return [rows[i] for i in np.random.default_rng(seed).choice(len(rows), count, replace=False)]


# -- ranking -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["hybrid", "keyword"])
def test_an_exact_title_comes_first(client, papers, mode):
    for paper in with_abstract(papers, 15):
        body = search(client, q=paper.title, mode=mode, limit=5)
        assert ids(body)[0] == paper.public_id, (paper.title, body["results"][0]["title"])
        assert body["results"][0]["title"] == paper.title  # as stored


def test_a_title_with_a_typo_and_a_missing_word_comes_first(client, papers):
    for paper in with_abstract(papers, 15, seed=5):
        words = paper.title.split()
        del words[1]
        longest = max(range(len(words)), key=lambda i: len(words[i]))
        word = words[longest]
        words[longest] = word[:2] + word[3] + word[2] + word[4:]
        body = search(client, q=" ".join(words).replace('"', ""), limit=5)
        assert ids(body)[0] == paper.public_id, (" ".join(words), body["results"][0]["title"])


def test_a_sentence_from_the_abstract_finds_its_paper_by_meaning_alone(client, papers):
    found = 0
    sample = with_abstract(papers, 12, seed=9)
    for paper in sample:
        sentence = re.split(r"(?<=[.!?])\s+", paper.abstract)[0]
        body = search(client, q=sentence.replace('"', "").replace(":", " "), mode="semantic", limit=10)
        found += paper.public_id in ids(body)
    assert found >= 0.8 * len(sample)


def test_filters_restrict_both_sides(client):
    body = search(client, q="language model reasoning", venue="colm", limit=50)
    assert body["results"] and all(r["venue"] == "COLM" for r in body["results"])
    body = search(client, q="language model reasoning", category="cs.CV", year_from=2025, limit=50)
    assert body["results"] and all("cs.CV" in r["categories"] for r in body["results"])
    assert body["facets"]["category"][0] == {"value": "cs.CV", "count": body["total"]}
    body = search(client, q="language model reasoning", source="arxiv", mode="semantic", limit=50)
    assert all(r["id"].startswith("arxiv:") for r in body["results"])


def test_a_narrow_filter_gets_the_exact_nearest_papers(client, corpus, papers):
    """Semantic search inside a filter equals brute force over that subset's stored vectors."""
    query = "evaluating large language models on mathematical reasoning"
    rows = query_rows(corpus, "SELECT p.public_id, e.vector FROM papers p JOIN paper_embeddings e "
                              "ON e.paper_id = p.id WHERE p.is_published AND 'hep-ph' = ANY(p.categories)")
    manifest = read_manifest(corpus.index_dir)  # queries are encoded in the index's embedding space
    embedder = load_embedder(corpus.model, backend=manifest.backend, max_tokens=manifest.max_tokens,
                             cache_dir=corpus.model_cache_dir)
    vector = embedder.encode([query])[0]
    matrix = np.stack([np.frombuffer(r.vector, dtype=np.float32) for r in rows])
    expected = [rows[i].public_id for i in np.argsort(-(matrix @ vector))[:10]]
    body = search(client, q=query, mode="semantic", category="hep-ph", limit=10)
    assert ids(body) == expected


def test_filter_columns_agree_with_the_keyword_index_and_postgresql(corpus):
    catalog = load_catalog(corpus.search_dir)
    cases = [
        (make_filters(source="venue"), "source = 'venue'"),
        (make_filters(category=["cs.CL", "hep-ph"]), "categories && ARRAY['cs.CL', 'hep-ph']"),
        (make_filters(venue=["colm"], track=["poster"]), "venue_slug = 'colm' AND track = 'poster'"),
        (make_filters(year_from=2008, year_to=2024), "coalesce(year, extract(year FROM coalesce(published_date, announced_date))) BETWEEN 2008 AND 2024"),
        (make_filters(date_from=date(2007, 4, 1), date_to=date(2007, 4, 3)),
         "coalesce(published_date, announced_date) BETWEEN '2007-04-01' AND '2007-04-03'"),
    ]
    import tantivy

    for filters, sql in cases:
        expected = {row.id for row in query_rows(corpus, f"SELECT id FROM papers WHERE is_published AND {sql}")}
        by_mask = set(catalog.ids[catalog.mask(filters)].tolist())
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, q) for q in filter_clauses(catalog.index.schema, filters)])
        hits = catalog.searcher.search(query, limit=10_000).hits
        by_index = set(catalog.searcher.fast_field_values("id", [a for _, a in hits]))
        assert expected and by_mask == expected == by_index, sql


# -- query language ----------------------------------------------------------------------------
def test_phrases_exclusions_fields_and_or(client, papers):
    body = search(client, q='"language models"', mode="keyword", limit=100)
    assert body["total"] > 5
    for r in body["results"]:
        assert re.search(r"language models?", (r["title"] + " " + r["abstract"]).lower())
    excluded = search(client, q='"language models" -benchmark', mode="hybrid", limit=100)
    assert 0 < excluded["total"] < body["total"]
    assert not any("benchmark" in (r["title"] + r["abstract"]).lower() for r in excluded["results"])
    author = papers[-1].authors[0]
    last_name = author.split()[-1]
    by_author = search(client, q=f"au:{last_name}", limit=100)
    assert by_author["results"] and all(
        any(last_name.lower() in a.lower() for a in r["authors"]) for r in by_author["results"])
    either = search(client, q="photon OR quark", mode="keyword", limit=100)
    photon = search(client, q="photon", mode="keyword", limit=100)
    quark = search(client, q="quark", mode="keyword", limit=100)
    assert max(photon["total"], quark["total"]) < either["total"] <= photon["total"] + quark["total"]


def test_an_id_or_pasted_url_puts_that_paper_first(client, papers):
    paper = next(p for p in papers if p.public_id.startswith("arxiv:0704"))
    bare = paper.public_id.removeprefix("arxiv:")
    for q in (f"id:{bare} quantum", f"https://arxiv.org/abs/{bare}v1"):
        body = search(client, q=q, limit=3, explain="true")
        assert ids(body)[0] == paper.public_id
        assert body["results"][0]["explain"]["pinned"] == "id"
    missing = search(client, q="id:2912.00001")
    assert any("arxiv:2912.00001 is not indexed" in n for n in missing["notices"])


def test_an_empty_query_browses_newest_first(client, papers):
    body = search(client, limit=100)
    assert body["total"] == len(papers)
    dates = [r["published"] for r in body["results"] if r["published"]]
    assert dates == sorted(dates, reverse=True)
    colm = search(client, venue="colm", limit=5)
    assert colm["total"] == sum(1 for p in papers if p.venue_slug == "colm")
    assert colm["facets"]["venue"] == [{"value": "colm", "count": colm["total"]}]


def test_sort_newest_orders_matches_by_date(client):
    body = search(client, q="learning", sort="newest", limit=50)
    dates = [r["published"] for r in body["results"]]
    assert len(dates) > 10 and dates == sorted(dates, reverse=True)


def test_highlights_and_explanations(client):
    body = search(client, q="graph neural networks", explain="true", limit=5)
    top = body["results"][0]
    assert "<mark>" in top["highlights"]["title"] + top["highlights"]["abstract"]
    assert top["explain"]["summary"]
    assert top["explain"]["fused_score"] == top["score"]
    assert any(r["explain"]["lexical_rank"] for r in body["results"])
    assert any(r["explain"]["semantic_rank"] for r in body["results"])
    assert body["took_ms"] > 0 and "lexical" in body["timings_ms"]


@pytest.mark.parametrize("params, status, fragment", [
    ({"q": "x" * 10_001}, 400, "limit is 10,000"),
    ({"q": "x", "limit": 100000}, 422, "limit"),
    ({"q": "x", "offset": 990, "limit": 20}, 400, "past the first 1,000"),
    ({"q": "year:20x"}, 400, "year:20x"),
    ({"q": "x", "mode": "fuzzy"}, 400, "mode="),
    ({"q": "x", "source": "blog"}, 400, "source="),
    ({"q": "x", "year_from": 2020, "year_to": 2010}, 400, "year_from"),
    ({"q": "x", "date_from": "yesterday"}, 422, "date_from"),
])
def test_bad_input_gets_a_4xx_that_says_what_to_change(client, params, status, fragment):
    response = client.get("/api/v1/search", params=params)
    assert response.status_code == status
    error = response.json()["error"]
    assert fragment in error["message"] and error["hint"]


@pytest.mark.parametrize("q", ["'; DROP TABLE papers; --", ".*[(?+", "\\", "a:b:c", "---", '""', "OR OR",
                               "ti:", "<script>alert(1)</script>", "cat:nope.XX", "venue:nowhere"])
def test_metacharacters_and_unknown_values_never_fail(client, q):
    response = client.get("/api/v1/search", params={"q": q})
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert response.json()["error"]["message"]
    else:
        assert "<script>" not in str(response.json()["results"][:1])


# -- recommendations and browsing --------------------------------------------------------------
def test_recommendations_exclude_the_given_papers_and_honour_negatives(client, papers):
    colm = [p.public_id for p in papers if p.venue_slug == "colm"][:3]
    response = client.post("/api/v1/recommend", json={"positive": colm, "limit": 10})
    assert response.status_code == 200, response.text
    first = [r["id"] for r in response.json()["results"]]
    assert len(first) == 10 and not set(first) & set(colm)
    disliked = first[0]
    again = client.post("/api/v1/recommend", json={"positive": colm, "negative": [disliked], "limit": 10})
    assert disliked not in [r["id"] for r in again.json()["results"]]
    bad = client.post("/api/v1/recommend", json={"positive": ["arxiv:2912.00001"]})
    assert bad.status_code == 400 and "positive" in bad.json()["error"]["message"]
    assert client.post("/api/v1/recommend", content=b"{not json", headers={"content-type": "application/json"}).status_code == 422


def test_arxiv_listing_day_with_cross_lists(client, papers):
    response = client.get("/api/v1/arxiv/cs.CV")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["counts"]["new"] == len(body["new"]) and body["new"]
    assert all(p["primary_category"] == "cs.CV" for p in body["new"])
    assert all(p["primary_category"] != "cs.CV" and "cs.CV" in p["categories"] for p in body["cross_lists"])
    if body["previous_date"]:
        earlier = client.get("/api/v1/arxiv/cs.CV", params={"date": body["previous_date"]}).json()
        assert earlier["next_date"] == body["date"]
    assert client.get("/api/v1/arxiv/cs.XX").status_code == 404
    assert client.get("/api/v1/arxiv/cs.CL", params={"date": "2025-13-01"}).status_code == 422


def test_venues_and_a_venue_year_by_track(client, papers):
    venues = client.get("/api/v1/venues").json()
    colm = next(v for v in venues if v["venue"] == "colm")
    assert colm["years"][0]["year"] == 2024 and colm["papers"] == sum(1 for p in papers if p.venue_slug == "colm")
    listing = client.get("/api/v1/venues/COLM/2024", params={"track": "poster", "limit": 5}).json()
    assert listing["total"] == listing["tracks"]["poster"] and len(listing["results"]) == 5
    assert client.get("/api/v1/venues/colm/1999").status_code == 404


def test_keyword_search_works_before_any_vector_exists(client_for, cli, shared_data):
    cli("import", "paperlists", shared_data / "venues" / "paperlists" / "colm" / "colm2025.json.gz")
    from indexer.lexical import build_catalog

    build_catalog(make_engine(cli.settings), cli.settings.search_dir)
    with client_for() as fresh:
        body = fresh.get("/api/v1/search", params={"q": "reasoning"}).json()
    assert body["total"] > 0
    assert any("semantic search is unavailable" in n for n in body["notices"])
