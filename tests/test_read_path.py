"""The fast read path gives the same answers as the ORM path it replaced, its cache never outlives
a generation, and several workers answer alike. Real corpus, real model, PostgreSQL, faiss, HTTP."""

from __future__ import annotations

import gc
import html
import json
import os
import re
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from tantivy import Occur, Query
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from papersift.db import make_engine
from papersift.lexical_schema import STOPWORDS
from papersift.models import Paper
from service.api.search import render_results
from service.reads import ReadPool
from service.search.engine import SearchRequest
from service.search.filters import make_filters
from service.search.fusion import FusionWeights, fuse_arrays
from service.search.lexical import _text_clause, fuzzy_title, keyword_query, search_keyword
from service.search.query_language import parse_query
from service.search.highlight import _WORD, Highlighter, _stem, query_stems
from tests.conftest import query_rows

TIMING_FIELDS = ("took_ms", "timings_ms")


@pytest.fixture(scope="module")
def fixed_queries(corpus) -> list[dict]:
    """Titles, title words, first sentences, filters, newest first, keyword and semantic modes."""
    rows = query_rows(corpus, "SELECT title, abstract FROM papers WHERE is_published AND length(abstract) > 300 "
                              "ORDER BY id")
    picked = [rows[i] for i in np.random.default_rng(4).choice(len(rows), 8, replace=False)]
    clean = lambda q: re.sub(r'["\-:()]', " ", q)  # noqa: E731
    queries = [{"q": clean(r.title)} for r in picked[:3]]
    queries += [{"q": " ".join(clean(r.title).split()[1:4])} for r in picked[3:5]]
    queries += [{"q": clean(re.split(r"(?<=[.!?])\s+", r.abstract)[0])} for r in picked[5:]]
    queries += [{"q": "language models", "sort": "newest"}, {"q": "neural network", "mode": "keyword"},
                {"q": "robot learning from demonstrations", "mode": "semantic"},
                {"q": "reasoning", "category": ["cs.CL"]}, {"q": "", "venue": ["colm"]},
                {"q": '"large language" -vision'}]
    return queries


def without_timings(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in TIMING_FIELDS}


# -- the ORM read path this replaced, kept here as the reference --------------------------------
def orm_highlight(text: str, stems) -> tuple[str, list[str]]:
    if not stems or not text:
        return html.escape(text), []
    parts, matched, last = [], [], 0
    for match in _WORD.finditer(text):
        word = match.group()
        if _stem(word) in stems:
            parts.append(html.escape(text[last:match.start()]))
            parts.append(f"<mark>{html.escape(word)}</mark>")
            last = match.end()
            if word.lower() not in matched:
                matched.append(word.lower())
    parts.append(html.escape(text[last:]))
    return "".join(parts), matched


def orm_results(session, outcome) -> list[dict]:
    """What the ORM path rendered: whole Paper rows with their twin relationship."""
    papers = {p.id: p for p in session.scalars(select(Paper).where(Paper.id.in_([r.id for r in outcome.results])))}
    stems = query_stems(outcome.parsed.terms)
    results = []
    for ranked in outcome.results:
        paper = papers.get(ranked.id)
        if paper is None or not paper.is_published:
            continue
        twin = paper.twin
        extra = [c for c in (twin.categories if twin is not None else []) if c not in paper.categories]
        own = paper.published_date or paper.announced_date
        twin_date = twin.published_date if twin is not None else None
        results.append({
            "id": paper.public_id, "title": paper.title, "authors": paper.authors, "abstract": paper.abstract,
            "categories": paper.categories + extra, "venue": paper.venue, "track": paper.track,
            "year": paper.year or getattr(own, "year", None),
            "published": (min(d for d in (own, twin_date) if d) if (own or twin_date) else None),
            "links": paper.links, "twin": None if twin is None or not twin.is_published else twin.public_id,
            "score": ranked.score,
            "highlights": {"title": orm_highlight(paper.title, stems)[0],
                           "abstract": orm_highlight(paper.abstract, stems)[0]},
        })
    return results


def lean_results(reads, outcome) -> list[dict]:
    rendered = []
    for result in render_results(reads, outcome, explain=False):
        item = result.model_dump(include={"id", "title", "authors", "abstract", "categories", "venue", "track",
                                          "year", "published", "links", "score", "highlights"})
        item["twin"] = result.twin.id if result.twin else None
        rendered.append(item)
    return rendered


