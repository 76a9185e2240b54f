"""Text split where the script changes, CJK as overlapping character bigrams (the way Lucene's
CJK analyzer reads Chinese, Japanese and Korean, which are written without spaces).

`segment` is applied to the keyword index's text fields and to query text alike, so both sides
see the same tokens: "视频理解方法Long-VMNet" becomes "视频 频理 理解 解方 方法 Long-VMNet", and a Latin
term glued to Chinese is searched as itself.
"""

from __future__ import annotations

import re
import unicodedata

# Han (with extensions and compatibility ideographs), Hiragana, Katakana, Hangul.
_CJK = ("\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
        "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f")
_CJK_RUN = re.compile(f"[{_CJK}]+")
_HAS_CJK = re.compile(f"[{_CJK}]")


def has_cjk(text: str) -> bool:
    return _HAS_CJK.search(text) is not None


def bigrams(run: str) -> list[str]:
    """Overlapping character pairs of a CJK run (a single character stays as it is)."""
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def segment(text: str) -> str:
    """`text` with each CJK run replaced by its bigrams, set apart by spaces from what surrounds
    it; text without CJK is returned unchanged. Full-width letters and punctuation are folded
    (NFKC) first, so "ＢＥＲＴ，" reads as "BERT,"."""
    if not has_cjk(text):
        return text
    text = unicodedata.normalize("NFKC", text)
    return _CJK_RUN.sub(lambda run: " " + " ".join(bigrams(run.group())) + " ", text)


def split_runs(text: str) -> list[tuple[str, bool]]:
    """(run, is_cjk) pieces of `text` in order; non-CJK pieces keep their text (NFKC-folded)."""
    text = unicodedata.normalize("NFKC", text)
    pieces: list[tuple[str, bool]] = []
    position = 0
    for run in _CJK_RUN.finditer(text):
        if run.start() > position:
            pieces.append((text[position : run.start()], False))
        pieces.append((run.group(), True))
        position = run.end()
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


def latin_share(text: str) -> float:
    """The share of `text`'s letters that are Latin (1 for text without letters): below one half,
    a query is mostly in another script (Chinese, Cyrillic, Arabic, ...)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0
    return sum(1 for c in letters if unicodedata.name(c, "").startswith("LATIN")) / len(letters)
