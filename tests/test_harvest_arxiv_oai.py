"""`papersift harvest arxiv-oai` end to end against a local OAI-PMH server.

The responses are written in OAI-PMH 2.0's documented format (envelope, ListRecords, resumption
tokens with cursor and completeListSize, deleted headers, error codes) with records in arXiv's
`arXiv` metadata format, rendered from real records of the arXiv snapshot sample.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from lxml import etree

from indexer.harvest.arxiv_oai import OaiClient
from papersift.settings import Settings
from tests.conftest import REPO_ROOT, Cli, create_database, drop_database, query_rows
from tests.harvest_server import Fault, harvest_server

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
ARXIV_NS = "http://arxiv.org/OAI/arXiv/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
O, A = f"{{{OAI_NS}}}", f"{{{ARXIV_NS}}}"
XML = "text/xml; charset=utf-8"
PAGE = 12
RECORDS = 36
WINDOW = {"from": "2007-04-01"}
# arXiv's OAI sets: these archives are sets of their own, the rest are physics:<archive>
OWN_SETS = {"cs", "econ", "eess", "math", "q-bio", "q-fin", "stat"}
# The columns the shared normalization fills from fields both formats carry. Left out: versions,
# updated_date and submitter (the arXiv format dates only the first and latest version and has
# no submitter), announced_date (the snapshot's submission times give the listing day; OAI's
# dates have no time of day, so the submission day stands in) and the hashes that cover them.
SHARED_COLUMNS = ("public_id, source, source_record_id, title, title_raw, title_key, abstract, "
                  "abstract_raw, authors, authors_text, author_keys, categories, primary_category, "
                  "published_date, links, doi, journal_ref, comments, report_no, "
                  "license, content_hash")


# --- OAI-PMH responses in the protocol's format --------------------------------------------------

def _snapshot(shared_data: Path, count: int = RECORDS) -> list[dict]:
    lines = (shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines[:count]]


def _day(rfc2822: str) -> str:
    return email.utils.parsedate_to_datetime(rfc2822).date().isoformat()


def _set_specs(categories: str) -> list[str]:
    archives = dict.fromkeys(category.split(".")[0] for category in categories.split())
    return [archive if archive in OWN_SETS else f"physics:{archive}" for archive in archives]


def _record(obj: dict, *, deleted: bool = False) -> etree._Element:
    """One <record>: header (identifier, datestamp, setSpec) and arXiv-format metadata, or a
    deleted header alone."""
    record = etree.Element(f"{O}record")
    header = etree.SubElement(record, f"{O}header")
    if deleted:
        header.set("status", "deleted")
    etree.SubElement(header, f"{O}identifier").text = f"oai:arXiv.org:{obj['id']}"
    etree.SubElement(header, f"{O}datestamp").text = obj["update_date"]
    for spec in _set_specs(obj["categories"]):
        etree.SubElement(header, f"{O}setSpec").text = spec
    if deleted:
        return record
    metadata = etree.SubElement(record, f"{O}metadata")
    arxiv = etree.SubElement(metadata, f"{A}arXiv", nsmap={None: ARXIV_NS, "xsi": XSI_NS})
    arxiv.set(f"{{{XSI_NS}}}schemaLocation", f"{ARXIV_NS} http://arxiv.org/OAI/arXiv.xsd")

    def add(parent: etree._Element, name: str, value: str | None) -> None:
        if value:
            etree.SubElement(parent, f"{A}{name}").text = value

    add(arxiv, "id", obj["id"])
    add(arxiv, "created", _day(obj["versions"][0]["created"]))
    if len(obj["versions"]) > 1:
        add(arxiv, "updated", _day(obj["versions"][-1]["created"]))
    authors = etree.SubElement(arxiv, f"{A}authors")
    for keyname, forenames, *suffix in obj["authors_parsed"]:
        author = etree.SubElement(authors, f"{A}author")
        add(author, "keyname", keyname)
        add(author, "forenames", forenames)
        add(author, "suffix", suffix[0] if suffix else None)
    for name in ("title", "categories", "comments", "report-no", "journal-ref", "doi", "license",
                 "abstract"):
        add(arxiv, name, obj.get(name))
    return record


def _envelope(request: dict[str, str], body: etree._Element) -> bytes:
    root = etree.Element(f"{O}OAI-PMH", nsmap={None: OAI_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation",
             f"{OAI_NS} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd")
    etree.SubElement(root, f"{O}responseDate").text = "2026-11-21T06:00:00Z"
    etree.SubElement(root, f"{O}request", request).text = "http://oaipmh.arxiv.org/oai"
    root.append(body)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _list_records(records: list[etree._Element], *, token: str | None, cursor: int,
                  total: int) -> etree._Element:
    body = etree.Element(f"{O}ListRecords")
    body.extend(records)
    if total > len(records):  # an incomplete list: a token, empty on its last page
        resumption = etree.SubElement(body, f"{O}resumptionToken",
                                      cursor=str(cursor), completeListSize=str(total))
        resumption.text = token
    return body


def _error(code: str, message: str) -> etree._Element:
    error = etree.Element(f"{O}error", code=code)
    error.text = message
    return error


def _first(window: dict[str, str]) -> dict[str, str]:
    return {"verb": "ListRecords", "metadataPrefix": "arXiv", **window}


def _next(token: str) -> dict[str, str]:
    return {"verb": "ListRecords", "resumptionToken": token}


def _url(server, params: dict[str, str]) -> str:
    return f"{server.url}/oai?{urlencode(params)}"


def _serve(server, window: dict[str, str], records: list[etree._Element], *, page: int = PAGE,
           session: str = "7417290") -> list[str]:
    """Serve `records` as a ListRecords result set in pages; return the resumption tokens."""
    chunks = [records[i:i + page] for i in range(0, len(records), page)] or [[]]
    tokens = [f"{session}|{page * n}" for n in range(1, len(chunks))]
    for n, chunk in enumerate(chunks):
        request = _first(window) if n == 0 else _next(tokens[n - 1])
        token = tokens[n] if n < len(tokens) else None
        body = _list_records(chunk, token=token, cursor=page * n, total=len(records))
        server.add(_url(server, request), _envelope(request, body), content_type=XML)
    return tokens


def _serve_error(server, request: dict[str, str], code: str, message: str) -> None:
    server.add(_url(server, request), _envelope(request, _error(code, message)), content_type=XML)


def _asked(server) -> list[dict[str, str]]:
    return [dict(parse_qsl(urlsplit(target).query)) for target in server.requests]


def _token_match(token: str) -> str:
    return urlencode({"resumptionToken": token})


# --- fixtures and helpers ------------------------------------------------------------------------

@pytest.fixture
def server():
    with harvest_server() as running:
        yield running


@pytest.fixture
def records(shared_data) -> list[dict]:
    return _snapshot(shared_data)


def _cli(settings: Settings, server, **overrides) -> Cli:
    values = {"arxiv_oai_url": f"{server.url}/oai", "harvest_delay_seconds": 0.0,
              "harvest_backoff_seconds": 0.01, "harvest_retries": 2}
    values.update(overrides)
    return Cli(settings.model_copy(update=values))


def _public_ids(settings: Settings) -> set[str]:
    return {row[0] for row in query_rows(settings, "SELECT public_id FROM papers")}


def _ids(objs: list[dict]) -> set[str]:
    return {f"arxiv:{obj['id']}" for obj in objs}


def _harvest(cli: Cli, *args: str):
    return cli("harvest", "arxiv-oai", *args)


# --- the result set ------------------------------------------------------------------------------

def test_harvest_stores_the_same_rows_as_the_snapshot_import(settings, server, records, tmp_path,
                                                             pg_admin_url):
    tokens = _serve(server, WINDOW, [_record(obj) for obj in records])
    result = _harvest(_cli(settings, server), "--from", "2007-04-01")
    assert result.exit_code == 0, result.output
    assert f"harvest arxiv-oai: read {RECORDS} · inserted {RECORDS} · updated 0" in result.output
    assert _asked(server) == [_first(WINDOW), _next(tokens[0]), _next(tokens[1])]

    # the same records through `papersift import arxiv-snapshot`, into a database of their own
    snapshot = tmp_path / "sample.jsonl"
    snapshot.write_text("".join(json.dumps(obj) + "\n" for obj in records))
    url = create_database(pg_admin_url)
    try:
        imported = Settings(_env_file=None, database_url=url, data_dir=tmp_path / "imported",
                            shared_data=settings.shared_data)
        assert Cli(imported)("import", "arxiv-snapshot", snapshot).exit_code == 0
        sql = f"SELECT {SHARED_COLUMNS} FROM papers ORDER BY public_id"
        expected = query_rows(imported, sql)
    finally:
        drop_database(pg_admin_url, url)
    harvested = query_rows(settings, sql)
    assert len(expected) == RECORDS
    assert harvested == expected

    first = query_rows(settings, "SELECT versions, updated_date::text FROM papers "
                                 "WHERE public_id = 'arxiv:0704.0001'")[0]
    # created 2007-04-02, updated 2007-07-24 (v2): the two dates the arXiv format gives
    assert first == ([{"version": "v1", "created": "Mon, 02 Apr 2007 00:00:00 GMT"},
                      {"version": "latest", "created": "Tue, 24 Jul 2007 00:00:00 GMT"}],
                     "2007-07-24")
    cursor, target = query_rows(settings, "SELECT cursor, target FROM ingest_runs")[0]
    assert target == "all sets from 2007-04-01"
    assert cursor == {"set": None, "from": "2007-04-01", "until": None, "token": None,
                      "datestamp": max(obj["update_date"] for obj in records)}


def test_harvest_again_writes_nothing_new(settings, server, records):
    _serve(server, WINDOW, [_record(obj) for obj in records])
    cli = _cli(settings, server)
    assert _harvest(cli, "--from", "2007-04-01").exit_code == 0
    versions = "SELECT public_id, xmin::text FROM papers ORDER BY public_id"
    xmin = query_rows(settings, versions)
    again = _harvest(cli, "--from", "2007-04-01")
    assert again.exit_code == 0, again.output
    assert f"read {RECORDS} · inserted 0 · updated 0 · unchanged {RECORDS}" in again.output
    assert query_rows(settings, versions) == xmin  # no row rewritten


def test_set_and_until_are_asked_for_and_name_the_run(settings, server, records):
    math = [obj for obj in records if "math" in _set_specs(obj["categories"])]
    window = {"from": "2007-04-01", "until": "2008-12-31", "set": "math"}
    _serve(server, window, [_record(obj) for obj in math])
    result = _harvest(_cli(settings, server), "--set", "math", "--from", "2007-04-01",
                      "--until", "2008-12-31")
    assert result.exit_code == 0, result.output
    assert _asked(server)[0] == _first(window)
    assert _public_ids(settings) == _ids(math)
    assert query_rows(settings, "SELECT target FROM ingest_runs")[0][0] == \
        "set math from 2007-04-01 until 2008-12-31"


def test_next_run_starts_at_the_highest_datestamp_and_applies_deletions(settings, server, records):
    cli = _cli(settings, server)
    _serve(server, WINDOW, [_record(obj) for obj in records])
    assert _harvest(cli, "--from", "2007-04-01").exit_code == 0
    # a backfill of an older window afterwards does not move the daily start back
    old = [obj for obj in records if obj["update_date"] < "2008-01-01"]
    _serve(server, {"from": "2007-04-01", "until": "2007-12-31"}, [_record(obj) for obj in old])
    assert _harvest(cli, "--from", "2007-04-01", "--until", "2007-12-31").exit_code == 0

    highest = max(obj["update_date"] for obj in records)
    gone = records[0]
    changed = dict(records[1], title="A corrected title", update_date="2026-11-20")
    _serve(server, {"from": highest}, [_record(gone | {"update_date": "2026-11-20"}, deleted=True),
                                       _record(changed)])
    server.requests.clear()
    result = _harvest(cli)
    assert result.exit_code == 0, result.output
    assert _asked(server) == [_first({"from": highest})]
    assert "read 2 · inserted 0 · updated 1 · unchanged 0 · rejected 0 · deleted 1" \
        in result.output
    assert _public_ids(settings) == _ids(records) - {f"arxiv:{gone['id']}"}
    title = query_rows(settings, "SELECT title FROM papers "
                                 f"WHERE public_id = 'arxiv:{changed['id']}'")
    assert title == [("A corrected title",)]

    # and the one after that starts at the deletion's day
    _serve_error(server, _first({"from": "2026-11-20"}), "noRecordsMatch", "No records")
    server.requests.clear()
    assert _harvest(cli).exit_code == 0
    assert _asked(server) == [_first({"from": "2026-11-20"})]


def test_first_harvest_without_from_says_to_give_one(settings, server):
    result = _harvest(_cli(settings, server), "--set", "cs")
    assert result.exit_code == 4
    assert "error: no finished arxiv-oai harvest of set cs to continue from" in result.output
    assert "hint: give --from YYYY-MM-DD for the first harvest" in result.output
    assert server.requests == []


def test_from_after_until_is_bad_usage(settings, server):
    result = _harvest(_cli(settings, server), "--from", "2026-11-20", "--until", "2026-11-01")
    assert result.exit_code == 2
    assert "--from 2026-11-20 is after --until 2026-11-01" in result.output


def test_requests_are_spaced_by_the_delay_and_a_remote_server_gets_three_seconds(settings, server,
                                                                                records):
    _serve(server, WINDOW, [_record(obj) for obj in records])
    result = _harvest(_cli(settings, server, harvest_delay_seconds=0.3), "--from", "2007-04-01")
    assert result.exit_code == 0, result.output
    gaps = [later - earlier for earlier, later in itertools.pairwise(server.request_times)]
    assert len(gaps) == 2 and min(gaps) >= 0.29
    remote = settings.model_copy(update={"arxiv_oai_url": "https://oaipmh.arxiv.org/oai",
                                         "harvest_delay_seconds": 0.0})
    assert OaiClient(remote).delay == 3.0


# --- OAI-PMH answers -----------------------------------------------------------------------------

def test_no_records_match_is_a_successful_empty_run(settings, server):
    _serve_error(server, _first(WINDOW), "noRecordsMatch",
                 "The combination of the values of the from, until, set and metadataPrefix "
                 "arguments results in an empty list.")
    result = _harvest(_cli(settings, server), "--from", "2007-04-01")
    assert result.exit_code == 0, result.output
    assert "harvest arxiv-oai: read 0 · inserted 0" in result.output
    assert query_rows(settings, "SELECT status FROM ingest_runs") == [("succeeded",)]


def test_other_oai_error_ends_the_run_with_its_code_and_message(settings, server):
    _serve_error(server, _first({"from": "2007-04-01", "set": "nonsense"}), "badArgument",
                 "Invalid set: nonsense")
    result = _harvest(_cli(settings, server), "--from", "2007-04-01", "--set", "nonsense")
    assert result.exit_code == 4
    assert "with badArgument: Invalid set: nonsense" in result.output
    assert "hint: check --from and --until (YYYY-MM-DD) and --set" in result.output


def test_unusable_records_become_rejects_and_the_run_goes_on(settings, server, records):
    untitled = _record(records[0])
    title = untitled.find(f"{O}metadata/{A}arXiv/{A}title")
    title.getparent().remove(title)
    undated = _record(records[1])
    undated.find(f"{O}metadata/{A}arXiv/{A}created").text = "2nd of April"
    bare = _record(records[2], deleted=True)
    bare.find(f"{O}header").attrib.pop("status")  # not deleted, yet no metadata
    _serve(server, WINDOW, [untitled, undated, bare] + [_record(obj) for obj in records[3:6]])
    result = _harvest(_cli(settings, server), "--from", "2007-04-01")
    assert result.exit_code == 1, result.output
    assert "read 6 · inserted 3 · updated 0 · unchanged 0 · rejected 3" in result.output
    assert _public_ids(settings) == _ids(records[3:6])
    rejects = query_rows(settings, "SELECT source, origin, locator, record_key, reason "
                                   "FROM rejects ORDER BY locator")
    origin = _url(server, _first(WINDOW))
    assert rejects == [
        ("arxiv-oai", origin, "oai:arXiv.org:0704.0001", "0704.0001", "missing title"),
        ("arxiv-oai", origin, "oai:arXiv.org:0704.0002", "0704.0002",
         "version v1: unreadable date '2nd of April'"),
        ("arxiv-oai", origin, "oai:arXiv.org:0704.0003", "0704.0003",
         "record without arXiv metadata"),
    ]


# --- faults --------------------------------------------------------------------------------------

def test_busy_server_is_retried_after_retry_after(settings, server, records):
    tokens = _serve(server, WINDOW, [_record(obj) for obj in records])
    server.inject(Fault("status", match=_token_match(tokens[0]), status=503, retry_after="1"))
    server.inject(Fault("status", match=_token_match(tokens[1]), status=429, retry_after="1"))
    result = _harvest(_cli(settings, server), "--from", "2007-04-01")
    assert result.exit_code == 0, result.output
    assert _public_ids(settings) == _ids(records)
    retried = [t for r, t in zip(server.requests, server.request_times, strict=True)
               if _token_match(tokens[0]) in r]
    assert len(retried) == 2 and retried[1] - retried[0] >= 0.9  # waited as told


def test_truncated_page_is_retried_and_written_whole(settings, server, records):
    tokens = _serve(server, WINDOW, [_record(obj) for obj in records])
    server.inject(Fault("truncate", match=_token_match(tokens[0])))
    result = _harvest(_cli(settings, server), "--from", "2007-04-01")
    assert result.exit_code == 0, result.output
    asked = [q.get("resumptionToken") for q in _asked(server)]
    assert asked == [None, tokens[0], tokens[0], tokens[1]]
    assert _public_ids(settings) == _ids(records)


def test_connection_reset_and_timeout_are_retried(settings, server, records):
    tokens = _serve(server, WINDOW, [_record(obj) for obj in records])
    server.inject(Fault("reset", match="metadataPrefix"))
    server.inject(Fault("slow", match=_token_match(tokens[1]), seconds=1.5))
    result = _harvest(_cli(settings, server, harvest_timeout_seconds=0.5), "--from", "2007-04-01")
    assert result.exit_code == 0, result.output
    assert _public_ids(settings) == _ids(records)


def test_a_page_that_stays_broken_ends_the_run_and_none_of_it_is_written(settings, server, records):
    tokens = _serve(server, WINDOW, [_record(obj) for obj in records])
    server.inject(Fault("truncate", match=_token_match(tokens[0]), times=10))
    result = _harvest(_cli(settings, server), "--from", "2007-04-01")
    assert result.exit_code == 4
    assert "error: arXiv OAI-PMH sent truncated or malformed XML for" in result.output
    assert "on all 3 tries" in result.output
    assert _public_ids(settings) == _ids(records[:PAGE])


def test_empty_page_in_the_middle_ends_the_run_with_a_message(settings, server, records):
    tokens = _serve(server, WINDOW, [_record(obj) for obj in records])
    empty = _envelope(_next(tokens[0]),
                      _list_records([], token=tokens[1], cursor=PAGE, total=RECORDS))
    server.inject(Fault("empty", match=_token_match(tokens[0]), times=10, body=empty))
    result = _harvest(_cli(settings, server), "--from", "2007-04-01")
    assert result.exit_code == 4
    assert "an empty page in the middle of the list" in result.output
    assert _public_ids(settings) == _ids(records[:PAGE])


def test_persistent_failure_exits_4_and_the_rerun_resumes_with_the_stored_token(settings, server,
                                                                                 records):
    tokens = _serve(server, WINDOW, [_record(obj) for obj in records])
    server.inject(Fault("status", match=_token_match(tokens[1]), status=503, times=50))
    cli = _cli(settings, server)
    failed = _harvest(cli, "--from", "2007-04-01")
    assert failed.exit_code == 4
    assert "error: arXiv OAI-PMH answered HTTP 503 for" in failed.output
    assert "after 3 tries" in failed.output
    assert "hint: pages before it are saved; re-run the same command to resume" in failed.output
    assert _public_ids(settings) == _ids(records[:2 * PAGE])
    server.faults.clear()
    server.requests.clear()
    resumed = _harvest(cli, "--from", "2007-04-01")
    assert resumed.exit_code == 0, resumed.output
    assert _asked(server) == [_next(tokens[1])]
    assert f"read {RECORDS - 2 * PAGE} · inserted {RECORDS - 2 * PAGE}" in resumed.output
    assert _public_ids(settings) == _ids(records)
    runs = query_rows(settings, "SELECT status, cursor->>'token' FROM ingest_runs ORDER BY id")
    assert runs == [("failed", tokens[1]), ("succeeded", None)]


def test_expired_token_restarts_the_window(settings, server, records, caplog):
    tokens = _serve(server, WINDOW, [_record(obj) for obj in records])
    server.inject(Fault("status", match=_token_match(tokens[1]), status=503, times=3))
    cli = _cli(settings, server)
    assert _harvest(cli, "--from", "2007-04-01").exit_code == 4
    expired = _envelope(_next(tokens[1]), _error("badResumptionToken",
                                                 f"The value of the resumptionToken argument is "
                                                 f"invalid or expired: {tokens[1]}"))
    server.inject(Fault("empty", match=_token_match(tokens[1]), body=expired))
    server.requests.clear()
    with caplog.at_level(logging.WARNING, logger="indexer.harvest.arxiv_oai"):
        resumed = _harvest(cli, "--from", "2007-04-01")
    assert resumed.exit_code == 0, resumed.output
    assert _asked(server) == [_next(tokens[1]), _first(WINDOW), _next(tokens[0]), _next(tokens[1])]
    assert f"read {RECORDS} · inserted {RECORDS - 2 * PAGE} · updated 0 · unchanged {2 * PAGE}" \
        in resumed.output
    assert _public_ids(settings) == _ids(records)
    assert any("no longer knows resumption token" in message and "again from its start" in message
               for message in caplog.messages)


def test_killed_harvest_resumes_at_the_stored_token(settings, server, records, tmp_path):
    page = 6
    tokens = _serve(server, WINDOW, [_record(obj) for obj in records], page=page)
    server.delay = 0.5
    env = dict(os.environ,
               PAPERSIFT_DATABASE_URL=settings.database_url.get_secret_value(),
               PAPERSIFT_DATA_DIR=str(tmp_path / "var"),
               PAPERSIFT_SHARED_DATA=str(settings.shared_data),
               PAPERSIFT_ARXIV_OAI_URL=f"{server.url}/oai",
               PAPERSIFT_HARVEST_DELAY_SECONDS="0",
               PAPERSIFT_LOG_LEVEL="WARNING")
    command = [sys.executable, "-m", "papersift.cli", "harvest", "arxiv-oai",
               "--from", "2007-04-01"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        stored = None
        while stored is None and time.monotonic() < deadline and process.poll() is None:
            rows = query_rows(settings, "SELECT cursor->>'token' FROM ingest_runs")
            stored = rows[0][0] if rows and rows[0][0] else None
            time.sleep(0.05)
        assert stored is not None, process.communicate(timeout=5)[0].decode()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    stored = query_rows(settings, "SELECT cursor->>'token' FROM ingest_runs")[0][0]  # as it died
    assert stored in tokens[:-1]  # killed midway, after at least one page
    done = tokens.index(stored) + 1  # pages committed with it
    assert _public_ids(settings) == _ids(records[:page * done])

    server.delay = 0.0
    server.requests.clear()
    rerun = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                           timeout=120, check=False)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert _asked(server) == [_next(token) for token in tokens[done - 1:]]
    rows = query_rows(settings, "SELECT public_id, count(*) OVER (PARTITION BY public_id) "
                                "FROM papers")
    assert sorted(public_id for public_id, _ in rows) == sorted(_ids(records))
    assert {count for _, count in rows} == {1}
    runs = query_rows(settings, "SELECT status, error FROM ingest_runs ORDER BY id")
    assert runs[0][0] == "failed" and runs[0][1].startswith("interrupted; resumed by run")
    assert runs[1] == ("succeeded", None)