def test_results_and_highlights_equal_the_orm_read_path(client, corpus, fixed_queries):
    runtime = client.app.state.search
    engine, _ = runtime.engine()
    db = make_engine(corpus)
    try:
        with Session(db) as session:
            for params in fixed_queries:
                filters = make_filters(category=params.get("category"), venue=params.get("venue"))
                outcome = engine.search(SearchRequest(q=params["q"], filters=filters, mode=params.get("mode", "hybrid"),
                                                      sort=params.get("sort", "relevance"), limit=20))
                expected = orm_results(session, outcome)
                assert expected, params
                assert lean_results(client.app.state.reads, outcome) == expected, params
    finally:
        db.dispose()


def test_highlighting_equals_the_word_by_word_reference_on_real_abstracts(corpus):
    rows = query_rows(corpus, "SELECT title, abstract FROM papers ORDER BY id LIMIT 400")
    rng = np.random.default_rng(8)
    for row in rows:
        words = _WORD.findall(row.abstract) or ["none"]
        stems = query_stems([words[i] for i in rng.integers(len(words), size=3)] + ["network", "model"])
        for text in (row.title, row.abstract, row.abstract.replace(" ", " & ", 3)):
            assert Highlighter(stems).marked(text) == orm_highlight(text, stems)


def test_a_page_highlighted_together_equals_each_text_alone(corpus):
    """A result page's texts share one Highlighter (each word judged once a page): each text
    comes out as the word-by-word reference marks it, entities and non-ASCII text included."""
    rows = query_rows(corpus, "SELECT title, abstract FROM papers ORDER BY id DESC LIMIT 200")
    rng = np.random.default_rng(9)
    for start in range(0, len(rows), 20):
        page = rows[start:start + 20]
        texts = [t for r in page for t in (r.title, r.abstract.replace(" ", " &amp; <b> ", 2), "naïve Über-dying _lsdir")]
        words = _WORD.findall(" ".join(texts))
        stems = query_stems([words[i] for i in rng.integers(len(words), size=6)] + ["amp", "die", "naive", "lsdir"])
        marker = Highlighter(stems)
        for text in texts:
            expected, matched = orm_highlight(text, stems)
            assert marker.marked(text) == (expected, matched)
            assert marker.matches(text) == bool(matched)


def test_vector_fusion_equals_the_dictionary_reference():
    rng = np.random.default_rng(2)

    def reference(lists, weights, semantic_of):
        candidates = list(dict.fromkeys(i for ids, _ in lists.values() for i in ids.tolist()))
        totals = dict.fromkeys(candidates, 0.0)
        for name in ("lexical", "title"):
            if name in lists:
                ids, scores = lists[name]
                scaled = dict(zip(ids.tolist(), (scores / float(scores.max())).tolist()))
                for c in candidates:
                    totals[c] += getattr(weights, name) * scaled.get(c, 0.0)
        ids, scores = lists["semantic"]
        cosines = dict(zip(ids.tolist(), scores.tolist()))
        missing = [c for c in candidates if c not in cosines]
        cosines.update(zip(missing, semantic_of(np.asarray(missing, np.int64)).tolist()))
        for c in candidates:
            totals[c] += weights.semantic * cosines[c]
        return sorted(totals.items(), key=lambda item: (-item[1], item[0]))

    for _ in range(50):
        pool = rng.choice(5000, 400, replace=False).astype(np.int64)
        lists = {
            "lexical": (pool[:200], np.sort(rng.gamma(2, 5, 200).astype(np.float32))[::-1]),
            "title": (pool[150:170], np.sort(rng.gamma(2, 5, 20).astype(np.float32))[::-1]),
            "semantic": (pool[180:380], np.sort(rng.uniform(0.2, 0.8, 200).astype(np.float32))[::-1]),
        }
        semantic_of = lambda ids: (ids % 97 / 200.0)  # noqa: E731
        fused = fuse_arrays(lists, FusionWeights(), semantic_of)
        expected = reference(lists, FusionWeights(), semantic_of)
        assert fused.ids.tolist() == [i for i, _ in expected]
        assert fused.scores.tolist() == [s for _, s in expected]


