"""The search query language, parsed into data (never into SQL or engine syntax).

    graph neural network          bare words: ranked by relevance (all required when ≤ 3 words)
    "exact phrase"                a phrase, required
    -excluded  -"a phrase"        excluded words or phrases
    diffusion OR flow             either side, required
    ti:  au:  abs:                a word or "phrase" in the title / authors / abstract
    cat:cs.LG  venue:iclr         filters (repeat a prefix to allow several values)
    year:2024  year:2019..2021    a year or an inclusive range (either end may be open)
    id:2503.11731  or a URL       that paper first (arXiv or OpenReview URL, or a public id)
    2503.11731  arXiv:2503.11731  a bare arXiv id, the same as id:

A word with a colon that is not one of these prefixes is plain text ("BERT: Pre-training ...").
Natural text always parses: a quote left open is read as text, an OR with nothing to join is
dropped, and a URL that names no paper is words. In a sentence (12 bare words or more) quotes, ORs
and minus signs only rank; a long text (a pasted abstract) is searched by its most informative terms (see
`long_text`). Chinese, Japanese and Korean are read as character bigrams, apart from Latin terms
glued to them (papersift.scripts). Only an operator used wrongly on purpose (year:abc,
id:nonsense, -cat:...) raises InvalidQuery, with the position and what to change.
"""

from __future__ import annotations

import re
import dataclasses
from dataclasses import dataclass, field

from papersift.errors import InvalidQuery
from papersift.ids import parse_public_id
from papersift.scripts import bigrams, has_cjk, segment, split_runs

MAX_QUERY_CHARS = 10_000  # a pasted abstract with its LaTeX fits several times over
LONG_TEXT_WORDS = 40  # beyond this many words a query is a text to find papers like
DESCRIPTION_WORDS = 12  # from this many bare words on, quotes, ORs and minus signs are text, not operators
TEXT_FIELDS = {"ti": "title", "title": "title", "au": "authors", "author": "authors",
               "abs": "abstract", "abstract": "abstract"}
FILTER_FIELDS = {"cat": "category", "category": "category", "venue": "venue", "year": "year",
                 "id": "id"}
YEAR_RANGE = re.compile(r"(?P<low>\d{4})?(?:\.\.(?P<high>\d{4})?)?")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
# Words that can only be an arXiv id (new style, or arXiv: with either style), never a search word.
_PAPER_ID = re.compile(r"(?:arxiv:)?\d{4}\.\d{4,5}(?:v\d+)?|arxiv:[a-z-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?",
                       re.IGNORECASE)
_PREFIX = re.compile(r"([A-Za-z]+):(?=\S)")


@dataclass(frozen=True)
class Text:
    """A word or phrase, optionally restricted to one field (None: title, authors, keywords, abstract)."""

    text: str
    field: str | None = None
    phrase: bool = False
    cjk: bool = False  # a CJK character bigram: optional, never required (see lexical.keyword_query)
    source: str = dataclasses.field(default="", compare=False)  # what the reader typed, when `text` is derived


@dataclass
class ParsedQuery:
    """What a query asks for."""

    raw: str
    words: list[Text] = field(default_factory=list)  # bare, ranked
    required: list[list[Text]] = field(default_factory=list)  # each group: any one must match
    excluded: list[Text] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    venues: list[str] = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None
    ids: list[str] = field(default_factory=list)  # public ids, asked for first

    @property
    def has_text(self) -> bool:
        return bool(self.words or self.required)

    @property
    def long_text(self) -> bool:
        """A pasted abstract or a long description: searched by its most informative terms."""
        return len(self.words) > LONG_TEXT_WORDS

    @property
    def semantic_text(self) -> str:
        """The words a reader typed about the paper's content, in order, for the embedding."""
        texts = self.words + [t for group in self.required for t in group if t.field != "authors"]
        parts: list[str] = []
        for i, t in enumerate(texts):
            if not t.source:
                parts.append(t.text)
            elif i == 0 or texts[i - 1].source != t.source:  # the pieces of one typed word: once
                parts.append(t.source)
        return " ".join(parts)

    @property
    def terms(self) -> list[str]:
        """Every positive word, for highlighting."""
        texts = self.words + [t for group in self.required for t in group]
        return [word for t in texts for word in t.text.split()]


def parse_query(raw: str) -> ParsedQuery:
    """Parse `raw`; raise InvalidQuery saying where and what to fix."""
    if len(raw) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"the query is {len(raw):,} characters long; the limit is {MAX_QUERY_CHARS:,}",
                           hint="shorten the query to its key words or one sentence")
    query = ParsedQuery(raw=raw)
    pending_or: _Token | None = None  # an OR waiting for its right-hand side
    last_kind = None  # "word" | "required": where the clause before an OR went
    for token in _tokens(_without_open_quote(raw)):
        if token.kind == "or":
            if last_kind is not None and not pending_or:
                pending_or = token
            continue  # an OR with nothing on its left joins nothing: dropped
        clause = _clause(token, query)
        if clause is None:
            pending_or = None  # "a OR year:2020": the OR joined nothing
            continue
        negated, text = clause
        if negated:
            pending_or = None  # "a OR -b": nothing to join
            query.excluded.append(text)
        elif pending_or:
            if last_kind == "word":
                query.required.append([query.words.pop(), text])
            else:
                query.required[-1].append(text)
            pending_or, last_kind = None, "required"
        elif text.phrase or text.field:
            query.required.append([text])
            last_kind = "required"
        else:
            query.words.append(text)
            last_kind = "word"
    _read_scripts(query)  # (a trailing OR joined nothing: dropped)
    if len(query.words) >= DESCRIPTION_WORDS:  # a described idea or a pasted text: its quotes, ORs
        # and minus signs ("state-of -the-art") rank instead of filtering; field prefixes still filter
        query.words += [t for group in query.required if not any(t.field for t in group) for t in group]
        query.words += [t for t in query.excluded if not t.field]
        query.required = [group for group in query.required if any(t.field for t in group)]
        query.excluded = [t for t in query.excluded if t.field]
    if query.year_from and query.year_to and query.year_from > query.year_to:
        raise InvalidQuery(f"year:{query.year_from}..{query.year_to} is an empty range",
                           hint="write the earlier year first")
    return query


