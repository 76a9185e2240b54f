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
# UTF-8 bytes with the ASCII ones that are not word characters (\w: letters, digits, underscore)
# mapped to spaces; the bytes of other characters are kept, so the text splits on ASCII separators in C.
_ASCII_NON_WORD = bytes(b if b >= 128 or chr(b).isalnum() or b == ord("_") else ord(" ") for b in range(256))


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
    """Marks the words of the given texts whose index term is one of `stems`. The distinct words
    of all the texts are stemmed once; the ones that match become one regex that runs over each
    escaped text in C, instead of a Python step per word."""

    def __init__(self, stems: frozenset[str], texts: Iterable[str]) -> None:
        forms: frozenset[str] = frozenset()
        if stems:
            # English stemming rewrites at most a word's last three letters (y→i, -ational→-ate,
            # dying→die), so only a word that starts like a stem minus those can stem to it (a
            # word with letters ASCII folding changes is always checked).
            starts = tuple({stem[:max(1, len(stem) - 3)] for stem in stems})
            candidates = [word for word in _distinct_words("\n".join(texts))
                          if not word.isascii() or word.lower().lstrip("_").startswith(starts)]
            forms = frozenset(word for word, term in _STEMS.of(candidates).items() if term in stems)
        self._forms = forms
        self._pattern = _marking_pattern(forms) if forms else None

    def mark(self, text: str) -> str:
        """`text` HTML-escaped, its matching words in <mark>s."""
        return self.marked(text)[0]

    def marked(self, text: str) -> tuple[str, list[str]]:
        """(`text` HTML-escaped with its matching words in <mark>s, the distinct words that
        matched, lowercased, in order of appearance)."""
        pieces = self._pattern.split(text) if self._pattern is not None else [text]
        if len(pieces) == 1:  # between, word, between, ..., word, between
            return html.escape(text), []
        marked = [html.escape(pieces[0])]
        for i in range(1, len(pieces), 2):  # a word is letters and digits: nothing to escape
            marked += ("<mark>", pieces[i], "</mark>", html.escape(pieces[i + 1]))
        return "".join(marked), list(dict.fromkeys(word.lower() for word in pieces[1::2]))

    def matches(self, text: str) -> bool:
        """Whether any word of `text` matches."""
        return not self._forms.isdisjoint(_distinct_words(text))


def _distinct_words(text: str) -> set[str]:
    """The distinct \\w+ words of `text`: split at ASCII separators in C (faster than the regex over
    the whole text), then only the pieces holding other characters split by the regex."""
    pieces = set(text.encode().translate(_ASCII_NON_WORD).decode().split())
    if text.isascii():
        return pieces
    words = {piece for piece in pieces if piece.isascii()}
    for piece in pieces - words:
        words.update(_WORD.findall(piece))
    return words


@lru_cache(maxsize=1024)
def _marking_pattern(forms: frozenset[str]) -> re.Pattern:
    """Any of `forms` (\\w+ words) as a whole word of the text. The lookahead for their first
    letters lets the regex engine skip every other position without trying the alternatives."""
    alternatives = "|".join(map(re.escape, sorted(forms, key=len, reverse=True)))
    first_letters = "".join(sorted({re.escape(form[0]) for form in forms}))
    return re.compile(rf"(?=[{first_letters}])\b({alternatives})\b")

