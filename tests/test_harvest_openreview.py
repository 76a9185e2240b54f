"""`papersift harvest openreview` end to end through `openreview-py`, against a local server that
answers the API v2 requests the client sends (GET /notes?content.venueid=…&offset=…&limit=…).

The notes are the first 25 papers of the real 3DV 2025 paperlists file (an OpenReview venue with
oral and poster decisions), rendered in the API v2 format: {"notes": [...], "count": N}, each note
{id, forum, number, content: {title, authors, abstract, keywords, venue, venueid, ...: {"value"}}}.
"""

from __future__ import annotations

import copy
import gzip
import json
import re

import pytest

from indexer.harvest.openreview import status_from_decision, venue_year_from_venue_id
from papersift.settings import Settings
from tests.conftest import Cli, query_rows
from tests.harvest_server import Fault, harvest_server

VENUE = "3DV/2025/Conference"
PAGE = 10
NOTES = 25
# No OpenReview-sourced list in ../shared/data has spotlights, TL;DRs or PDF paths, so this one
# note (a real 3DV poster) is edited to carry all three, as an ICLR note would.
EDITED = 2
EDITED_TLDR = "Feed-forward 3D Gaussian splatting from a single image."
EDITED_PDF = "/pdf/5c1a0a0c2b7e4e0f9f1d3b6a8e2d4c7b9a0f1e2d.pdf"


@pytest.fixture(scope="module")
def records(shared_data) -> list[dict]:
    with gzip.open(shared_data / "venues" / "paperlists" / "3dv" / "3dv2025.json.gz") as handle:
        return json.load(handle)[:NOTES]


def to_note(record: dict, number: int) -> dict:
    """A paperlists record as the API v2 note it was made from."""
    forum = record["site"].split("id=", 1)[1]
    content = {
        "title": {"value": record["title"]},
        "authors": {"value": record["author"].split(";")},
        "authorids": {"value": record["authorids"].split(";")},
        "abstract": {"value": record["abstract"]},
        "keywords": {"value": [k for k in record["keywords"].split(";") if k]},
        "venue": {"value": f"3DV 2025 {record['status']}"},
        "venueid": {"value": VENUE},
    }
    return {"id": forum, "forum": forum, "number": number, "invitations": [f"{VENUE}/-/Submission"],
            "domain": VENUE, "content": content}


@pytest.fixture
def notes(records) -> list[dict]:
    rendered = [to_note(record, number) for number, record in enumerate(records, start=1)]
    edited = rendered[EDITED]["content"]
    edited["venue"] = {"value": "3DV 2025 Spotlight"}
    edited["TLDR"] = {"value": EDITED_TLDR}
    edited["pdf"] = {"value": EDITED_PDF}
    edited["primary_area"] = {"value": "3D vision"}
    return rendered


def notes_url(server, offset: int) -> str:
    return (f"{server.url}/notes?content.venueid={VENUE}&sort=number:asc&offset={offset}"
            f"&limit={PAGE}&count=true")


def serve(server, notes: list[dict]) -> None:
    for offset in range(0, len(notes), PAGE):
        server.add(notes_url(server, offset), json.dumps({"notes": notes[offset:offset + PAGE],
                                                          "count": len(notes)}),
                   content_type="application/json; charset=utf-8")


@pytest.fixture
def api(notes):
    with harvest_server() as server:
        serve(server, notes)
        yield server


def _cli(settings: Settings, server, **overrides) -> Cli:
    values = {"openreview_url": server.url, "harvest_page_size": PAGE, "harvest_delay_seconds": 0.0,
              "harvest_backoff_seconds": 0.01, "harvest_retries": 2}
    values.update(overrides)
    return Cli(settings.model_copy(update=values))


def _offsets(server) -> list[int]:
    return [int(re.search(r"[?&]offset=(\d+)", r).group(1)) for r in server.requests]


def _papers(settings: Settings) -> dict[str, tuple]:
    rows = query_rows(settings, "SELECT public_id, title, authors, venue_slug, year, track, status_raw, "
                                "keywords, tldr, primary_area, links, is_published FROM papers")
    return {row[0]: tuple(row[1:]) for row in rows}