@dataclass(frozen=True)
class _Token:
    kind: str  # "word" | "phrase" | "or" | "url"
    text: str
    position: int
    negated: bool = False
    prefix: str | None = None


def _tokens(raw: str) -> list[_Token]:
    """Split into words, quoted phrases, URLs and OR, keeping positions for error messages."""
    tokens: list[_Token] = []
    i, n = 0, len(raw)
    while i < n:
        if raw[i].isspace():
            i += 1
            continue
        start = i
        negated = raw[i] == "-" and i + 1 < n and not raw[i + 1].isspace()
        if negated:
            i += 1
        prefix = None
        prefix_match = _PREFIX.match(raw, i)
        if prefix_match and prefix_match.group(1).lower() in {**TEXT_FIELDS, **FILTER_FIELDS}:
            prefix = prefix_match.group(1).lower()
            i = prefix_match.end()
        if i < n and raw[i] == '"':
            close = raw.find('"', i + 1)
            tokens.append(_Token("phrase", raw[i + 1:close], start, negated, prefix))
            i = close + 1
            continue
        end = i
        while end < n and not raw[end].isspace():
            end += 1
        word = raw[i:end]
        if '"' in word:
            quote = i + word.index('"')
            end = quote  # the phrase starts a new token
            word = raw[i:end]
        if word:
            kind = "url" if _URL.fullmatch(word) else ("or" if word == "OR" and not negated and not prefix else "word")
            tokens.append(_Token(kind, word, start, negated, prefix))
        elif prefix or negated:
            raise InvalidQuery(f"nothing follows {raw[start:end]!r} at position {start + 1}",
                               hint="write the word right after the prefix, e.g. au:hinton")
        i = end
    return tokens


def _without_open_quote(raw: str) -> str:
    """Quotes pair up in order; one left open (an odd count) is read as text, not a phrase."""
    if raw.count('"') % 2 == 0:
        return raw
    last = raw.rindex('"')
    return raw[:last] + " " + raw[last + 1:]


def _read_scripts(query: ParsedQuery) -> None:
    """Bare words holding CJK become their Latin parts plus optional CJK bigrams; other texts with
    CJK are searched as their segmented form (a phrase of bigrams)."""
    words: list[Text] = []
    for word in query.words:
        if not has_cjk(word.text):
            words.append(word)
            continue
        for run, cjk in split_runs(word.text):
            if cjk:
                words += [Text(pair, cjk=True, source=word.text) for pair in bigrams(run)]
            elif run.strip():
                words += [Text(part, source=word.text) for part in run.split()]
    query.words = words
    query.required = [[_segmented(t) for t in group] for group in query.required]
    query.excluded = [_segmented(t) for t in query.excluded]


def _segmented(text: Text) -> Text:
    if not has_cjk(text.text):
        return text
    return Text(" ".join(segment(text.text).split()), text.field, phrase=True, source=text.text)


def _clause(token: _Token, query: ParsedQuery) -> tuple[bool, Text] | None:
    """A text clause (negated?, Text), or None when the token was a filter or id."""
    if token.kind == "url" and not token.prefix:
        public_id = parse_public_id(token.text)
        if public_id is not None:
            query.ids.append(public_id)
            return None  # a URL that names no paper (a code link in an abstract) is words
    if token.kind == "word" and not token.prefix and not token.negated and _PAPER_ID.fullmatch(token.text):
        query.ids.append(parse_public_id(token.text))  # a bare arXiv id: 2503.11731, arXiv:2503.11731v2
        return None
    prefix = token.prefix
    if prefix in FILTER_FIELDS:
        if token.negated:
            raise InvalidQuery(f"-{prefix}: cannot be negated", hint=f"remove the minus before {prefix}:")
        _apply_filter(FILTER_FIELDS[prefix], token.text.strip(), token.position, query)
        return None
    text = " ".join(token.text.split())
    if not text:
        return None  # "" asks for nothing
    field_name = TEXT_FIELDS.get(prefix) if prefix else None
    return token.negated, Text(text, field_name, phrase=token.kind == "phrase" and (" " in text or has_cjk(text)))


def _apply_filter(name: str, value: str, position: int, query: ParsedQuery) -> None:
    if not value:
        raise InvalidQuery(f"{name}: at position {position + 1} has no value", hint=f"write e.g. {name}:2024")
    if name == "category":
        query.categories.append(value)
    elif name == "venue":
        query.venues.append(value.lower())
    elif name == "id":
        public_id = parse_public_id(value)
        if public_id is None:
            raise InvalidQuery(f"id:{value} is not a paper id",
                               hint="write id:2503.11731, id:arxiv:2503.11731 or id:openreview:<forum id>")
        query.ids.append(public_id)
    else:
        match = YEAR_RANGE.fullmatch(value)
        if not value or not match or not (match.group("low") or match.group("high")):
            raise InvalidQuery(f"year:{value} is not a year or a range",
                               hint="write year:2024, year:2019..2021, year:2020.. or year:..2018")
        low, high = match.group("low"), match.group("high")
        if ".." not in value:
            high = low
        query.year_from = int(low) if low else None
        query.year_to = int(high) if high else None
