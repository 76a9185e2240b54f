"""Queries mostly in another script, searched by the English phrase the language model makes of
them: through the API, the search page and the feed, over real papers in PostgreSQL and a real
keyword index, with the real `openai` client talking to the local chat server."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from indexer.lexical import build_catalog
from papersift.db import make_engine
from papersift.llm.query_translation import cleaned_phrase, is_multilingual_model, split_operators
from papersift.settings import Settings
from service.app import create_app
from tests.chat_server import Step
from tests.conftest import query_rows
from tests.llm_fixtures import llm_settings

QUERY = "在线维特比算法与随机游走"  # "online Viterbi algorithm and random walks"
ANSWER = '"Viterbi algorithm and random walks."'  # quoted and punctuated, as models answer
PHRASE = "Viterbi algorithm and random walks"
PAPER = "arxiv:0704.0062"  # On-line Viterbi Algorithm and Its Relationship to Random Walks
NO_MODEL = ("this query is mostly in a script other than Latin and is searched as typed: set "
            "PAPERSIFT_LLM_BASE_URL and PAPERSIFT_LLM_MODEL to translate queries, or a multilingual "
            "PAPERSIFT_MODEL (a sentence-transformers model name or path)")


@pytest.fixture(scope="module")
def papers(llm_papers: Settings) -> Settings:
    """The 200 real papers with their keyword index (no vectors: keyword search only)."""
    engine = make_engine(llm_papers)
    build_catalog(engine, llm_papers.search_dir)
    engine.dispose()
    return llm_papers


@pytest.fixture
def model(papers, chat):
    """The chat server answering every query translation with ANSWER."""
    chat.answer = lambda request: ANSWER
    return chat


def search(settings: Settings, **params) -> dict:
    with TestClient(create_app(settings)) as client:
        return api_search(client, **params)


def api_search(client, **params) -> dict:
    response = client.get("/api/v1/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def ids(body: dict) -> list[str]:
    return [r["id"] for r in body["results"]]


def used_budget(settings: Settings) -> int:
    return query_rows(settings, "SELECT coalesce(sum(generations), 0) FROM llm_usage")[0][0]


def translation_notices(body: dict) -> list[str]:
    return [n for n in body["notices"] if not n.startswith("semantic")]


def test_a_chinese_query_is_searched_by_its_english_phrase(papers, model):
    body = search(llm_settings(papers, model), q=QUERY)
    assert body["query"] == QUERY and body["searched_for"] == PHRASE
    assert ids(body)[0] == PAPER
    assert "<mark>Viterbi</mark>" in body["results"][0]["highlights"]["title"]
    assert translation_notices(body) == []
    request = model.requests[0]
    assert request["model"] == "kimi-test" and not request.get("stream")
    assert request["messages"][1]["content"] == f"Search query: {QUERY}"
    assert "computer-science papers" in request["messages"][0]["content"]
    assert query_rows(papers, "SELECT query, model, prompt_version, phrase FROM query_translations") == \
        [(QUERY, "kimi-test", 1, PHRASE)]
    assert used_budget(papers) == 1


def test_the_same_query_again_is_answered_from_the_stored_phrase(papers, model):
    settings = llm_settings(papers, model)
    with TestClient(create_app(settings)) as client:
        first = api_search(client, q=QUERY)
        spaced = api_search(client, q=f"  {QUERY} ")
    again = search(settings, q=QUERY)  # a fresh worker: no answer cache, the stored phrase
    assert len(model.requests) == 1
    assert spaced["searched_for"] == again["searched_for"] == PHRASE
    assert ids(spaced) == ids(again) == ids(first) and ids(first)[0] == PAPER
    assert used_budget(papers) == 1


def test_operators_are_kept_and_not_sent_to_the_model(papers, model):
    body = search(llm_settings(papers, model), q=f"{QUERY} cat:cs.DS")
    assert body["searched_for"] == f"{PHRASE} cat:cs.DS"
    assert ids(body) == [PAPER]
    assert model.requests[0]["messages"][1]["content"] == f"Search query: {QUERY}"


def test_translate_false_searches_the_text_as_typed(papers, model):
    settings = llm_settings(papers, model)
    body = search(settings, q=QUERY, translate="false")
    assert body["query"] == QUERY and body["searched_for"] is None
    assert PAPER not in ids(body) and translation_notices(body) == []
    assert model.requests == []
    with TestClient(create_app(settings)) as client:  # the answer cache tells the two apart
        assert api_search(client, q=QUERY)["searched_for"] == PHRASE
        assert api_search(client, q=QUERY, translate="false")["searched_for"] is None


def test_an_english_query_is_never_sent_to_the_model(papers, model):
    body = search(llm_settings(papers, model), q="Viterbi 算法")  # mostly Latin letters
    assert body["searched_for"] is None and model.requests == []


def test_without_a_model_the_notice_says_what_would_help(papers):
    body = search(papers, q=QUERY)
    assert body["searched_for"] is None
    assert translation_notices(body) == [NO_MODEL]
    multilingual = papers.model_copy(update={"model": "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"})
    assert translation_notices(search(multilingual, q=QUERY)) == []


@pytest.mark.parametrize("steps, changes, reason", [
    ([Step(status=500), Step(status=500)], {"llm_retries": 1},
     "the language model (kimi-test) is unavailable: it kept answering 500"),
    ([], {"llm_base_url": "http://127.0.0.1:9/v1", "llm_retries": 0},
     "the language model (kimi-test) cannot be reached"),
    ([Step(text="「」。")], {}, "the language model (kimi-test) returned an empty answer"),
    ([], {"llm_daily_budget": 0}, "today's budget of 0 generations is spent"),
])
def test_a_failed_translation_searches_the_text_as_typed_and_says_why(papers, model, steps, changes, reason):
    model.script(*steps)
    with TestClient(create_app(llm_settings(papers, model, **changes))) as client:
        response = client.get("/api/v1/search", params={"q": QUERY})
    assert response.status_code == 200
    body = response.json()
    assert body["searched_for"] is None and PAPER not in ids(body)
    assert translation_notices(body) == [f"searched as typed: the query could not be translated ({reason})"]
    assert len(model.requests) == len(steps)
    assert used_budget(papers) == 0  # a failed call gives its unit back
    assert query_rows(papers, "SELECT count(*) FROM query_translations")[0][0] == 0


def links(html: str) -> dict[str, str]:
    """Each link's text → its href."""
    return {unescape(re.sub(r"<[^>]+>", "", text)).strip(): unescape(href)
            for href, text in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', html)}


def test_the_page_shows_the_phrase_and_a_link_to_the_text_as_typed(papers, model):
    with TestClient(create_app(llm_settings(papers, model))) as client:
        page = client.get("/search", params={"q": QUERY})
        assert page.status_code == 200
        assert f"Searched for: <q>{PHRASE}</q>" in page.text
        assert re.findall(r'<article class="paper" data-id="([^"]+)"', page.text)[0] == PAPER
        original = links(page.text)["search the original text instead"]
        assert parse_qs(urlsplit(original).query) == {"q": [QUERY], "sort": ["relevance"], "mode": ["hybrid"],
                                                      "translate": ["0"]}

        as_typed = client.get(original)
        assert as_typed.status_code == 200
        assert "Searched for" not in as_typed.text
        assert '<input type="hidden" name="translate" value="0">' in as_typed.text  # the search box keeps it
        newest = links(as_typed.text)["newest"]
        assert parse_qs(urlsplit(newest).query)["translate"] == ["0"]
        filtered = client.get(original + "&category=cs.DS").text
        assert parse_qs(urlsplit(links(filtered)["clear filters"]).query) == {"q": [QUERY], "translate": ["0"]}
        feed = re.search(r'href="(/feeds/search\.atom\?[^"]+)"', as_typed.text).group(1)
        assert parse_qs(urlsplit(unescape(feed)).query)["translate"] == ["0"]
    assert len(model.requests) == 1


def test_the_feed_of_a_chinese_query_lists_the_papers_of_its_phrase(papers, model):
    with TestClient(create_app(llm_settings(papers, model))) as client:
        feed = client.get("/feeds/search.atom", params={"q": QUERY, "sort": "relevance"})
        as_typed = client.get("/feeds/search.atom", params={"q": QUERY, "translate": "0"})
    assert feed.status_code == as_typed.status_code == 200
    assert "On-line Viterbi Algorithm" in feed.text and "On-line Viterbi Algorithm" not in as_typed.text


@pytest.mark.parametrize("answer, phrase", [
    ('"graph neural networks for molecules."', "graph neural networks for molecules"),
    ("「BERT 预训练」", "BERT 预训练"),
    ("Diffusion models\n\nExplanation: the query asks for ...", "Diffusion models"),
    ('LoRA "fine-tuning" -adapters', "LoRA fine-tuning adapters"),
    ("word " * 100, ("word " * 40).strip()),
])
def test_the_answer_is_cleaned_into_a_phrase(answer, phrase):
    assert cleaned_phrase(answer) == phrase


def test_operators_and_urls_are_split_from_the_words():
    query = '图神经网络 cat:cs.LG au:"Yann LeCun" https://arxiv.org/abs/2503.11731 BERT: 模型'
    words, operators = split_operators(query)
    assert words.split() == ["图神经网络", "BERT:", "模型"]
    assert operators == ["cat:cs.LG", 'au:"Yann LeCun"', "https://arxiv.org/abs/2503.11731"]


@pytest.mark.parametrize("name, multilingual", [
    ("sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", True),
    ("intfloat/multilingual-e5-small", True),
    ("sentence-transformers/LaBSE", True),
    ("BAAI/bge-m3", True),
    ("sentence-transformers/all-MiniLM-L6-v2", False),
    ("BAAI/bge-small-en-v1.5", False),
])
def test_a_multilingual_embedding_model_is_told_by_its_name(name, multilingual):
    assert is_multilingual_model(name) is multilingual
