"""Harvest the arXiv API through the `arxiv` package: categories by update time, a query, or ids.

Category harvests ask for `cat:… AND lastUpdatedDate:[since TO until]` in ascending update order,
so a page offset stays valid while arXiv adds papers, and a killed run resumes at the offset it
stored. The window's end is stored with the finished run and is the next run's default start.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import arxiv
import requests
from lxml import etree
from sqlalchemy import Engine

from indexer.harvest.arxiv_entries import SOURCE, record_from_result
from indexer.harvest.http import connection_problem, is_loopback, retrying_session
from indexer.harvest.runner import Page, run_harvest
from indexer.ingest import ImportSummary
from indexer.records import PaperRecord, Reject
from indexer.runs import last_success_cursor
from papersift.errors import HarvestFailed, InvalidQuery
from papersift.ids import parse_arxiv_id
from papersift.settings import Settings

logger = logging.getLogger(__name__)

ARXIV_POLITE_DELAY = 3.0  # arXiv's terms: no more than one request every three seconds
FIRST_WINDOW = timedelta(days=7)  # how far back a category's first harvest reaches
QUERY_DEFAULT_MAX = 1_000
_ATOM = "{http://www.w3.org/2005/Atom}"
_OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"


class MalformedFeed(requests.exceptions.ConnectionError):
    """A 200 response whose body is cut short or is not an Atom feed: retried like a lost
    connection (the `arxiv` client retries ConnectionError)."""


class ArxivGaveUp(requests.exceptions.RequestException):
    """What the session still got after its own retries: a failed connection or an error status.
    Not a ConnectionError, so the `arxiv` client does not retry it again (its retries are for
    malformed and empty pages): `harvest_retries` retries in all, not their square."""

    def __init__(self, message: str, *, status: int | None = None, url: str = "") -> None:
        super().__init__(message)
        self.status, self.url = status, url


class _GiveUpSession(requests.Session):
    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return super().send(request, **kwargs)
        except MalformedFeed:
            raise
        except requests.exceptions.ConnectionError as error:
            raise ArxivGaveUp(connection_problem(error), url=request.url or "") from error


class ArxivApiClient(arxiv.Client):
    """The `arxiv` package's client pointed at the configured URL, with timeouts, backoff on
    429/5xx (Retry-After obeyed), a strict check of every response body, and the totals and
    broken entries of each page kept for the harvester."""

    def __init__(self, settings: Settings, *, page_size: int | None = None) -> None:
        delay = settings.harvest_delay_seconds
        if not is_loopback(settings.arxiv_api_url):
            delay = max(delay, ARXIV_POLITE_DELAY)
        super().__init__(page_size=page_size or settings.harvest_page_size, delay_seconds=delay,
                         num_retries=settings.harvest_retries)
        self.query_url_format = settings.arxiv_api_url + "?{}"
        self._session = retrying_session(
            timeout=settings.harvest_timeout_seconds,
            retries=settings.harvest_retries,
            backoff=settings.harvest_backoff_seconds,
            session_class=_GiveUpSession,
        )
        self.tries = settings.harvest_retries + 1
        self._session.hooks["response"].append(self._check_feed)
        self.total_results: int | None = None
        self.broken_entries: list[tuple[str, str]] = []  # (reason, raw entry XML)

    def _check_feed(self, response: requests.Response, **_: Any) -> requests.Response:
        """Refuse a truncated or malformed 200 body (so it is retried); note the page's total
        and the entries the `arxiv` parser would drop silently."""
        if response.status_code != 200:  # 429 and 5xx were retried already
            raise ArxivGaveUp(f"HTTP {response.status_code}", status=response.status_code, url=response.url)
        try:
            root = etree.fromstring(response.content, etree.XMLParser(resolve_entities=False,
                                                                      no_network=True))
        except (etree.XMLSyntaxError, requests.exceptions.RequestException) as error:
            raise MalformedFeed(f"truncated or malformed response from {response.url}: {error}") from None
        if root.tag != f"{_ATOM}feed":
            raise MalformedFeed(f"response from {response.url} is not an Atom feed ({root.tag})")
        total = root.findtext(f"{_OPENSEARCH}totalResults")
        self.total_results = int(total) if total and total.strip().isdigit() else None
        for entry in root.iterfind(f"{_ATOM}entry"):
            missing = [name for name in ("id", "title", "published", "updated")
                       if not (entry.findtext(f"{_ATOM}{name}") or "").strip()]
            if missing and "/api/errors" not in (entry.findtext(f"{_ATOM}id") or ""):
                self.broken_entries.append((f"entry without {', '.join(missing)}",
                                            etree.tostring(entry, encoding="unicode")))
        return response

    def take_broken_entries(self) -> list[tuple[str, str]]:
        broken, self.broken_entries = self.broken_entries, []
        return broken


@dataclass
class ArxivHarvest:
    """What to fetch: a search (query + order + cap) or an id list, and the window it covers."""

    target: str
    query: str = ""
    ids: list[str] = field(default_factory=list)
    max_results: int | None = None
    by_update: bool = False
    until: str | None = None
    explicit_window: bool = False  # the user named the window: do not resume another one

    def search(self) -> arxiv.Search:
        if self.by_update:
            order = (arxiv.SortCriterion.LastUpdatedDate, arxiv.SortOrder.Ascending)
        else:
            order = (arxiv.SortCriterion.Relevance, arxiv.SortOrder.Descending)
        return arxiv.Search(query=self.query, id_list=self.ids, max_results=self.max_results,
                            sort_by=order[0], sort_order=order[1])

    def cursor(self, start: int) -> dict[str, Any]:
        return {"query": self.query, "ids": self.ids, "start": start, "until": self.until}


def category_harvest(
    engine: Engine, categories: Sequence[str], *, since: datetime | None, until: datetime | None,
    max_results: int | None = None,
) -> ArxivHarvest:
    """New and updated papers of the categories in [since, until] (UTC). Without `since`: from
    the end of the last finished harvest of the same categories, or a week back."""
    target = "categories " + " ".join(sorted(set(categories)))
    explicit = since is not None or until is not None
    until = until or datetime.now(UTC).replace(second=0, microsecond=0)
    if since is None:
        previous = last_success_cursor(engine, source=SOURCE, target=target) or {}
        since = datetime.fromisoformat(previous["until"]) if previous.get("until") else until - FIRST_WINDOW
    if since > until:
        if explicit:
            raise InvalidQuery(f"--since {since:%Y-%m-%d %H:%M} is after --until {until:%Y-%m-%d %H:%M}",
                               hint="swap them")
        until = since  # the last harvest ended this minute: look at this minute again
    cats = " OR ".join(f"cat:{category}" for category in sorted(set(categories)))
    query = f"({cats}) AND lastUpdatedDate:[{since:%Y%m%d%H%M} TO {until:%Y%m%d%H%M}]"
    return ArxivHarvest(target=target, query=query, max_results=max_results, by_update=True,
                        until=until.isoformat(), explicit_window=explicit)


def query_harvest(query: str, *, max_results: int | None) -> ArxivHarvest:
    """The papers an arXiv API query finds, best match first (the API's relevance order)."""
    return ArxivHarvest(target=f"query {query}", query=query,
                        max_results=max_results or QUERY_DEFAULT_MAX)


def ids_harvest(ids: Sequence[str]) -> ArxivHarvest:
    """Specific papers by arXiv id (a version suffix fetches that version)."""
    return ArxivHarvest(target="ids " + " ".join(ids), ids=list(ids), max_results=len(ids))


def harvest_arxiv(
    settings: Settings, engine: Engine, plan: ArxivHarvest, *, on_page=None,
    client: ArxivApiClient | None = None,
) -> ImportSummary:
    """Run `plan` through the API, page by page, resuming an interrupted run of the same target.
    A long-lived caller passes its own `client`, so the delay between requests holds across runs."""
    client = client or ArxivApiClient(settings)

    def pages(cursor: dict[str, Any] | None) -> Iterator[Page]:
        current, start = plan, 0
        if cursor and cursor.get("query") == plan.query and cursor.get("ids", []) == plan.ids:
            start = int(cursor.get("start", 0))
        elif cursor and plan.by_update and not plan.explicit_window and cursor.get("query"):
            logger.info("finishing the interrupted window %s first", cursor["query"])
            current = replace(plan, query=cursor["query"], until=cursor.get("until"))
            start = int(cursor.get("start", 0))
        yield from _pages(client, current, start)

    return run_harvest(engine, source=SOURCE, target=plan.target, pages=pages, on_page=on_page)


def _pages(client: ArxivApiClient, plan: ArxivHarvest, start: int) -> Iterator[Page]:
    valid_ids, invalid = _split_ids(plan.ids)
    if invalid:
        yield Page(items=invalid, cursor=plan.cursor(start))
    if plan.ids and not valid_ids:
        return
    search = plan.search()
    search.id_list = valid_ids
    results = client.results(search, offset=start)
    seen: set[str] = set()
    while True:
        chunk = _next_chunk(results, client)
        broken = [_reject(reason, raw, "entry") for reason, raw in client.take_broken_entries()]
        if not chunk and not broken:
            break
        items: list[PaperRecord | Reject] = [record_from_result(result) for result in chunk]
        seen.update(item.source_record_id for item in items if isinstance(item, PaperRecord))
        start += len(chunk)
        yield Page(items=items + broken, cursor=plan.cursor(start))
    expected = client.total_results if client.total_results is not None else start
    if plan.max_results is not None:
        expected = min(expected, plan.max_results)
    if start < expected and not plan.ids:
        raise HarvestFailed(
            f"arXiv reported {expected:,} results but stopped answering after {start:,}",
            hint="re-run the same command to resume from there",
        )
    missing = [i for i in valid_ids if (parse_arxiv_id(i).id not in seen)] if plan.ids else []
    if missing:
        yield Page(items=[_reject("arXiv has no paper with this id", i, f"id {i}", key=i)
                          for i in missing], cursor=plan.cursor(start))


def _next_chunk(results: Iterator[arxiv.Result], client: ArxivApiClient) -> list[arxiv.Result]:
    """The next page of results, with the client's failures in papersift's words."""
    try:
        return list(itertools.islice(results, client.page_size))
    except ArxivGaveUp as error:
        what = f"answered HTTP {error.status} for {error.url}" if error.status else f"could not be reached ({error})"
        raise HarvestFailed(f"arXiv {what} after {client.tries} tries",
                            hint="pages before it are saved; re-run to resume") from None
    except arxiv.UnexpectedEmptyPageError as error:
        raise HarvestFailed(
            f"arXiv returned an empty page in the middle of the results ({error.url}) "
            f"after {error.retry + 1} tries", hint="pages before it are saved; re-run to resume",
        ) from None
    except requests.exceptions.RequestException as error:
        raise HarvestFailed(f"arXiv could not be reached or answered garbage: {error}",
                            hint="pages before it are saved; re-run to resume") from None


def _split_ids(ids: Sequence[str]) -> tuple[list[str], list[Reject]]:
    valid, invalid = [], []
    for raw in ids:
        parsed = parse_arxiv_id(raw)
        if parsed is None:
            invalid.append(_reject("not an arXiv identifier", raw, f"id {raw}", key=raw))
        else:
            valid.append(parsed.id + (f"v{parsed.version}" if parsed.version else ""))
    return valid, invalid


def _reject(reason: str, raw: str, locator: str, *, key: str | None = None) -> Reject:
    return Reject(source=SOURCE, origin="arXiv API", locator=locator, reason=reason, raw=raw,
                  record_key=key)
