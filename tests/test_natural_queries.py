"""Queries as people type them, through /api/v1/search and the page over the real corpus: pasted
abstracts, descriptions with stray quotes, long texts, Chinese with Latin terms glued in."""

from __future__ import annotations

import gzip
import json
import re
from urllib.parse import urlencode

import numpy as np
import pytest

from indexer.lexical import build_catalog
from papersift.db import make_engine
from tests.conftest import query_rows


@pytest.fixture(scope="module")
def papers(corpus):
    rows = query_rows(corpus, "SELECT public_id, title, abstract FROM papers WHERE is_published "
                              "AND length(abstract) > 600 ORDER BY id")
    return [rows[i] for i in np.random.default_rng(17).choice(len(rows), 20, replace=False)]


def search(client, q, **params):
    response = client.get("/api/v1/search", params={"q": q, **params})
    assert response.status_code == 200, response.text[:300]
    return [r["id"] for r in response.json()["results"]]


def test_a_pasted_abstract_finds_its_paper_first(client, papers):
    for paper in papers:
        assert len(paper.abstract.split()) > 40  # a long text, searched by its informative terms
        assert search(client, paper.abstract, limit=5)[0] == paper.public_id, paper.title


def test_a_description_with_a_quote_left_open_or_seventy_words_is_answered(client, papers):
    found_open, found_long = 0, 0
    for paper in papers[:10]:
        sentence = re.split(r"(?<=[.!?])\s+", paper.abstract)[0].replace('"', "")
        found_open += paper.public_id in search(client, f'{sentence} like "the method."', limit=10)
        words = paper.abstract.replace('"', "").split()
        found_long += paper.public_id in search(client, " ".join(words[:70]), limit=10)
    assert found_open >= 8 and found_long >= 9


def test_ten_thousand_characters_are_answered_and_more_get_a_clear_error(client, papers):
    text = "\n\n".join(p.abstract for p in papers)
    assert len(text) > 10_000
    assert search(client, text[:10_000], limit=5)  # line breaks, LaTeX and quotes included
    response = client.get("/api/v1/search", params={"q": text[:11_000]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert "11,000 characters" in error["message"] and "10,000" in error["message"] and error["hint"]
    page = client.get("/search", params={"q": text[:11_000]})
    assert page.status_code == 400 and "10,000" in page.text


def test_a_text_too_long_for_a_url_is_posted(client, papers):
    chinese = ("提出了一种新的视频理解方法Long-VMNet，用于长视频的检索、摘要和问答。" * 300)[:10_000]
    response = client.post("/api/v1/search", json={"q": chinese, "limit": 5, "mode": "keyword"})
    assert response.status_code == 200 and response.json()["query"] == chinese
    paper = papers[0]
    body = client.post("/api/v1/search", json={"q": paper.abstract, "limit": 3}).json()
    assert body["results"][0]["id"] == paper.public_id
    assert client.post("/api/v1/search", json={"q": "x", "limit": 500}).status_code == 422
    page = client.post("/search", content=urlencode({"q": paper.abstract}),
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert page.status_code == 200 and paper.title.split()[0] in page.text


def test_chinese_around_a_latin_term_finds_the_paper(client, corpus):
    rows = query_rows(corpus, "SELECT public_id, title FROM papers WHERE is_published AND title ~ "
                              "'^[A-Za-z][A-Za-z0-9-]*[A-Z][A-Za-z0-9-]*: ' ORDER BY id")
    assert len(rows) >= 10
    found = 0
    for paper in rows[:10]:
        name = paper.title.split(":")[0]
        ids = search(client, f"提出了一种新的方法{name}，用于解决这一问题。", limit=10)
        found += paper.public_id in ids
    assert found >= 8


def test_chinese_and_latin_without_a_model_say_what_would_help(client):
    response = client.get("/api/v1/search", params={"q": "提出了一种新的视频理解方法，用于长视频的检索"})
    assert response.status_code == 200
    assert any("PAPERSIFT_LLM_BASE_URL" in n and "multilingual" in n for n in response.json()["notices"])


def test_chinese_titles_and_abstracts_are_searchable(client_for, cli, tmp_path):
    records = [
        {"title": "长视频理解的记忆网络", "abstract": "我们提出了一种用于长视频检索和问答的记忆网络Long-VMNet。",
         "author": "张三;李四", "status": "Poster", "site": "https://example.org/1"},
        {"title": "Graph neural networks for molecules", "abstract": "We study message passing on graphs.",
         "author": "A. Author", "status": "Poster", "site": "https://example.org/2"},
    ]
    folder = tmp_path / "testconf"
    folder.mkdir()
    with gzip.open(folder / "testconf2025.json.gz", "wt") as handle:
        json.dump(records, handle)
    assert cli("import", "paperlists", folder).exit_code == 0
    build_catalog(make_engine(cli.settings), cli.settings.search_dir)
    with client_for() as fresh:
        def titles(q):
            return [r["title"] for r in fresh.get("/api/v1/search", params={"q": q, "mode": "keyword"}).json()["results"]]

        assert titles("视频理解") == ["长视频理解的记忆网络"]  # a bigram phrase inside the title
        assert titles('"记忆网络"') == ["长视频理解的记忆网络"]
        assert titles("用于检索的方法VMNet") == ["长视频理解的记忆网络"]  # the Latin term glued to Chinese
        assert titles("长视频 graph") == ["Graph neural networks for molecules"]  # CJK only adds to a Latin match
        assert titles("网络 理解") == ["长视频理解的记忆网络"]
