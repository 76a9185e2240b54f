"""Mark the query's terms in a title or abstract: words are compared by their index terms (the
same stemming as the keyword index), so "networks" marks "network". Output is HTML-escaped."""

from __future__ import annotations

import html
import re
from functools import lru_cache

from papersift.lexical_schema import STOPWORDS, analyze

_WORD = re.compile(r"\w+", re.UNICODE)
_SPLIT = re.compile(r"(\w+)", re.UNICODE)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    terms = analyze(word, "title")
    return terms[0] if terms else ""


def query_stems(terms: list[str]) -> frozenset[str]:
    """Index terms of the query's words (stopwords left out: they would mark every line)."""
    stems = set()
    for term in terms:
        for word in _WORD.findall(term):
            if word.lower() not in STOPWORDS:
                stems.add(_stem(word))
    stems.discard("")
    return frozenset(stems)


def highlight(text: str, stems: frozenset[str]) -> tuple[str, list[str]]:
    """(escaped text with <mark>s, the distinct words that matched)."""
    if not stems or not text:
        return html.escape(text), []
    if text.isascii() and "_" not in text:
        # Plain ASCII: every word is one index term, so the whole text is analyzed in one call.
        terms = analyze(text, "title")
        if stems.isdisjoint(terms):
            return html.escape(text), []
        pieces = _SPLIT.split(text)  # between, word, between, word, ..., between
        if len(terms) == len(pieces) // 2:  # else a word over 64 characters dropped a term
            return _mark(pieces, [2 * i + 1 for i, term in enumerate(terms) if term in stems])
    pieces = _SPLIT.split(text)
    hits = {word for word in set(pieces[1::2]) if _stem(word) in stems}
    return _mark(pieces, [i for i in range(1, len(pieces), 2) if pieces[i] in hits])


def _mark(pieces: list[str], marked: list[int]) -> tuple[str, list[str]]:
    """Join split text, marking the words at the given positions; the runs between are escaped whole."""
    if not marked:
        return html.escape("".join(pieces)), []
    parts, matched, last = [], [], 0
    for i in marked:
        word = pieces[i]
        parts.append(html.escape("".join(pieces[last:i])))
        parts.append(f"<mark>{html.escape(word)}</mark>")
        last = i + 1
        if word.lower() not in matched:
            matched.append(word.lower())
    parts.append(html.escape("".join(pieces[last:])))
    return "".join(parts), matched
