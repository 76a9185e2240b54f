"""Keyword retrieval: the parsed query and filters become a tantivy query object (BM25 over title,
authors, keywords and abstract), built clause by clause — user text never becomes query syntax."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import tantivy
from tantivy import Occur, Query

from indexer.catalog_columns import EPOCH
from papersift.lexical_schema import DEFAULT_FIELDS, STOPWORDS, analyze
from papersift.normalize import title_key
from service.search.catalog import LoadedCatalog
from service.search.filters import Filters
from service.search.query_language import ParsedQuery, Text

ALL_REQUIRED_UP_TO = 3  # bare words: all must match up to this many, any beyond it
FUZZY_MIN_LENGTH = 4
FUZZY_SHARE = 0.8  # of the query's words a title must match (with typos) to be a candidate
FUZZY_KNOWN_TITLES = 20  # a word in at least this many titles is taken as spelled right
FUZZY_TIE_BREAK = 0.01  # weight of the title BM25 that orders titles matching as many words
MORE_LIKE_THIS_TERMS = 24  # a long text is searched by this many of its most informative terms
MORE_LIKE_THIS_SHARE = 0.2  # of which a paper must hold at least this share


@dataclass
class LexicalHits:
    ids: np.ndarray
    scores: np.ndarray
    total: int


def keyword_query(catalog: LoadedCatalog, parsed: ParsedQuery, filters: Filters) -> Query | None:
    """The tantivy query for the text and filters; None when the text has no searchable term."""
    schema = catalog.index.schema
    must: list[Query] = []
    should: list[Query] = []
    words_query = _words_query(catalog, parsed)
    if words_query is not None:
        (should if parsed.required else must).append(words_query)
    for group in parsed.required:
        alternatives = [q for q in (_text_clause(schema, t) for t in group) if q is not None]
        if not alternatives:
            return None  # a required term that can match nothing
        must.append(alternatives[0] if len(alternatives) == 1
                    else Query.boolean_query([(Occur.Should, q) for q in alternatives]))
    if parsed.has_text and not must and not should:
        return None
    clauses = [(Occur.Must, q) for q in must] + [(Occur.Should, q) for q in should]
    clauses += [(Occur.Must, Query.const_score_query(q, 0.0)) for q in filter_clauses(schema, filters)]
    excluded = [q for q in (_text_clause(schema, t) for t in parsed.excluded) if q is not None]
    clauses += [(Occur.MustNot, q) for q in excluded]
    if not any(occur == Occur.Must for occur, _ in clauses) and not should:
        clauses.append((Occur.Must, Query.all_query()))
    return Query.boolean_query(clauses)


def _words_query(catalog: LoadedCatalog, parsed: ParsedQuery) -> Query | None:
    """The bare words: all required up to three, any one beyond (stopwords dropped); a long text
    by its most informative terms. CJK bigrams only add to the score, unless they are all there is
    (an English corpus has none of them, and they must not hide the Latin terms' matches)."""
    schema = catalog.index.schema
    latin = [t for t in parsed.words if not t.cjk]
    if parsed.long_text:
        words = more_like_this(catalog, latin)
        minimum = max(1, int(len(words) * MORE_LIKE_THIS_SHARE))
    else:
        if len(latin) > ALL_REQUIRED_UP_TO:
            latin = [t for t in latin if t.text.lower() not in STOPWORDS] or latin
        words = [q for q in (_text_clause(schema, t) for t in latin) if q is not None]
        minimum = len(words) if len(words) <= ALL_REQUIRED_UP_TO else 1
        if minimum == 1:
            # Any word will do: one flat union of every word's field clauses scores the same sum
            # as a union of per-word unions, and tantivy runs it in half the time.
            words = [leaf for t in latin for leaf in _field_clauses(schema, t)]
    pairs = [q for q in (_text_clause(schema, t) for t in parsed.words if t.cjk) if q is not None]
    if not words:
        return Query.boolean_query([(Occur.Should, q) for q in pairs]) if pairs else None
    should = [(Occur.Should, q) for q in words]
    query = Query.boolean_query(should, minimum_number_should_match=minimum) if minimum > 1 \
        else Query.boolean_query(should)
    if pairs:
        query = Query.boolean_query([(Occur.Must, query), *((Occur.Should, q) for q in pairs)])
    return query


def more_like_this(catalog: LoadedCatalog, words: list[Text]) -> list[Query]:
    """Clauses for the most informative terms of a long text: term frequency in the text times
    inverse document frequency in the index (terms no paper holds, and numbers, are skipped)."""
    schema = catalog.index.schema
    counts = Counter(token for t in words for token in analyze(t.text, "text") if not token.isdigit())
    papers = max(catalog.searcher.num_docs, 1)
    weights = {}
    for token, count in counts.items():
        holders = catalog.searcher.doc_freq("text", token)
        if holders:
            weights[token] = count * math.log(1 + (papers - holders + 0.5) / (holders + 0.5))
    best = sorted(weights, key=weights.get, reverse=True)[:MORE_LIKE_THIS_TERMS]
    clauses = []
    for token in best:
        in_text = Query.term_query(schema, "text", token)
        in_title = Query.boost_query(Query.term_query(schema, "title", token), DEFAULT_FIELDS["title"])
        clause = Query.boolean_query([(Occur.Should, in_text), (Occur.Should, in_title)])
        clauses.append(Query.boost_query(clause, 1 + math.log(counts[token])))
    return clauses


def search_keyword(catalog: LoadedCatalog, query: Query, *, limit: int, count: bool = True) -> LexicalHits:
    """Top hits by BM25, with the number of matching papers when `count` (without, the total is
    the number of hits: counting every match costs time that only keyword mode's total needs)."""
    result = catalog.searcher.search(query, limit=limit, count=count)
    return _hits(catalog.searcher, result)


def exact_title(catalog: LoadedCatalog, raw: str, filters: Filters) -> np.ndarray:
    """Ids of papers whose title equals the query (case, accents, punctuation and math ignored)."""
    key = title_key(raw)
    if not key:
        return np.empty(0, dtype=np.int64)
    schema = catalog.index.schema
    clauses = [(Occur.Must, Query.term_query(schema, "title_key", key))]
    clauses += [(Occur.Must, q) for q in filter_clauses(schema, filters)]
    result = catalog.searcher.search(Query.boolean_query(clauses), limit=5, count=False)
    return _hits(catalog.searcher, result).ids


def fuzzy_title(catalog: LoadedCatalog, parsed: ParsedQuery, filters: Filters, *, limit: int) -> LexicalHits:
    """Title matches that tolerate a typo per word (edit distance 1, 2 for long words), so a
    misspelled title still finds its paper."""
    schema = catalog.index.schema
    tokens = [token for t in parsed.words if not t.cjk for token in analyze(t.text, "title")]
    long_tokens = [t for t in dict.fromkeys(tokens) if len(t) >= FUZZY_MIN_LENGTH]
    if len(long_tokens) < 2:
        return LexicalHits(np.empty(0, np.int64), np.empty(0, np.float32), 0)
    fuzzy = [_title_word(catalog, t) for t in long_tokens]
    minimum = max(2, math.ceil(len(fuzzy) * FUZZY_SHARE))
    clauses = [(Occur.Must, Query.boolean_query([(Occur.Should, q) for q in fuzzy],
                                                minimum_number_should_match=minimum))]
    # Titles matching as many words tie; the words' title BM25, scaled below one match, ranks the
    # tighter title first ("attention is all you nead": the five-word title before the long ones).
    clauses += [(Occur.Should, Query.boost_query(Query.term_query(schema, "title", t), FUZZY_TIE_BREAK))
                for t in long_tokens]
    clauses += [(Occur.Must, Query.const_score_query(q, 0.0)) for q in filter_clauses(schema, filters)]
    result = catalog.searcher.search(Query.boolean_query(clauses), limit=limit, count=False)
    return _hits(catalog.searcher, result)


def _title_word(catalog: LoadedCatalog, token: str) -> Query:
    """A title word allowing a typo (edit distance 1, 2 for long words). A word that many titles
    hold is spelled right: it is matched as it is, scoring what a fuzzy match scores (1), since
    a fuzzy query costs about a millisecond (its automaton walks the term dictionary)."""
    schema = catalog.index.schema
    if catalog.searcher.doc_freq("title", token) >= FUZZY_KNOWN_TITLES:
        return Query.const_score_query(Query.term_query(schema, "title", token), 1.0)
    return Query.fuzzy_term_query(schema, "title", token, distance=2 if len(token) >= 8 else 1)


def filter_clauses(schema: tantivy.Schema, filters: Filters) -> list[Query]:
    """Filters as tantivy clauses (each must match)."""
    clauses: list[Query] = []
    if filters.source:
        clauses.append(Query.term_query(schema, "source", filters.source))
    for field, values in (("category", filters.categories), ("venue", filters.venues), ("track", filters.tracks)):
        if values:
            clauses.append(Query.term_set_query(schema, field, list(values)))
    if filters.year_from is not None or filters.year_to is not None:
        clauses.append(Query.range_query(schema, "year", tantivy.FieldType.Integer,
                                         filters.year_from if filters.year_from is not None else -1,
                                         filters.year_to if filters.year_to is not None else 9999))
    if filters.date_from or filters.date_to:
        low = (filters.date_from - EPOCH).days if filters.date_from else 0
        high = (filters.date_to - EPOCH).days if filters.date_to else 10**7
        clauses.append(Query.range_query(schema, "published", tantivy.FieldType.Integer, low, high))
    return clauses


def _text_clause(schema: tantivy.Schema, text: Text) -> Query | None:
    """One word or phrase over its field (or the default fields, weighted)."""
    per_field = _field_clauses(schema, text)
    if not per_field:
        return None
    return per_field[0] if len(per_field) == 1 else Query.boolean_query([(Occur.Should, q) for q in per_field])


def _field_clauses(schema: tantivy.Schema, text: Text) -> list[Query]:
    """One word or phrase as a clause per field it is searched in (weighted)."""
    fields = {text.field: 1.0} if text.field else DEFAULT_FIELDS
    per_field = []
    for field, weight in fields.items():
        tokens = analyze(text.text, field)
        if not tokens:
            continue
        query = (Query.term_query(schema, field, tokens[0]) if len(tokens) == 1
                 else Query.phrase_query(schema, field, tokens))
        per_field.append(query if weight == 1.0 else Query.boost_query(query, weight))
    return per_field


def _hits(searcher: tantivy.Searcher, result) -> LexicalHits:
    addresses = [address for _, address in result.hits]
    ids = np.asarray(searcher.fast_field_values("id", addresses) if addresses else [], dtype=np.int64)
    scores = np.asarray([score for score, _ in result.hits], dtype=np.float32)
    return LexicalHits(ids, scores, result.count if result.count is not None else len(ids))