def test_a_repeated_search_is_served_from_the_cache_with_the_same_answer(client):
    params = {"q": "multilingual instruction tuning", "limit": 10}
    first = client.get("/api/v1/search", params=params).json()
    again = client.get("/api/v1/search", params={**params, "q": "  multilingual   instruction tuning "}).json()
    assert "cached" not in first["timings_ms"] and "cached" in again["timings_ms"]
    assert without_timings({**again, "query": first["query"]}) == without_timings(first)


def test_a_repeated_search_page_renders_the_same_from_its_cached_text(client):
    """The HTML page (explanations, highlights, twins, facets) from a cached answer, which is kept
    as JSON text, equals the page first rendered, but for the time it took."""
    params = {"q": "language models for code generation"}
    took = re.compile(r'<span class="took">[^<]*</span>')
    first = client.get("/search", params=params)
    again = client.get("/search", params=params)
    assert first.status_code == again.status_code == 200
    assert "Why this result" in first.text and "<mark>" in first.text
    assert took.sub("", again.text) == took.sub("", first.text)


def test_cached_answers_are_text_that_the_cycle_collector_does_not_walk(client):
    client.get("/search", params={"q": "graph neural networks for molecules"})
    client.get("/api/v1/search", params={"q": "reinforcement learning from human feedback", "explain": True})
    cached = list(client.app.state.search.results._items.values())
    assert cached and not any(gc.is_tracked(answer) for answer in cached)


def test_a_new_generation_empties_the_cache(index_settings, cli, client_for, shared_data):
    """Search, publish a generation with one more paper, search again: the new paper is there."""
    arxiv = shared_data / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz"
    import gzip
    import itertools

    with gzip.open(arxiv, "rt") as handle:
        lines = list(itertools.islice(handle, 61))
    first, extra = index_settings.data_dir / "first.jsonl", index_settings.data_dir / "extra.jsonl"
    first.write_text("".join(lines[:60]))
    extra.write_text(lines[60])
    newcomer = json.loads(lines[60])
    cli.settings = index_settings
    assert cli("import", "arxiv-snapshot", first).exit_code == 0
    assert cli("index").exit_code == 0
    query = {"q": re.sub(r'["\-:()]', " ", " ".join(newcomer["title"].split())), "limit": 10}
    with client_for(index_settings) as client:
        before = client.get("/api/v1/search", params=query).json()
        assert f"arxiv:{newcomer['id']}" not in [r["id"] for r in before["results"]]
        assert "cached" in client.get("/api/v1/search", params=query).json()["timings_ms"]
        generation = client.app.state.search.catalog.current().generation
        assert cli("import", "arxiv-snapshot", extra).exit_code == 0
        assert cli("index").exit_code == 0
        deadline = time.monotonic() + 20
        while client.app.state.search.catalog.current().generation == generation and time.monotonic() < deadline:
            time.sleep(0.1)
        after = client.get("/api/v1/search", params=query).json()
        assert "cached" not in after["timings_ms"]
        assert [r["id"] for r in after["results"]][0] == f"arxiv:{newcomer['id']}"


