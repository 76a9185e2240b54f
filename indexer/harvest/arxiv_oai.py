"""Harvest arXiv's OAI-PMH endpoint (metadataPrefix=arXiv): backfills and daily increments.

A run asks for ListRecords over a window (from, until, set) and then follows resumption tokens;
each response is one page, written in one transaction with the token that follows it, so a killed
or failed run resumes at the stored token. A token the server no longer knows
(badResumptionToken: they expire) restarts the window from its start, which the upserts make
idempotent. Deleted records remove their papers.

The arXiv metadata format has the snapshot's fields, so each record is turned into a snapshot
object and goes through the snapshot importer's mapping (`record_from_snapshot`): one
normalization for the file and the harvest.

The target names the set and the window: `set cs from 2026-11-01 until 2026-11-20`. Without
`--from`, a run starts at the highest datestamp that any finished harvest of the set has seen, so
a re-run after a crash computes the same window (the crashed run never finished) and resumes it,
and a backfill of an old window never moves the daily start back.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import requests
from lxml import etree
from sqlalchemy import Engine

from indexer.harvest.http import RETRY_STATUSES, is_loopback, retrying_session
from indexer.harvest.runner import Page, run_harvest
from indexer.ingest import ImportSummary
from indexer.records import PaperRecord, Reject
from indexer.runs import highest_success_value
from indexer.sources.arxiv_snapshot import record_from_snapshot
from papersift.errors import HarvestFailed
from papersift.ids import parse_arxiv_id
from papersift.settings import Settings

logger = logging.getLogger(__name__)

SOURCE = "arxiv-oai"
ARXIV_POLITE_DELAY = 3.0  # arXiv's terms: no more than one request every three seconds
IDENTIFIER_PREFIX = "oai:arXiv.org:"
RESUME_HINT = "pages before it are saved; re-run the same command to resume"
_OAI = "{http://www.openarchives.org/OAI/2.0/}"
_ARXIV = "{http://arxiv.org/OAI/arXiv/}"
_ERROR_HINTS = {
    "badArgument": "check --from and --until (YYYY-MM-DD) and --set",
    "cannotDisseminateFormat": "the server does not offer the arXiv metadata format",
    "noSetHierarchy": "the server has no sets: leave out --set",
}


class BrokenResponse(Exception):
    """A 200 response that cannot be a ListRecords page: asked for again, a few times."""


@dataclass(frozen=True)
class OaiWindow:
    """The datestamps to harvest: [from, until] (until open when None), in one set or all."""

    set_spec: str | None
    start: str
    until: str | None = None

    @property
    def target(self) -> str:
        scope = f"set {self.set_spec}" if self.set_spec else "all sets"
        return f"{scope} from {self.start}" + (f" until {self.until}" if self.until else "")

    def params(self) -> dict[str, str]:
        params = {"verb": "ListRecords", "metadataPrefix": "arXiv", "from": self.start}
        if self.until:
            params["until"] = self.until
        if self.set_spec:
            params["set"] = self.set_spec
        return params

    def cursor(self, *, token: str | None, datestamp: str | None) -> dict[str, Any]:
        """Where the run stands: the next token (None: the list is complete) and the highest
        datestamp seen, the next incremental run's start."""
        return {"set": self.set_spec, "from": self.start, "until": self.until, "token": token,
                "datestamp": datestamp}


def plan_window(
    engine: Engine, *, set_spec: str | None, start: date | None, until: date | None
) -> OaiWindow:
    """The window to harvest; without `start`, from the highest datestamp the finished harvests
    of the same set have seen (that day again: datestamps are days, and a day may have grown)."""
    scope = f"set {set_spec}" if set_spec else "all sets"
    if start is not None:
        begin = start.isoformat()
    else:
        begin = highest_success_value(engine, source=SOURCE, target_prefix=f"{scope} from ",
                                      key="datestamp")
        if begin is None:
            raise HarvestFailed(f"no finished arxiv-oai harvest of {scope} to continue from",
                                hint="give --from YYYY-MM-DD for the first harvest")
        logger.info("continuing %s from datestamp %s", scope, begin)
    end = until.isoformat() if until is not None else None
    if end is not None and begin[:10] > end:
        raise HarvestFailed(f"--from {begin} is after --until {end}")
    return OaiWindow(set_spec=set_spec, start=begin, until=end)


