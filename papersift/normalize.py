"""Text normalization for arXiv and conference metadata: display text, matching keys, author names.

`clean_text` is for display: whitespace collapsed, LaTeX text-mode accents turned into Unicode
outside math, math segments kept verbatim. The `*_key` functions build ASCII-folded matching keys.
"""

from __future__ import annotations

import re
import unicodedata

# Symbol accents (`\'e`) and letter accents (`\c{c}`, `\v s`) → combining marks.
_SYMBOL_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
}
_LETTER_ACCENTS = {
    "c": "\u0327",
    "v": "\u030c",
    "u": "\u0306",
    "H": "\u030b",
    "k": "\u0328",
    "r": "\u030a",
    "d": "\u0323",
    "b": "\u0331",
}
# Special letters written as control words: `{\o}`, `\ss`, `\AA`.
_SPECIAL_LETTERS = {
    "o": "ø",
    "O": "Ø",
    "ss": "ß",
    "aa": "å",
    "AA": "Å",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
    "j": "ȷ",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "dh": "ð",
    "DH": "Ð",
    "th": "þ",
    "TH": "Þ",
}
# Escaped specials: `\%` → `%`.
_ESCAPED_SPECIALS = {"%": "%", "&": "&", "_": "_", "#": "#"}
# Deeper accent/brace nesting is left as is (it is garbage, and recursion must stay bounded).
_MAX_ACCENT_NESTING = 8

# Letters NFKD does not decompose, folded for matching keys.
_ASCII_FOLDS = str.maketrans(
    {
        "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
        "ł": "l", "Ł": "L", "ı": "i", "ȷ": "j", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D",
        "þ": "th", "Þ": "TH",
    }
)  # fmt: skip

_MATH_DELIMITERS = re.compile(r"\$|\\[()\[\]]")
_NON_ALNUM = re.compile(r"[\W_]+")
_NON_LETTER = re.compile(r"[\W\d_]+")
_AUTHOR_SEPARATOR = re.compile(r"\s*[,;]\s*(?:and\s+)?|\s+and\s+")

_SPLIT_HYPHENATED_INITIAL = re.compile(r"(?<=\.)\s+-(?=\w)")
# Control characters (Cc): whitespace ones to a space, the others removed.
# C0/C1 controls, plus the invisible characters that only hide or reorder text: the zero-width
# space, the byte-order mark and the bidirectional embeddings, overrides and isolates (a title
# must read as it is stored). Zero-width (non-)joiners stay: scripts need them.
_CONTROL_TABLE = {
    code: (" " if chr(code).isspace() else None)
    for code in (*range(0x00, 0x20), *range(0x7F, 0xA0), 0x200B, 0xFEFF,
                 *range(0x202A, 0x202F), *range(0x2066, 0x206A))
}
# _CONTROL_TABLE for ASCII as bytes.translate arguments: whitespace controls (what str.split
# splits on) to spaces, the other controls deleted.
_ASCII_WHITESPACE = bytes(code for code in range(0x80) if chr(code).isspace())
_ASCII_CONTROLS = (
    bytes.maketrans(_ASCII_WHITESPACE, b" " * len(_ASCII_WHITESPACE)),
    bytes(code for code in (*range(0x20), 0x7F) if not chr(code).isspace()),
)
_SHORT_TEXT = 200
# Plain ASCII to a name key in one bytes.translate: letters lowercased, controls other than
# whitespace dropped (as clean_text drops them), everything else a space.
_ASCII_LETTER_KEYS = bytes(code | 0x20 if chr(code).isalpha() else 0x20 for code in range(256))
_ASCII_LETTER_KEYS_BETWEEN_NULS = b"\x00" + _ASCII_LETTER_KEYS[1:]  # NUL kept: it separates names
_MATH_CANDIDATE = re.compile(r"[$\\]")
_LATEX_CANDIDATE = re.compile(r"[{\\]")
# (opener, pattern finding its closer or a backslash pair; group 1 marks the closer).
_MATH_CLOSERS = [
    ("$$", re.compile(r"(\$\$)|\\.", re.S)),
    ("$", re.compile(r"(\$)|\\.", re.S)),
    ("\\(", re.compile(r"(\\\))|\\.", re.S)),
    ("\\[", re.compile(r"(\\\])|\\.", re.S)),
]


def clean_text(text: str) -> str:
    """Display text: controls dropped, whitespace collapsed, text-mode LaTeX to Unicode, NFC."""
    if _is_plain_ascii(text):
        return _clean_plain_ascii(text)  # most names, titles and abstracts: nothing to convert
    return _clean_unicode_and_latex(text)


def _is_plain_ascii(text: str) -> bool:
    """ASCII without LaTeX or math marks: cleaning it only drops controls and collapses spaces."""
    return text.isascii() and "\\" not in text and "$" not in text and "{" not in text


def _clean_plain_ascii(text: str) -> str:
    """`clean_text` for ASCII without LaTeX or math (already NFC). A short text is split into
    words; a long one is scanned as bytes and split only when a run of spaces is left (abstracts
    were much of an import's cost)."""
    if len(text) < _SHORT_TEXT:
        words = " ".join(text.split())
        return words if words.isprintable() else " ".join(words.translate(_CONTROL_TABLE).split())
    spaced = text.encode("ascii").translate(*_ASCII_CONTROLS).strip(b" ")
    return (b" ".join(spaced.split()) if b"  " in spaced else spaced).decode("ascii")