def test_two_workers_serve_the_same_answers(corpus, client, fixed_queries):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "PAPERSIFT_DATA_DIR": str(corpus.data_dir),
                   "PAPERSIFT_DATABASE_URL": corpus.database_url.get_secret_value(),
                   "PAPERSIFT_ARXIV_API_URL": corpus.arxiv_api_url, "PAPERSIFT_LOG_LEVEL": "WARNING"}
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen([sys.executable, "-m", "papersift.cli", "serve", "--port", str(port),
                               "--workers", "2"], env=environment, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        seen: set[str] = set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=2)
                if ready.status_code == 200 and ready.json()["checks"]["vector_index"]["ok"]:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        for params in fixed_queries[:6]:
            by_worker: dict[str, dict] = {}
            for _ in range(6):  # a new connection each time: either worker may answer
                response = httpx.get(f"{base}/api/v1/search", params=params, timeout=30,
                                     headers={"Connection": "close"})
                assert response.status_code == 200, response.text
                body = without_timings(response.json())
                worker = response.headers["x-served-by"]
                assert by_worker.setdefault(worker, body) == body, params  # a worker answers alike
            answers = list(by_worker.values())
            assert all(answer == answers[0] for answer in answers), params  # and so do both workers
            # The same papers and highlights as in this process (scores may differ in the last
            # digits: numpy's BLAS runs on one thread in the workers, on several here).
            local = client.get("/api/v1/search", params=params).json()
            assert [r["id"] for r in answers[0]["results"]][:5] == [r["id"] for r in local["results"]][:5]
            assert [r["highlights"] for r in answers[0]["results"]][:5] == [r["highlights"] for r in local["results"]][:5]
            seen.update(by_worker)
        assert len(seen) == 2, seen
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_read_pool_reconnects_after_the_server_drops_its_connection(corpus):
    """A read connection the server closed (a restart, an idle timeout) is replaced on the next
    read, which answers instead of failing."""
    db = make_engine(corpus)
    pool = ReadPool(db.url.render_as_string(hide_password=False), size=1)
    try:
        [(pid,)] = pool.rows("SELECT pg_backend_pid()", ())
        with db.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        [(count,)] = pool.rows("SELECT count(*) FROM papers WHERE id = ANY(%s::bigint[])", ([1, 2, 3],))
        [(new_pid,)] = pool.rows("SELECT pg_backend_pid()", ())
        assert count >= 1 and new_pid != pid
    finally:
        pool.close()
        db.dispose()


def test_an_any_word_query_scores_as_the_union_of_per_word_unions(client, corpus):
    """Beyond three words any word will do, and the query is one flat union of every word's field
    clauses: it must give the BM25 sums of the per-word nesting it replaced."""
    catalog = client.app.state.search.catalog.current()
    schema = catalog.index.schema
    rows = query_rows(corpus, "SELECT abstract FROM papers WHERE length(abstract) > 300 ORDER BY id LIMIT 40")
    compared = 0
    for row in rows:
        sentence = re.sub(r'["\-:()]|\b(?:OR|AND|NOT)\b', " ", re.split(r"(?<=[.!?])\s+", row.abstract)[0])
        parsed = parse_query(sentence)
        words = [t for t in parsed.words if t.text.lower() not in STOPWORDS]
        if len(words) <= 3 or parsed.long_text or any(t.cjk for t in parsed.words):
            continue
        flat = search_keyword(catalog, keyword_query(catalog, parsed, make_filters()), limit=50, count=False)
        clauses = [clause for clause in (_text_clause(schema, t) for t in words) if clause is not None]
        nested = Query.boolean_query([(Occur.Should, clause) for clause in clauses], minimum_number_should_match=1)
        reference = search_keyword(catalog, Query.boolean_query([(Occur.Must, nested)]), limit=50, count=False)
        assert len(flat.ids) == len(reference.ids) > 0
        np.testing.assert_allclose(flat.scores, reference.scores, rtol=1e-5)
        above_ties = reference.scores > reference.scores[-1] * (1 + 1e-4)  # the cut may split a tie
        assert set(flat.ids[above_ties].tolist()) == set(reference.ids[above_ties].tolist())
        compared += 1
    assert compared >= 20


def test_a_typo_in_a_rare_or_a_common_title_word_still_finds_the_title(client, corpus):
    """The typo-tolerant title stage matches words many titles hold as they are and the others
    with the fuzzy automaton: a typo in either kind still finds the paper."""
    catalog = client.app.state.search.catalog.current()
    rows = query_rows(corpus, "SELECT id, title FROM papers WHERE is_published AND source = 'venue' ORDER BY id LIMIT 60")
    found = tried = 0
    for row in rows:
        words = row.title.split()
        long_words = [w for w in words if re.fullmatch(r"[A-Za-z]{6,}", w)]
        if len(long_words) < 4:
            continue
        for victim in (max(long_words, key=lambda w: catalog.searcher.doc_freq("title", _stem(w))),
                       min(long_words, key=lambda w: catalog.searcher.doc_freq("title", _stem(w)))):
            typo = victim[:2] + victim[3] + victim[2] + victim[4:]  # two letters swapped
            hits = fuzzy_title(catalog, parse_query(row.title.replace(victim, typo, 1)), make_filters(), limit=20)
            tried += 1
            found += row.id in hits.ids.tolist()
    assert tried >= 20 and found == tried