def test_harvest_stores_accepted_papers_with_tracks_keywords_and_links(settings, api, records):
    result = _cli(settings, api)("harvest", "openreview", "--venue", VENUE)
    assert result.exit_code == 0, result.output
    assert "harvest openreview: read 25 · inserted 25 · updated 0 · unchanged 0 · rejected 0" in result.output
    assert _offsets(api) == [0, 10, 20]
    papers = _papers(settings)
    assert set(papers) == {f"openreview:{r['id']}" for r in records}
    for index, record in enumerate(records):
        forum = record["id"]
        title, authors, venue, year, track, status, keywords, tldr, area, links, published = \
            papers[f"openreview:{forum}"]
        assert title == record["title"]
        assert authors == record["author"].split(";")
        assert (venue, year, published) == ("3dv", 2025, True)
        assert keywords == [k.strip() for k in record["keywords"].split(";") if k.strip()]
        if index == EDITED:
            assert (track, status, tldr, area) == ("spotlight", "Spotlight", EDITED_TLDR, "3D vision")
            assert links == {"forum": f"https://openreview.net/forum?id={forum}",
                             "pdf": f"https://openreview.net{EDITED_PDF}"}
        else:
            assert (track, status, tldr, area) == (record["status"].lower(), record["status"], None, None)
            assert links == {"forum": f"https://openreview.net/forum?id={forum}",
                             "pdf": f"https://openreview.net/pdf?id={forum}"}
    tracks = sorted(p[4] for p in papers.values())
    assert tracks == ["oral"] * 5 + ["poster"] * 19 + ["spotlight"]


def test_harvest_again_writes_nothing_new(settings, api):
    cli = _cli(settings, api)
    assert cli("harvest", "openreview", "--venue", VENUE).exit_code == 0
    before = query_rows(settings, "SELECT public_id, xmin::text FROM papers ORDER BY public_id")
    again = cli("harvest", "openreview", "--venue", VENUE)
    assert again.exit_code == 0, again.output
    assert "read 25 · inserted 0 · updated 0 · unchanged 25" in again.output
    assert query_rows(settings, "SELECT public_id, xmin::text FROM papers ORDER BY public_id") == before


def test_harvested_note_and_paperlists_row_are_one_paper(settings, api, notes, shared_data):
    cli = _cli(settings, api)
    imported = cli("import", "paperlists", shared_data / "venues" / "paperlists" / "3dv" / "3dv2025.json.gz")
    assert imported.exit_code == 0, imported.output
    before = {row[0]: row[1] for row in query_rows(settings, "SELECT public_id, record_hash FROM papers")}
    assert len(before) == 142
    result = cli("harvest", "openreview", "--venue", VENUE)
    assert result.exit_code == 0, result.output
    # the same mapping: 24 harvested notes give exactly the rows the import wrote; the edited one changed
    assert "read 25 · inserted 0 · updated 1 · unchanged 24" in result.output
    after = {row[0]: row[1] for row in query_rows(settings, "SELECT public_id, record_hash FROM papers")}
    assert set(after) == set(before)
    assert [pid for pid in after if after[pid] != before[pid]] == [f"openreview:{notes[EDITED]['forum']}"]


def test_busy_server_is_retried_after_retry_after(settings, api):
    api.inject(Fault("status", match="offset=10", status=503, retry_after="1"))
    api.inject(Fault("status", match="offset=20", status=429, retry_after="1"))
    result = _cli(settings, api)("harvest", "openreview", "--venue", VENUE)
    assert result.exit_code == 0, result.output
    assert _offsets(api) == [0, 10, 10, 20, 20]
    retried = [t for r, t in zip(api.requests, api.request_times) if "offset=10" in r]
    assert retried[1] - retried[0] >= 0.9  # waited as told
    assert len(_papers(settings)) == NOTES


def test_truncated_json_is_retried_and_never_half_written(settings, api):
    api.inject(Fault("truncate", match="offset=10"))
    result = _cli(settings, api)("harvest", "openreview", "--venue", VENUE)
    assert result.exit_code == 0, result.output
    assert _offsets(api) == [0, 10, 10, 20]
    assert len(_papers(settings)) == NOTES


def test_connection_reset_and_timeout_are_retried(settings, api):
    api.inject(Fault("reset", match="offset=0"))
    api.inject(Fault("slow", match="offset=10", seconds=1.5))
    result = _cli(settings, api, harvest_timeout_seconds=0.5)("harvest", "openreview", "--venue", VENUE)
    assert result.exit_code == 0, result.output
    assert _offsets(api) == [0, 0, 10, 10, 20]
    assert len(_papers(settings)) == NOTES