def _clean_unicode_and_latex(text: str) -> str:
    """`clean_text` for text that may hold LaTeX, math or non-ASCII characters."""
    text = unicodedata.normalize("NFC", _drop_controls(text))
    text = _collapse_whitespace(text)
    pieces = [
        piece if is_math else _convert_latex_text(piece) for piece, is_math in _split_math(text)
    ]
    return _collapse_whitespace(unicodedata.normalize("NFC", "".join(pieces)))


def title_key(title: str) -> str:
    """Matching key: cleaned, no math delimiters or backslashes, ASCII-folded lowercase words."""
    text = _MATH_DELIMITERS.sub(" ", clean_text(title)).replace("\\", " ")
    return _NON_ALNUM.sub(" ", ascii_fold(text).lower()).strip()


def name_key(name: str) -> str:
    """Author matching key: ASCII-folded, lowercase, non-letter runs as one space."""
    if _is_plain_ascii(name):
        keyed = name.encode("ascii").translate(_ASCII_LETTER_KEYS, _ASCII_CONTROLS[1])
        return b" ".join(keyed.split()).decode("ascii")
    return _NON_LETTER.sub(" ", ascii_fold(clean_text(name)).lower()).strip()


def name_keys(names: list[str]) -> list[str]:
    """`name_key` of each name; plain ASCII names are keyed together in one bytes.translate."""
    joined = "\x00".join(names)
    if not _is_plain_ascii(joined) or joined.count("\x00") != len(names) - 1:
        return [name_key(name) for name in names]
    keyed = joined.encode("ascii").translate(_ASCII_LETTER_KEYS_BETWEEN_NULS, _ASCII_CONTROLS[1][1:])
    return [b" ".join(key.split()).decode("ascii") for key in keyed.split(b"\x00")]


def ascii_fold(text: str) -> str:
    """Drop diacritics (NFKD without combining marks) and fold special letters like ø and ß."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLDS))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def format_author(last: str, first: str = "", suffix: str = "") -> str:
    """arXiv `authors_parsed` [last, first, suffix] → "First Last Suffix", empty parts skipped.

    arXiv's parser splits hyphenated initials ("C. -P."); they are joined back ("C.-P.").
    """
    if "-" in first:
        first = _SPLIT_HYPHENATED_INITIAL.sub("-", first)
    joined = f"{first} {last} {suffix}"
    if _is_plain_ascii(joined):  # most names: cleaned at once, as the parts cleaned one by one
        return _clean_plain_ascii(joined)
    parts = (clean_text(part) for part in (first, last, suffix))
    return " ".join(part for part in parts if part)


def split_author_list(text: str) -> list[str]:
    """Split arXiv's `authors` string on commas, semicolons and "and"; drop (affiliations)."""
    names = _AUTHOR_SEPARATOR.split(_drop_parenthesised(clean_text(text)))
    cleaned = (clean_text(name) for name in names)
    return [name for name in cleaned if name and name != "and"]


def split_venue_authors(text: str) -> list[str]:
    """Split a paperlists `a;b;c` author string: cleaned, empty parts and duplicates dropped."""
    names: dict[str, None] = {}
    for part in text.split(";"):
        name = clean_text(part)
        if name:
            names.setdefault(name)
    return list(names)


def _drop_controls(text: str) -> str:
    """C0/C1 controls (whitespace ones become spaces) and hiding/reordering characters removed."""
    return text.translate(_CONTROL_TABLE)


def _collapse_whitespace(text: str) -> str:
    """Every whitespace run as one space, stripped."""
    return " ".join(text.split())


def _split_math(text: str) -> list[tuple[str, bool]]:
    """(piece, is_math): `$$…$$`, `$…$`, `\\(…\\)`, `\\[…\\]` are math, unclosed ones text."""
    if "$" not in text and "\\" not in text:
        return [(text, False)]
    pieces: list[tuple[str, bool]] = []
    text_start = index = 0
    while (candidate := _MATH_CANDIDATE.search(text, index)) is not None:
        index = candidate.start()
        end = _math_end(text, index)
        if end is None:
            index += 2 if text[index] == "\\" else 1
            continue
        if text_start < index:
            pieces.append((text[text_start:index], False))
        pieces.append((text[index:end], True))
        text_start = index = end
    if text_start < len(text):
        pieces.append((text[text_start:], False))
    return pieces


def _math_end(text: str, start: int) -> int | None:
    """End of the math segment opening at `start`; None when none opens there or it never closes."""
    for opener, closing in _MATH_CLOSERS:
        if text.startswith(opener, start):
            return _find_closing(text, start + len(opener), closing)
    return None


def _find_closing(text: str, index: int, closing: re.Pattern[str]) -> int | None:
    """Index just past the closer at or after `index`, skipping backslash pairs; None when absent."""
    for match in closing.finditer(text, index):
        if match.lastindex:
            return match.end()
    return None


