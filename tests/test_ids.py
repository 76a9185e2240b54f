"""Public ids: arXiv and OpenReview id/URL parsing and public-id formatting."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papersift.ids import (
    ArxivId,
    arxiv_abs_url,
    arxiv_pdf_url,
    parse_arxiv_id,
    parse_openreview_id,
    parse_public_id,
    venue_public_id,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2503.11731", ArxivId("2503.11731", None)),
        ("0704.0001", ArxivId("0704.0001", None)),
        ("2503.11731v2", ArxivId("2503.11731", 2)),
        ("0000.0000", ArxivId("0000.0000", None)),
        ("hep-th/9901001", ArxivId("hep-th/9901001", None)),
        ("astro-ph/0601001", ArxivId("astro-ph/0601001", None)),
        ("astro-ph/0601001v3", ArxivId("astro-ph/0601001", 3)),
        ("math.GT/0309136", ArxivId("math/0309136", None)),
        ("math.GT/0309136v1", ArxivId("math/0309136", 1)),
        ("arXiv:2503.11731", ArxivId("2503.11731", None)),
        ("ARXIV:hep-th/9901001v2", ArxivId("hep-th/9901001", 2)),
        ("arxiv:2503.11731", ArxivId("2503.11731", None)),
        ("  2503.11731\n", ArxivId("2503.11731", None)),
    ],
)
def test_parse_arxiv_id_accepts_bare_and_prefixed_ids(text: str, expected: ArxivId) -> None:
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://arxiv.org/abs/2503.11731v2", ArxivId("2503.11731", 2)),
        ("http://arxiv.org/pdf/2503.11731", ArxivId("2503.11731", None)),
        ("https://arxiv.org/pdf/2503.11731v1.pdf", ArxivId("2503.11731", 1)),
        ("arxiv.org/abs/hep-th/9901001", ArxivId("hep-th/9901001", None)),
        ("https://export.arxiv.org/abs/astro-ph/0601001v2", ArxivId("astro-ph/0601001", 2)),
        ("http://arxiv.org/abs/2104.12255v1", ArxivId("2104.12255", 1)),
        ("https://www.arxiv.org/abs/2503.11731/", ArxivId("2503.11731", None)),
        ("https://arxiv.org/abs/2503.11731?context=cs", ArxivId("2503.11731", None)),
    ],
)
def test_parse_arxiv_id_accepts_arxiv_urls(url: str, expected: ArxivId) -> None:
    assert parse_arxiv_id(url) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "12345.6789",
        "2503.117",
        "2503.117311",
        "2503.11731v",
        "2503.11731v0",
        "hep-th/990100",
        "hep-th9901001",
        "https://example.org/abs/2503.11731",
        "https://arxiv.org/list/cs.LG/recent",
        "openreview:05T81ScPFb",
        "2503.11731 extra",
    ],
)
def test_parse_arxiv_id_rejects_everything_else(text: str) -> None:
    assert parse_arxiv_id(text) is None


def test_arxiv_public_id_never_carries_the_version() -> None:
    assert ArxivId("2503.11731", 2).public_id == "arxiv:2503.11731"
    assert parse_arxiv_id("astro-ph/0601001v3").public_id == "arxiv:astro-ph/0601001"


def test_arxiv_id_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ArxivId("2503.11731", None).id = "0704.0001"  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    [
        "https://openreview.net/forum?id=05T81ScPFb",
        "https://openreview.net/pdf?id=05T81ScPFb",
        "https://openreview.net/forum?id=05T81ScPFb&noteId=abcdefgh12",
        "https://openreview.net/forum?referrer=venue&id=05T81ScPFb",
        "openreview.net/forum?id=05T81ScPFb",
        "openreview:05T81ScPFb",
        " openreview:05T81ScPFb ",
    ],
)
def test_parse_openreview_id_returns_forum_id(text: str) -> None:
    assert parse_openreview_id(text) == "05T81ScPFb"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "05T81ScPFb",
        "https://openreview.net/forum",
        "https://openreview.net/forum?noteId=05T81ScPFb",
        "https://openreview.net/forum?id=short",
        "https://openreview.net/forum?id=has%20space1",
        "https://openreview.net/forum?id=" + "x" * 21,
        "https://openreview.net/group?id=ICLR.cc/2024/Conference",
        "https://example.org/forum?id=05T81ScPFb",
        "openreview:bad id!",
    ],
)
def test_parse_openreview_id_rejects_everything_else(text: str) -> None:
    assert parse_openreview_id(text) is None


def test_venue_public_id_lowercases_the_slug() -> None:
    assert venue_public_id("cvpr", 2019, "abc123") == "cvpr:2019:abc123"
    assert venue_public_id("CVPR", 2019, "abc123") == "cvpr:2019:abc123"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2503.11731", "arxiv:2503.11731"),
        ("2503.11731v2", "arxiv:2503.11731"),
        ("arXiv:math.GT/0309136", "arxiv:math/0309136"),
        ("arxiv:astro-ph/0601001", "arxiv:astro-ph/0601001"),
        ("https://arxiv.org/pdf/2503.11731v1.pdf", "arxiv:2503.11731"),
        ("https://openreview.net/forum?id=05T81ScPFb&noteId=xyz12345", "openreview:05T81ScPFb"),
        ("openreview:05T81ScPFb", "openreview:05T81ScPFb"),
        ("cvpr:2019:abc123", "cvpr:2019:abc123"),
        (" neurips:2023:t-0a1b2c3d4e5f ", "neurips:2023:t-0a1b2c3d4e5f"),
    ],
)
def test_parse_public_id_normalizes_ids_and_urls(text: str, expected: str) -> None:
    assert parse_public_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "CVPR:2019:abc123",
        "cvpr:19:abc123",
        "cvpr:2019:",
        "cvpr:2019:a b",
        "arxiv:2019:abc",
        "openreview:x",
    ],
)
def test_parse_public_id_rejects_everything_else(text: str) -> None:
    assert parse_public_id(text) is None


def test_arxiv_urls_are_built_from_the_canonical_id() -> None:
    assert arxiv_abs_url("2503.11731") == "https://arxiv.org/abs/2503.11731"
    assert arxiv_pdf_url("2503.11731") == "https://arxiv.org/pdf/2503.11731"
    assert arxiv_abs_url("hep-th/9901001") == "https://arxiv.org/abs/hep-th/9901001"


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_id_parsers_never_raise_on_random_text(text: str) -> None:
    parsed = parse_arxiv_id(text)
    if parsed is not None:
        assert parse_arxiv_id(parsed.public_id) == ArxivId(parsed.id, None)
    forum_id = parse_openreview_id(text)
    if forum_id is not None:
        assert parse_openreview_id(f"openreview:{forum_id}") == forum_id
    public_id = parse_public_id(text)
    if public_id is not None:
        assert parse_public_id(public_id) == public_id
