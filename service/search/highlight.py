"""Mark the query's terms in a page's titles and abstracts: words are compared by their index
terms (the same stemming as the keyword index), so "networks" marks "network". Output is
HTML-escaped."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import lru_cache

from papersift.lexical_schema import STOPWORDS, analyze

_WORD = re.compile(r"\w+", re.UNICODE)


STEM_CACHE_SIZE = 250_000  # words (about 40 MB); the cache starts over when full


class _StemCache:
    """The index term of each word seen (its first term; "" for none), looked up by the set: a
    page's new words are analyzed in one call rather than one call each."""

    def __init__(self) -> None:
        self._terms: dict[str, str] = {}

    def of(self, words: Iterable[str]) -> dict[str, str]:
        terms = self._terms
        found = {word: terms.get(word) for word in words}
        missing = [word for word, term in found.items() if term is None]
        if missing:
            learned = _analyze_words(missing)
            if len(terms) + len(learned) > STEM_CACHE_SIZE:
                self._terms = terms = {}
            terms.update(learned)
            found.update(learned)
        return found


def _analyze_words(words: list[str]) -> dict[str, str]:
    """Index terms of `words`. A plain ASCII word (no underscore, at most 64 letters) is exactly
    one term, so those are analyzed together; any other word alone."""
    plain = [w for w in words if w.isascii() and "_" not in w and len(w) <= 64]
    terms = analyze(" ".join(plain), "title") if plain else []
    learned = dict(zip(plain, terms)) if len(terms) == len(plain) else {}
    for word in words:
        if word not in learned:
            first = analyze(word, "title")
            learned[word] = first[0] if first else ""
    return learned


_STEMS = _StemCache()


def _stem(word: str) -> str:
    return _STEMS.of((word,))[word]


def query_stems(terms: list[str]) -> frozenset[str]:
    """Index terms of the query's words (stopwords left out: they would mark every line)."""
    stems = set()
    for term in terms:
        for word in _WORD.findall(term):
            if word.lower() not in STOPWORDS:
                stems.add(_stem(word))
    stems.discard("")
    return frozenset(stems)


class Highlighter:
    """Marks the words whose index term is one of `stems`, for one page of results.

    English stemming rewrites at most a word's last three letters (y→i, -ational→-ate,
    dying→die), so only a word that starts like a stem minus those can stem to it. One regex finds
    those candidates in C; only they are stemmed (through the shared cache), each once a page. A
    text with non-ASCII letters has every word checked (ASCII folding changes those)."""

    def __init__(self, stems: frozenset[str]) -> None:
        self._candidates = _candidate_pattern(stems) if stems else None
        self._stems = stems
        self._verdicts: dict[str, bool] = {}  # word → whether it matches

    def mark(self, text: str) -> str:
        """`text` HTML-escaped, its matching words in <mark>s."""
        return self.marked(text)[0]

    def marked(self, text: str) -> tuple[str, list[str]]:
        """(`text` HTML-escaped with its matching words in <mark>s, the distinct words that
        matched, lowercased, in order of appearance)."""
        if self._candidates is None:
            return html.escape(text), []
        pieces = self._words_to_judge(text).split(text)  # between, word, between, ...
        if len(pieces) == 1:
            return html.escape(text), []
        verdicts = self._judged(pieces[1::2])
        marked: list[str] = []
        matched: dict[str, None] = {}
        between = pieces[0]
        for i in range(1, len(pieces), 2):
            word = pieces[i]
            if verdicts[word]:  # a word is letters and digits: nothing to escape
                marked += (html.escape(between), "<mark>", word, "</mark>")
                matched[word.lower()] = None
                between = pieces[i + 1]
            else:
                between += word + pieces[i + 1]
        marked.append(html.escape(between))
        return "".join(marked), list(matched)

    def matches(self, text: str) -> bool:
        """Whether any word of `text` matches."""
        if self._candidates is None:
            return False
        words = self._words_to_judge(text).findall(text)
        verdicts = self._judged(words)
        return any(verdicts[word] for word in words)

    def _words_to_judge(self, text: str) -> re.Pattern:
        """The regex capturing the words of `text` that may match: the candidates, or every word
        of a text with non-ASCII letters."""
        return self._candidates if text.isascii() else _ANY_WORD

    def _judged(self, words: list[str]) -> dict[str, bool]:
        """Whether each word matches, by word (the page's new words stemmed in one call)."""
        verdicts = self._verdicts
        new = [word for word in words if word not in verdicts]
        if new:
            stems = self._stems
            verdicts.update((word, term in stems) for word, term in _STEMS.of(new).items())
        return verdicts


_ANY_WORD = re.compile(r"(\w+)")


@lru_cache(maxsize=1024)
def _candidate_pattern(stems: frozenset[str]) -> re.Pattern:
    """A whole word (leading underscores aside) that starts like one of `stems` minus its last
    three letters, in any case, captured. The lookahead for the starts' first letters lets the
    regex engine skip every other position without trying the alternatives."""
    starts = sorted({stem[:max(1, len(stem) - 3)] for stem in stems}, key=len, reverse=True)
    first_letters = "".join(sorted({re.escape(start[0]) for start in starts} | {"_"}))
    alternatives = "|".join(map(re.escape, starts))
    return re.compile(rf"(?=[{first_letters}])\b(_*(?:{alternatives})\w*)", re.IGNORECASE)