def _convert_latex_text(text: str) -> str:
    """Text-mode LaTeX (accents, special letters, escaped specials) to Unicode; the rest kept."""
    if "\\" not in text and "{" not in text:
        return text
    out: list[str] = []
    index = 0
    while (candidate := _LATEX_CANDIDATE.search(text, index)) is not None:
        start = candidate.start()
        out.append(text[index:start])
        converted = _braced_letter(text, start) if text[start] == "{" else None
        if converted is None and text[start] == "\\":
            converted = _latex_token(text, start)
        if converted is None:
            out.append(text[start])
            index = start + 1
            continue
        out.append(converted[0])
        index = converted[1]
    out.append(text[index:])
    return "".join(out)


def _braced_letter(text: str, start: int) -> tuple[str, int] | None:
    """`{\\'e}` or `{\\o}` at `start` → (letter, end); None when the group is anything else."""
    index = _skip_spaces(text, start + 1)
    token = _latex_token(text, index, consume_space=False) if text.startswith("\\", index) else None
    if token is None or token[0].startswith("\\"):
        return None
    end = _skip_spaces(text, token[1])
    if not text.startswith("}", end):
        return None
    return token[0], end + 1


def _latex_token(text: str, start: int, consume_space: bool = True) -> tuple[str, int]:
    """The backslash token at `start` → (replacement, end); unknown tokens are kept verbatim."""
    accented = _accent_command(text, start)
    if accented is not None:
        return accented
    symbol = text[start + 1 : start + 2]
    if symbol in _ESCAPED_SPECIALS:
        return _ESCAPED_SPECIALS[symbol], start + 2
    word_end = _word_end(text, start + 1)
    word = text[start + 1 : word_end]
    if word in _SPECIAL_LETTERS:
        return _SPECIAL_LETTERS[word], _skip_terminator(text, word_end, consume_space)
    end = max(word_end, min(start + 2, len(text)))
    return text[start:end], end


def _accent_command(text: str, start: int, depth: int = 0) -> tuple[str, int] | None:
    """`\\'e`, `\\c{c}`, `\\v s`, nested `\\'{\\^e}` at `start` → (letter, end), else None."""
    symbol = text[start + 1 : start + 2]
    if symbol in _SYMBOL_ACCENTS:
        accent, argument_start = _SYMBOL_ACCENTS[symbol], start + 2
    else:
        word_end = _word_end(text, start + 1)
        accent = _LETTER_ACCENTS.get(text[start + 1 : word_end])
        if accent is None:
            return None
        argument_start = word_end
        if text.startswith(" ", word_end) and _is_ascii_letter(text[word_end + 1 : word_end + 2]):
            argument_start += 1
    argument = _accent_argument(text, argument_start, depth + 1)
    if argument is None:
        return None
    return unicodedata.normalize("NFC", argument[0] + accent), argument[1]


def _accent_argument(text: str, start: int, depth: int) -> tuple[str, int] | None:
    """Accent argument at `start`: `e`, `{e}`, `\\i`, `{\\i}`, another accent → (base, end)."""
    if depth > _MAX_ACCENT_NESTING:
        return None
    if text.startswith("{", start):
        inner = _accent_argument(text, _skip_spaces(text, start + 1), depth + 1)
        if inner is None:
            return None
        end = _skip_spaces(text, inner[1])
        return (inner[0], end + 1) if text.startswith("}", end) else None
    dotless = text[start : start + 2] in ("\\i", "\\j")
    if dotless and not _is_ascii_letter(text[start + 2 : start + 3]):
        return text[start + 1], start + 2
    if text.startswith("\\", start):
        return _accent_command(text, start, depth)
    # A letter that already carries a combining mark is left alone, so cleaning stays idempotent.
    if _is_ascii_letter(text[start : start + 1]) and not _is_combining(text[start + 1 : start + 2]):
        return text[start], start + 1
    return None


def _word_end(text: str, index: int) -> int:
    """End of the ASCII-letter run at `index`; a letter carrying a combining mark ends it."""
    while _is_ascii_letter(text[index : index + 1]):
        if _is_combining(text[index + 1 : index + 2]):
            break
        index += 1
    return index


def _is_combining(char: str) -> bool:
    """True for one combining mark."""
    return len(char) == 1 and unicodedata.category(char).startswith("M")


def _skip_terminator(text: str, index: int, consume_space: bool) -> int:
    """Skip what ends a control word: one space, or an empty `{}`."""
    if text.startswith("{}", index):
        return index + 2
    if consume_space and text.startswith(" ", index):
        return index + 1
    return index


def _skip_spaces(text: str, index: int) -> int:
    """The first index at or after `index` that is not a space."""
    while text.startswith(" ", index):
        index += 1
    return index


def _is_ascii_letter(char: str) -> bool:
    """True for one ASCII letter."""
    return len(char) == 1 and char.isascii() and char.isalpha()


def _drop_parenthesised(text: str) -> str:
    """Remove parenthesised parts at any nesting depth; stray closing parentheses go too."""
    kept: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif depth == 0:
            kept.append(char)
    return "".join(kept)
