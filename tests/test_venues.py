"""Venue slugs, display names and status → track mapping."""

from __future__ import annotations

import pytest

from papersift.venues import track_from_status, venue_display_name, venue_year_from_filename


@pytest.mark.parametrize(
    ("name", "expected"),
    [("nips2019.json.gz", ("neurips", 2019)), ("3dv2025.json.gz", ("3dv", 2025)),
     ("iclr2025.json", ("iclr", 2025)), ("misc.json", None), ("2025.json", None)],
)
def test_venue_and_year_come_from_the_file_name(name, expected):
    assert venue_year_from_filename(name) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [("Oral", ("oral", True)), ("Spotlight", ("spotlight", True)), ("Poster", ("poster", True)),
     ("Accept (oral)", ("oral", True)), ("notable-top-25%", ("spotlight", True)),
     ("Long", ("long", True)), ("Findings", ("findings", True)), ("Technical", ("main", True)),
     ("System Demonstrations", ("system demonstrations", True)), ("", (None, True)),
     (None, (None, True)), ("Reject", ("rejected", False)), ("Desk Reject", ("rejected", False)),
     ("Withdraw", ("withdrawn", False)), ("Withdrawn Submission", ("withdrawn", False))],
)
def test_statuses_map_to_tracks(status, expected):
    assert track_from_status(status) == expected


def test_display_names():
    assert venue_display_name("nips") == "NeurIPS"
    assert venue_display_name("neurips") == "NeurIPS"
    assert venue_display_name("automl") == "AutoML"
    assert venue_display_name("foo") == "FOO"
