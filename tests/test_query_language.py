"""The query language: what each construct parses to, and a clear error for what cannot parse."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papersift.errors import InvalidQuery
from service.search.query_language import MAX_QUERY_CHARS, Text, parse_query


def test_bare_words_phrases_and_exclusions():
    query = parse_query('graph "neural network" -survey -"literature review"')
    assert query.words == [Text("graph")]
    assert query.required == [[Text("neural network", phrase=True)]]
    assert query.excluded == [Text("survey"), Text("literature review", phrase=True)]
    assert query.semantic_text == "graph neural network"
    assert parse_query("graph kernels for graph classification").semantic_text == \
        "graph kernels for graph classification"


def test_or_joins_its_neighbours_into_one_required_group():
    query = parse_query("diffusion OR flow OR score matching")
    assert query.required == [[Text("diffusion"), Text("flow"), Text("score")]]
    assert query.words == [Text("matching")]
    assert parse_query("diffusion or flow").words == [Text("diffusion"), Text("or"), Text("flow")]


def test_field_prefixes_and_filters():
    query = parse_query('ti:"attention is all" au:vaswani abs:transformer cat:cs.CL venue:NeurIPS year:2017..2019')
    assert query.required == [[Text("attention is all", "title", phrase=True)], [Text("vaswani", "authors")],
                              [Text("transformer", "abstract")]]
    assert (query.categories, query.venues, query.year_from, query.year_to) == (["cs.CL"], ["neurips"], 2017, 2019)
    assert (parse_query("year:2024").year_from, parse_query("year:2024").year_to) == (2024, 2024)
    assert (parse_query("year:2020..").year_from, parse_query("year:2020..").year_to) == (2020, None)
    assert (parse_query("year:..2018").year_from, parse_query("year:..2018").year_to) == (None, 2018)


def test_a_colon_in_a_title_is_plain_text():
    query = parse_query("BERT: Pre-training of Deep Bidirectional Transformers")
    assert [t.text for t in query.words][:2] == ["BERT:", "Pre-training"]
    assert not query.required


@pytest.mark.parametrize("raw, public_id", [
    ("id:2503.11731", "arxiv:2503.11731"),
    ("https://arxiv.org/abs/2503.11731v2", "arxiv:2503.11731"),
    ("https://arxiv.org/pdf/2503.11731", "arxiv:2503.11731"),
    ("https://openreview.net/forum?id=abcDEF123", "openreview:abcDEF123"),
    ("id:hep-th/9901001", "arxiv:hep-th/9901001"),
])
def test_ids_and_pasted_urls(raw, public_id):
    assert parse_query(raw).ids == [public_id]


@pytest.mark.parametrize("raw, fragment", [
    ("year:2024x", "year:2024x is not a year"),
    ("year:2021..2019", "empty range"),
    ("id:nonsense", "id:nonsense is not a paper id"),
    ("-cat:cs.LG", "cannot be negated"),
    ("x" * (MAX_QUERY_CHARS + 1), "the limit is 10,000"),
])
def test_unparseable_queries_say_where_and_what_to_fix(raw, fragment):
    with pytest.raises(InvalidQuery) as error:
        parse_query(raw)
    assert fragment in error.value.message
    assert error.value.hint


@pytest.mark.parametrize("raw, words, required", [
    ('a "b c', ["a", "b", "c"], []),  # a quote left open is text
    ('x "y z" w"', ["x", "w"], [["y z"]]),  # the last, unpaired quote is the open one
    ("OR a", ["a"], []),
    ("a OR", ["a"], []),
    ("a OR OR b", [], [["a", "b"]]),
    ("a OR -b", ["a"], []),
    ("a OR year:2020 b", ["a", "b"], []),
    ("code at https://github.com/x/y", ["code", "at", "https://github.com/x/y"], []),
])
def test_natural_text_is_never_an_error(raw, words, required):
    query = parse_query(raw)
    assert [t.text for t in query.words] == words
    assert [[t.text for t in group] for group in query.required] == required


def test_in_a_sentence_quotes_or_and_minus_rank_instead_of_filtering():
    sentence = ('a reward model that learns what people mean by "stay in the sun", or "stay off my lawn", '
                'from a handful of state-of -the-art examples OR demonstrations ti:reward -au:smith')
    query = parse_query(sentence)
    assert query.required == [[Text("reward", "title")]]  # a field prefix still filters
    assert query.excluded == [Text("smith", "authors")]
    assert "the-art" in [t.text for t in query.words]
    phrases = [t for t in query.words if t.phrase]
    assert [t.text for t in phrases] == ["stay in the sun", "stay off my lawn"]
    assert not query.long_text
    assert parse_query('short "exact phrase"').required == [[Text("exact phrase", phrase=True)]]


def test_a_pasted_abstract_is_a_long_text_with_every_word_kept():
    abstract = " ".join(f"word{i}" for i in range(300)) + ' with "a quote" and 2503.11731'
    query = parse_query(abstract)
    assert query.long_text and not query.required
    assert len(query.words) == 303 and query.ids == ["arxiv:2503.11731"]
    assert parse_query("x" * MAX_QUERY_CHARS).words


def test_chinese_is_read_as_bigrams_and_latin_terms_come_apart():
    query = parse_query("提出了一种新的视频理解方法Long-VMNet，用于长视频的检索")
    latin = [t.text for t in query.words if not t.cjk]
    assert latin == ["Long-VMNet,"]
    pairs = [t.text for t in query.words if t.cjk]
    assert pairs[:3] == ["提出", "出了", "了一"] and "视频" in pairs and "检索" in pairs
    assert query.semantic_text == "提出了一种新的视频理解方法Long-VMNet，用于长视频的检索"
    phrase = parse_query('"视频理解" ti:检索')
    assert phrase.required == [[Text("视频 频理 理解", phrase=True)], [Text("检索", "title", phrase=True)]]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(list('ab :-"().*\\\'$%_[]') + ["ti:", "year:", "id:", " OR ", "cat:", "au:",
                                                                 "2020", "..", "https://arxiv.org/abs/"]),
                max_size=30).map("".join) | st.text(max_size=80))
def test_every_input_parses_or_gets_a_message(raw):
    try:
        query = parse_query(raw)
    except InvalidQuery as error:
        assert error.message and error.hint
    else:
        assert isinstance(query.semantic_text, str)


@pytest.mark.parametrize(("query", "ids", "words"), [
    ("2508.15802", ["arxiv:2508.15802"], []),
    ("arXiv:2508.15802v2", ["arxiv:2508.15802"], []),
    ("arxiv:hep-th/9901001", ["arxiv:hep-th/9901001"], []),
    ("attention 1706.03762", ["arxiv:1706.03762"], ["attention"]),
    ("3.14159 digits", [], ["3.14159", "digits"]),  # not an id: a number stays a word
    ("transformers 2024", [], ["transformers", "2024"]),
])
def test_a_bare_arxiv_id_asks_for_that_paper(query, ids, words):
    parsed = parse_query(query)
    assert parsed.ids == ids
    assert [w.text for w in parsed.words] == words
