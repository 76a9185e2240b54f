"""Text normalization: display cleaning, matching keys and author-name splitting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papersift.normalize import (
    _NON_LETTER,
    _SPLIT_HYPHENATED_INITIAL,
    _clean_unicode_and_latex,
    ascii_fold,
    clean_text,
    format_author,
    name_key,
    name_keys,
    split_author_list,
    split_venue_authors,
    title_key,
)


def test_clean_text_collapses_line_breaks_in_real_arxiv_title() -> None:
    raw = "Calculation of prompt diphoton production cross sections at Tevatron and\n  LHC energies"
    expected = (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert clean_text(raw) == expected


def test_clean_text_collapses_all_whitespace_kinds_and_strips() -> None:
    assert clean_text("  a\tb\r\nc \n\n d  ") == "a b c d"


def test_clean_text_keeps_math_intact() -> None:
    raw = "reduction in power and area by 5.02 $\\times$ and 4.06 $\\times$ at CMOS 28 nm"
    assert clean_text(raw) == raw


@pytest.mark.parametrize(
    "raw",
    [
        "runs in $\\mathcal{O}(n)$ time",
        "the $tanh$ activation",
        "a 4.64$\\times$ speedup",
        "inline \\(x\\) math",
        "display $$\\sum_i \\'a_i$$ math",
        "bracket \\[\\\"o + \\%\\] math",
    ],
)
def test_clean_text_leaves_every_math_delimiter_style_untouched(raw: str) -> None:
    assert clean_text(raw) == raw


def test_clean_text_collapses_whitespace_inside_math() -> None:
    assert clean_text("$a +\n  b$") == "$a + b$"


def test_clean_text_unescapes_percent() -> None:
    assert clean_text("40\\% pruning rate") == "40% pruning rate"


def test_clean_text_unescapes_specials_outside_math_only() -> None:
    assert clean_text("R\\&D, 10\\%, a\\_b, \\#1 and $50\\%$") == "R&D, 10%, a_b, #1 and $50\\%$"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bal\\'azs", "Balázs"),
        ("\\'{e}", "é"),
        ('{\\"o}', "ö"),
        ('\\"{u}', "ü"),
        ("\\`a", "à"),
        ("\\^o", "ô"),
        ("\\~n", "ñ"),
        ("\\c{c}", "ç"),
        ("\\v{s}", "š"),
        ("\\={a}", "ā"),
        ("\\u{a}", "ă"),
        ("\\H{o}", "ő"),
        ("\\.{z}", "ż"),
        ("{\\o}", "ø"),
        ("{\\O}", "Ø"),
        ("{\\ss}", "ß"),
        ("\\aa", "å"),
        ("\\AA", "Å"),
        ("{\\l}", "ł"),
        ("{\\L}", "Ł"),
        ("\\i", "ı"),
        ("{\\ae}", "æ"),
        ("\\'{\\i}", "í"),
        ("\\'\\i", "í"),
        ("{\\'e}", "é"),
        ("Fran\\c cois", "François"),
        ("Bj\\o rn", "Bjørn"),
        ("\\'{\\^e}", "ế"),
    ],
)
def test_clean_text_converts_latex_accents_to_unicode(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_text_converts_accents_in_names_and_titles() -> None:
    raw = "G\\\"{o}del, Erd\\H{o}s and Sch{\\\"o}lkopf"
    assert clean_text(raw) == "Gödel, Erdős and Schölkopf"


def test_clean_text_does_not_convert_accents_inside_math() -> None:
    assert clean_text("Erd\\H{o}s $\\H{o}$") == "Erdős $\\H{o}$"


def test_clean_text_output_is_nfc() -> None:
    assert clean_text("e\u0301") == "\u00e9"


def test_clean_text_removes_control_characters() -> None:
    assert clean_text("a\x00b\x07c\x1bd\x9fe") == "abcde"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("\\", "\\"),
        ("\\'", "\\'"),
        ("ends with \\'", "ends with \\'"),
        ("$ unbalanced \\'e", "$ unbalanced é"),
        ("$$ unclosed", "$$ unclosed"),
        ("\\( unclosed", "\\( unclosed"),
        ("{\\em emphasis} \\\\ \\alpha", "{\\em emphasis} \\\\ \\alpha"),
        ("price \\$5 and \\$6", "price \\$5 and \\$6"),
    ],
)
def test_clean_text_tolerates_malformed_latex(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_text_survives_deeply_nested_accents_and_braces() -> None:
    for raw in ("\\'" * 5000 + "e", "\\'" + "{" * 5000 + "e" + "}" * 5000, "\\c{" * 3000):
        cleaned = clean_text(raw)
        assert clean_text(cleaned) == cleaned


def test_title_key_folds_punctuation_case_and_line_breaks() -> None:
    title = "BERT: Pre-training of Deep\n  Bidirectional Transformers"
    assert title_key(title) == "bert pre training of deep bidirectional transformers"


def test_title_key_strips_math_delimiters_commands_and_accents() -> None:
    assert title_key("An $\\mathcal{O}(n)$ Algorithm by Bal\\'azs and Bj{\\o}rn") == (
        "an mathcal o n algorithm by balazs and bjorn"
    )


def test_title_key_matches_across_latex_and_unicode_spellings() -> None:
    assert title_key("Sch{\\\"o}lkopf's Kernels") == title_key("Schölkopf’s  kernels")


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("Bal\\'azs", "C.", ""), "C. Balázs"),
        (("Park", "Jungyeon", ""), "Jungyeon Park"),
        (("Smith", "John", "Jr"), "John Smith Jr"),
        (("Collaboration", "", ""), "Collaboration"),
        (("  Doe\n", " Jane ", " "), "Jane Doe"),
    ],
)
def test_format_author_orders_first_last_suffix(parts: tuple[str, str, str], expected: str) -> None:
    assert format_author(*parts) == expected


def test_format_author_defaults_skip_missing_parts() -> None:
    assert format_author("Einstein") == "Einstein"


def test_split_author_list_splits_on_commas_and_and() -> None:
    assert split_author_list("C. Bal\\'azs, E. L. Berger, P. M. Nadolsky and C.-P. Yuan") == [
        "C. Balázs",
        "E. L. Berger",
        "P. M. Nadolsky",
        "C.-P. Yuan",
    ]


def test_split_author_list_handles_oxford_comma_semicolons_and_line_breaks() -> None:
    assert split_author_list("A. One, B. Two, and C. Three; D. Four and\n  E. Five") == [
        "A. One",
        "B. Two",
        "C. Three",
        "D. Four",
        "E. Five",
    ]


def test_split_author_list_drops_parenthesised_affiliations() -> None:
    assert split_author_list("A. Author (MIT), B. Author") == ["A. Author", "B. Author"]


def test_split_author_list_does_not_split_inside_nested_parentheses() -> None:
    text = "A. Author (MIT, Cambridge (USA) and CERN), B. Author ((1) Oxford, UK)"
    assert split_author_list(text) == ["A. Author", "B. Author"]


def test_split_author_list_keeps_names_containing_and() -> None:
    names = ["Alexander Anand", "Sandra Andersen"]
    assert split_author_list(", ".join(names)) == names


def test_split_author_list_of_empty_text_is_empty() -> None:
    assert split_author_list("") == []
    assert split_author_list(" , ;  and ") == []


def test_split_venue_authors_splits_on_semicolons_with_any_spacing() -> None:
    assert split_venue_authors("Ada Lovelace;Alan Turing; Grace Hopper;  Bal\\'azs C.") == [
        "Ada Lovelace",
        "Alan Turing",
        "Grace Hopper",
        "Balázs C.",
    ]


def test_split_venue_authors_drops_repeated_names_keeping_first_order() -> None:
    assert split_venue_authors("J.S. Albus;J.S. Albus") == ["J.S. Albus"]
    assert split_venue_authors("B;A;B;A;C") == ["B", "A", "C"]


def test_split_venue_authors_drops_empty_parts() -> None:
    assert split_venue_authors(";; A ;\n;") == ["A"]
    assert split_venue_authors("") == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("C. Balázs", "c balazs"),
        ("C. Bal\\'azs", "c balazs"),
        ("Bjørn O'Neil-Smith", "bjorn o neil smith"),
        ("Jungyeon  Park", "jungyeon park"),
        ("3. Ærø", "aero"),
    ],
)
def test_name_key_is_ascii_folded_lowercase_letters(name: str, expected: str) -> None:
    assert name_key(name) == expected


_LATEX_PIECES = ["\\", "$", "$$", "{", "}", "\\(", "\\)", "\\[", "\\]", "\\'", '\\"', "\\c ", "\\o"]
_LATEXY_TEXT = st.lists(st.one_of(st.characters(), st.sampled_from(_LATEX_PIECES))).map("".join)


@settings(max_examples=500, deadline=None)
@given(_LATEXY_TEXT)
def test_clean_text_never_raises_and_is_idempotent(text: str) -> None:
    cleaned = clean_text(text)
    assert clean_text(cleaned) == cleaned
    title_key(text)
    name_key(text)
    split_author_list(text)
    split_venue_authors(text)


def test_format_author_joins_hyphenated_initials_split_by_arxiv():
    assert format_author("Yuan", "C. -P.", "") == "C.-P. Yuan"


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=60)
       | st.lists(st.sampled_from(["word", " ", "  ", "\n", "\t", "\x00", "\x1f", "\x7f", "\r\n", "-"]),
                  min_size=60, max_size=400).map("".join))
def test_plain_ascii_fast_path_gives_what_the_full_cleaning_gives(text: str) -> None:
    """Short texts and long ones (abstracts: scanned as bytes) alike."""
    assert clean_text(text) == _clean_unicode_and_latex(text)


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=80))
def test_plain_ascii_name_keys_are_what_the_full_path_gives(name: str) -> None:
    full = _NON_LETTER.sub(" ", ascii_fold(clean_text(name)).lower()).strip()
    assert name_key(name) == full


@settings(max_examples=400, deadline=None, database=None)
@given(st.tuples(*[st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=20)] * 3))
def test_plain_ascii_author_names_are_cleaned_as_their_parts_would_be(parts: tuple[str, str, str]) -> None:
    last, first, suffix = parts
    by_part = (clean_text(part) for part in (_SPLIT_HYPHENATED_INITIAL.sub("-", first), last, suffix))
    assert format_author(last, first, suffix) == " ".join(part for part in by_part if part)


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=20)
                | st.sampled_from(["Bjørn O'Neil", "C. Bal\\'azs", ""]), max_size=8))
def test_name_keys_key_each_name_as_name_key_does(names: list[str]) -> None:
    assert name_keys(names) == [name_key(name) for name in names]