@dataclass
class ListPage:
    """One ListRecords response, parsed (or the OAI-PMH error it answered with)."""

    items: list[PaperRecord | Reject]
    deleted: list[str]  # public ids
    token: str | None  # None: the last page
    datestamp: str | None  # the highest on the page
    error: tuple[str, str] | None = None  # (code, message)


class OaiClient:
    """GETs with the shared retrying session (timeouts, resets, 429/5xx with Retry-After), a
    polite delay between requests, and a bounded retry of bodies that are not a whole page."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.arxiv_oai_url
        self.delay = settings.harvest_delay_seconds
        if not is_loopback(self.url):
            self.delay = max(self.delay, ARXIV_POLITE_DELAY)
        self.retries = settings.harvest_retries
        self.backoff = settings.harvest_backoff_seconds
        self.session = retrying_session(timeout=settings.harvest_timeout_seconds,
                                        retries=settings.harvest_retries,
                                        backoff=settings.harvest_backoff_seconds)
        self._last_request: float | None = None

    def list_records(self, params: dict[str, str]) -> ListPage:
        tries = self.retries + 1
        for attempt in range(tries):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            response = self._get(params)
            try:
                return parse_list_records(response.content, url=response.url)
            except BrokenResponse as error:
                problem = str(error)
                logger.warning("%s (try %d of %d)", problem, attempt + 1, tries)
        raise HarvestFailed(f"arXiv OAI-PMH sent {problem} on all {tries} tries", hint=RESUME_HINT)

    def _get(self, params: dict[str, str]) -> requests.Response:
        if self._last_request is not None:
            time.sleep(max(0.0, self._last_request + self.delay - time.monotonic()))
        tries = self.retries + 1
        try:
            response = self.session.get(self.url, params=params)
        except requests.RequestException as error:
            raise HarvestFailed(f"arXiv OAI-PMH at {self.url} could not be reached after {tries} "
                                f"tries: {error}", hint=RESUME_HINT) from None
        finally:
            self._last_request = time.monotonic()
        if response.status_code != 200:
            after = f" after {tries} tries" if response.status_code in RETRY_STATUSES else ""
            raise HarvestFailed(f"arXiv OAI-PMH answered HTTP {response.status_code} for "
                                f"{response.url}{after}", hint=RESUME_HINT)
        return response


def harvest_arxiv_oai(
    settings: Settings, engine: Engine, window: OaiWindow, *, on_page=None
) -> ImportSummary:
    """Harvest `window` page by page, resuming an interrupted or failed run of the same target."""
    client = OaiClient(settings)
    return run_harvest(engine, source=SOURCE, target=window.target, on_page=on_page,
                       pages=lambda cursor: _pages(client, window, cursor or {}))


def _pages(client: OaiClient, window: OaiWindow, cursor: dict[str, Any]) -> Iterator[Page]:
    datestamp = cursor.get("datestamp")
    if cursor and cursor.get("token") is None:
        return  # the interrupted run wrote the last page and died before it could finish
    params = _next(cursor["token"]) if cursor else window.params()
    restarts = 1
    while True:
        page = client.list_records(params)
        if page.error:
            code, message = page.error
            if code == "noRecordsMatch":
                logger.info("no records in %s: %s", window.target, message)
                return
            if code == "badResumptionToken" and "resumptionToken" in params and restarts:
                logger.warning("arXiv OAI-PMH no longer knows resumption token %s (%s): harvesting "
                               "%s again from its start", params.get("resumptionToken"), message,
                               window.target)
                restarts -= 1
                params = window.params()
                continue
            raise HarvestFailed(f"arXiv OAI-PMH refused {urlencode(params)} with {code}: {message}",
                                hint=_ERROR_HINTS.get(code, RESUME_HINT))
        datestamp = max(filter(None, (datestamp, page.datestamp)), default=None)
        yield Page(items=page.items, deleted=page.deleted,
                   cursor=window.cursor(token=page.token, datestamp=datestamp))
        if page.token is None:
            return
        params = _next(page.token)


def _next(token: str) -> dict[str, str]:
    return {"verb": "ListRecords", "resumptionToken": token}


def parse_list_records(content: bytes, *, url: str) -> ListPage:
    """A ListRecords response → records, rejects, deleted ids and the next token. Raises
    BrokenResponse for a body that is not whole OAI-PMH, or an empty page before the end."""
    try:
        root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as error:
        raise BrokenResponse(f"truncated or malformed XML for {url} ({error})") from None
    if root.tag != f"{_OAI}OAI-PMH":
        raise BrokenResponse(f"a response that is not OAI-PMH ({root.tag}) for {url}")
    error = root.find(f"{_OAI}error")
    if error is not None:
        return ListPage([], [], None, None, error=(error.get("code", "unknown"),
                                                   " ".join((error.text or "").split())))
    body = root.find(f"{_OAI}ListRecords")
    if body is None:
        raise BrokenResponse(f"an OAI-PMH response without ListRecords for {url}")
    items: list[PaperRecord | Reject] = []
    deleted: list[str] = []
    datestamps: list[str] = []
    for position, record in enumerate(body.iterfind(f"{_OAI}record"), start=1):
        header = record.find(f"{_OAI}header")
        if header is None:
            items.append(_reject(record, url, f"record {position}", "record without a header"))
            continue
        identifier = (header.findtext(f"{_OAI}identifier") or "").strip()
        datestamps.append((header.findtext(f"{_OAI}datestamp") or "").strip())
        if header.get("status") == "deleted":
            arxiv_id = parse_arxiv_id(identifier.removeprefix(IDENTIFIER_PREFIX))
            if arxiv_id is not None:
                deleted.append(arxiv_id.public_id)
                continue
            items.append(_reject(record, url, identifier, "deleted record without an arXiv id"))
        else:
            items.append(record_from_oai(record, origin=url, locator=identifier))
    token_element = body.find(f"{_OAI}resumptionToken")
    token = (token_element.text or "").strip() if token_element is not None else ""
    if token and not items and not deleted:
        raise BrokenResponse(f"an empty page in the middle of the list for {url}")
    return ListPage(items, deleted, token or None, max(filter(None, datestamps), default=None))


def record_from_oai(record: etree._Element, *, origin: str, locator: str) -> PaperRecord | Reject:
    """One <record> in the arXiv metadata format → a snapshot object → the snapshot mapping."""
    metadata = record.find(f"{_OAI}metadata/{_ARXIV}arXiv")
    if metadata is None:
        return _reject(record, origin, locator, "record without arXiv metadata")
    raw = etree.tostring(record, encoding="unicode")
    mapped = record_from_snapshot(to_snapshot(metadata), origin=origin, locator=locator, raw=raw)
    return replace(mapped, source=SOURCE) if isinstance(mapped, Reject) else mapped


def to_snapshot(metadata: etree._Element) -> dict[str, Any]:
    """The arXiv metadata format's fields under the snapshot's names. The format dates only the
    first version (created) and the latest (updated), so those are the versions it gives."""

    def text(element: etree._Element, name: str) -> str | None:
        return element.findtext(f"{_ARXIV}{name}")

    obj: dict[str, Any] = {name: text(metadata, name) for name in (
        "id", "title", "abstract", "categories", "comments", "report-no", "journal-ref", "doi",
        "license")}
    obj["authors_parsed"] = [
        [text(author, name) or "" for name in ("keyname", "forenames", "suffix")]
        for author in metadata.iterfind(f"{_ARXIV}authors/{_ARXIV}author")
    ]
    created = (text(metadata, "created") or "").strip()
    updated = (text(metadata, "updated") or "").strip()
    obj["versions"] = [{"version": "v1", "created": _rfc2822(created)}] if created else []
    if updated:
        obj["versions"].append({"version": "latest", "created": _rfc2822(updated)})
    obj["update_date"] = updated or created or None
    return obj


def _rfc2822(day: str) -> str:
    """`2007-04-02` → `Mon, 02 Apr 2007 00:00:00 GMT` (the snapshot's version dates); anything
    else unchanged, for the shared mapping to refuse with its reason."""
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        return day
    return email.utils.format_datetime(datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC),
                                       usegmt=True)


def _reject(record: etree._Element, origin: str, locator: str, reason: str) -> Reject:
    raw = etree.tostring(record, encoding="unicode")
    key = locator.removeprefix(IDENTIFIER_PREFIX) if locator.startswith(IDENTIFIER_PREFIX) else None
    return Reject(source=SOURCE, origin=origin, locator=locator, reason=reason, raw=raw,
                  record_key=key)