def test_persistent_failure_ends_the_run_clearly_and_the_rerun_resumes(settings, api, records):
    api.inject(Fault("status", match="offset=20", status=503, times=50))
    cli = _cli(settings, api)
    failed = cli("harvest", "openreview", "--venue", VENUE)
    assert failed.exit_code == 4, failed.output
    assert "error: OpenReview answered HTTP 503 for" in failed.output
    assert "after 3 tries" in failed.output and "re-run the same command to resume" in failed.output
    assert set(_papers(settings)) == {f"openreview:{r['id']}" for r in records[:20]}  # two whole pages
    assert query_rows(settings, "SELECT status, cursor FROM ingest_runs") == [("failed", {"offset": 20})]
    api.faults.clear()
    api.requests.clear()
    resumed = cli("harvest", "openreview", "--venue", VENUE)
    assert resumed.exit_code == 0, resumed.output
    assert _offsets(api) == [20]
    assert "read 5 · inserted 5" in resumed.output
    assert set(_papers(settings)) == {f"openreview:{r['id']}" for r in records}
    runs = query_rows(settings, "SELECT status FROM ingest_runs ORDER BY id")
    assert [r[0] for r in runs] == ["failed", "succeeded"]


def test_empty_page_before_the_count_is_retried_then_ends_the_run(settings, api):
    api.inject(Fault("empty", match="offset=10", times=10, body=b'{"notes": [], "count": 25}'))
    result = _cli(settings, api)("harvest", "openreview", "--venue", VENUE)
    assert result.exit_code == 4, result.output
    assert "OpenReview returned an empty page at offset 10 of 25" in result.output
    assert _offsets(api) == [0, 10, 10, 10]
    assert len(_papers(settings)) == PAGE


def test_malformed_notes_become_rejects_and_the_run_goes_on(settings, notes):
    broken = copy.deepcopy(notes)
    del broken[4]["content"]["title"]
    broken[5]["content"]["authors"] = {"value": [{"fullname": "Stanislaw Szymanowicz"}]}
    broken[6] = "not a note"
    with harvest_server() as server:
        serve(server, broken)
        result = _cli(settings, server)("harvest", "openreview", "--venue", VENUE)
    assert result.exit_code == 1, result.output
    assert "read 25 · inserted 22 · updated 0 · unchanged 0 · rejected 3" in result.output
    rejects = query_rows(settings, "SELECT source, locator, reason, raw FROM rejects ORDER BY raw")
    assert sorted((r[0], r[1], r[2]) for r in rejects) == sorted([
        ("openreview", f"note {notes[4]['id']}", "missing title"),
        ("openreview", f"note {notes[5]['id']}", "content.authors must be a list of strings"),
        ("openreview", "offset 6", "expected a JSON object, got str"),
    ])
    raws = {r[1]: r[3] for r in rejects}
    assert json.loads(raws[f"note {notes[4]['id']}"]) == broken[4]  # the note as OpenReview sent it
    assert json.loads(raws["offset 6"]) == "not a note"


@pytest.mark.parametrize(("venue", "status"), [
    ("ICLR 2025 Oral", "Oral"), ("ICLR 2025 Spotlight", "Spotlight"), ("ICLR 2025 Poster", "Poster"),
    ("NeurIPS 2024 poster", "Poster"), ("ICLR 2023 notable top 5%", "Oral"),
    ("ICLR 2023 notable top 25%", "Spotlight"), ("COLM 2024", "Accept"),
])
def test_decisions_map_to_paperlists_statuses(venue, status):
    assert status_from_decision(venue) == status


@pytest.mark.parametrize(("venue_id", "expected"), [
    ("ICLR.cc/2025/Conference", ("iclr", 2025)), ("NeurIPS.cc/2024/Conference", ("neurips", 2024)),
    ("colmweb.org/COLM/2024/Conference", ("colm", 2024)), ("3DV/2025/Conference", ("3dv", 2025)),
    ("ICLR.cc/Conference", None), ("2025/Conference", None),
])
def test_venue_and_year_come_from_the_venue_id(venue_id, expected):
    assert venue_year_from_venue_id(venue_id) == expected


def test_a_venue_id_without_a_year_is_bad_usage(settings, api):
    result = _cli(settings, api)("harvest", "openreview", "--venue", "ICLR.cc/Conference")
    assert result.exit_code == 2
    assert "cannot tell the venue and year" in result.output
    assert api.requests == []
