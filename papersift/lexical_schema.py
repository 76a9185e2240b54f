"""The keyword (BM25) index's schema and text analysis, shared by the indexer that writes it and
the service that queries it, so both analyze words the same way."""

from __future__ import annotations

import tantivy

ENGLISH = "papersift_en"  # lowercase, ASCII folding, English (Porter 2) stemming
NAMES = "papersift_names"  # lowercase, ASCII folding, no stemming
# Fields searched by bare words, with their weights in the BM25 sum: `text` (title, keywords and
# abstract as one field, so BM25 sees one document as the baseline does) plus title and author boosts.
DEFAULT_FIELDS = {"text": 1.0, "title": 0.1, "authors": 0.2}
# Dropped from bare-word queries longer than three words (kept in phrases and short queries).
STOPWORDS = frozenset("""a about above after again against all am an and any are as at be because been
before being below between both but by can did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself just me
more most my myself no nor not now of off on once only or other our ours ourselves out over own same
she should so some such than that the their theirs them themselves then there these they this those
through to too under until up very was we were what when where which while who whom why will with
you your yours yourself yourselves""".split())


def english_analyzer() -> tantivy.TextAnalyzer:
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(64)).filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.ascii_fold()).filter(tantivy.Filter.stemmer("english")).build())


def names_analyzer() -> tantivy.TextAnalyzer:
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(64)).filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.ascii_fold()).build())


ANALYZERS = {ENGLISH: english_analyzer, NAMES: names_analyzer}
FILTER_KEYWORDS = ("category", "venue", "track", "source")  # exact-match filter fields
FIELD_ANALYZER = {"text": ENGLISH, "title": ENGLISH, "abstract": ENGLISH, "keywords": ENGLISH,
                  "authors": NAMES}


def build_schema() -> tantivy.Schema:
    """id (fast), analyzed text fields, and a raw title key for exact-title lookups."""
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("id", stored=False, indexed=True, fast=True)
    for name, analyzer in FIELD_ANALYZER.items():
        builder.add_text_field(name, stored=False, tokenizer_name=analyzer, index_option="position")
    builder.add_text_field("title_key", stored=False, tokenizer_name="raw", index_option="basic")
    for name in FILTER_KEYWORDS:
        builder.add_text_field(name, stored=False, tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("year", stored=False, indexed=True, fast=True)
    builder.add_integer_field("published", stored=False, indexed=True, fast=True)  # days since 1970
    return builder.build()


def register_analyzers(index: tantivy.Index) -> None:
    for name, make in ANALYZERS.items():
        index.register_tokenizer(name, make())


def analyze(text: str, field: str, _cache: dict = {}) -> list[str]:  # noqa: B006 - a module cache
    """The index terms of `text` as `field` stores them."""
    name = FIELD_ANALYZER[field]
    analyzer = _cache.get(name)
    if analyzer is None:
        analyzer = _cache[name] = ANALYZERS[name]()
    return analyzer.analyze(text)
