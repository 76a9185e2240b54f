"""Harvest a remote paperlists file: download it whole, check it, then import it in pages.

The file is streamed to a temporary folder under the data directory (with a size limit), checked
to be complete (a gzip stream to its end, JSON that parses) and read by the paperlists importer's
own reader (`iter_list_file` → `record_from_paperlist`), so a URL and a local copy of the same file
give the same rows. Pages of `harvest_page_size` records are written with the cursor
{"items": n, "sha256": …}: a killed run downloads again and skips the first n items of the same
file (a file that changed since is read from its start; the upsert keeps that free of duplicates).
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from indexer.files import open_binary
from indexer.harvest.http import RETRY_STATUSES, connection_problem, retrying_session
from indexer.harvest.runner import Page, run_harvest
from indexer.ingest import ImportSummary
from indexer.records import PaperRecord, Reject
from indexer.sources.paperlists import SOURCE, iter_list_file
from papersift.errors import HarvestFailed
from papersift.settings import Settings
from papersift.venues import canonical_venue, venue_year_from_filename

logger = logging.getLogger(__name__)

MAX_LIST_BYTES = 256 * 1024 * 1024  # downloaded and decompressed; real lists are a few MB
_CHUNK = 1 << 16


class IncompleteDownload(ValueError):
    """The body ended early or is not a whole gzip stream / JSON document (retried)."""


def list_file_name(url: str, *, venue: str | None = None, year: int | None = None) -> str:
    """The name the download is read under, which gives the importer the venue and year: the
    URL's file name (`iclr2025.json.gz`), or `<venue><year>.json` from the options."""
    if venue or year:
        slug = canonical_venue(venue or "")
        if not (slug.isalnum() and slug.isascii() and year):
            raise ValueError("give both --venue (letters and digits, e.g. iclr) and --year")
        return f"{slug}{year}.json"
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    if venue_year_from_filename(name) is None:
        raise ValueError(f"cannot tell the venue and year from {url}: "
                         "give --venue and --year (e.g. --venue iclr --year 2025)")
    return name


def harvest_paperlists_url(
    settings: Settings, engine, url: str, *, venue: str | None = None, year: int | None = None,
    on_page=None,
) -> ImportSummary:
    """Import the paperlists file at `url`, resuming an interrupted run of the same URL."""
    name = list_file_name(url, venue=venue, year=year)
    session = retrying_session(timeout=settings.harvest_timeout_seconds,
                               retries=settings.harvest_retries,
                               backoff=settings.harvest_backoff_seconds)

    def pages(cursor: dict[str, Any] | None) -> Iterator[Page]:
        downloads = settings.data_dir / "downloads"
        downloads.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=downloads) as folder:
            path = Path(folder) / name
            digest = download_list(session, url, path, settings=settings)
            skip = 0
            if cursor and cursor.get("sha256") == digest:
                skip = int(cursor.get("items", 0))
            elif cursor:
                logger.info("%s changed since the interrupted run: reading it from the start", url)
            yield from _pages(path, url, digest, skip, settings.harvest_page_size)

    return run_harvest(engine, source=SOURCE, target=url, pages=pages, on_page=on_page)


def _pages(path: Path, url: str, digest: str, skip: int, size: int) -> Iterator[Page]:
    batch: list[PaperRecord | Reject] = []
    position = 0
    for position, item in enumerate(iter_list_file(path), start=1):
        if position <= skip:
            continue
        batch.append(replace(item, origin=url) if isinstance(item, Reject) else item)
        if len(batch) == size:
            yield Page(items=batch, cursor={"items": position, "sha256": digest})
            batch = []
    if batch:
        yield Page(items=batch, cursor={"items": position, "sha256": digest})


def download_list(session: requests.Session, url: str, path: Path, *, settings: Settings) -> str:
    """Stream `url` into `path`; check it is complete; its sha256. A body cut short or broken is
    fetched again (with backoff) up to harvest_retries times; HTTP errors (429/5xx already retried
    by the session) and persistent breakage end the run with HarvestFailed naming the URL."""
    tries = settings.harvest_retries + 1
    problem = ""
    for attempt in range(tries):
        if attempt:
            time.sleep(settings.harvest_backoff_seconds * 2 ** (attempt - 1))
        try:
            response = session.get(url, stream=True)
        except requests.exceptions.RequestException as error:
            raise HarvestFailed(f"{url} could not be reached: {connection_problem(error)}",
                                hint="nothing was written; re-run later") from None
        with response:
            _check_status(response, url, tries)
            try:
                digest = _save(response, path, url)
                _check_complete(path, url)
                return digest
            except (IncompleteDownload, requests.exceptions.RequestException) as error:
                problem = str(error)
                logger.warning("download of %s broke: %s (try %d of %d)", url, problem, attempt + 1, tries)
    raise HarvestFailed(f"download of {url} kept breaking after {tries} tries: {problem}",
                        hint="nothing was written; re-run later")


def _check_status(response: requests.Response, url: str, tries: int) -> None:
    if response.status_code == 200:
        return
    if response.status_code in (404, 410):
        raise HarvestFailed(f"{url}: not found (HTTP {response.status_code})",
                            hint="check the URL of the paperlists file")
    retried = response.status_code in RETRY_STATUSES
    raise HarvestFailed(f"{url} answered HTTP {response.status_code}"
                        + (f" after {tries} tries" if retried else ""),
                        hint="nothing was written; re-run later")


def _save(response: requests.Response, path: Path, url: str) -> str:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_LIST_BYTES:
        raise HarvestFailed(f"{url} is {int(declared):,} bytes; the limit is {MAX_LIST_BYTES:,}")
    digest = hashlib.sha256()
    size = 0
    with path.open("wb") as out:
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > MAX_LIST_BYTES:
                raise HarvestFailed(f"{url} is larger than the limit of {MAX_LIST_BYTES:,} bytes")
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _check_complete(path: Path, url: str) -> None:
    """A whole gzip stream (when gzip) holding one whole JSON document, within the size limit."""
    with open_binary(path) as handle:
        try:
            data = handle.read(MAX_LIST_BYTES + 1)
        except (OSError, EOFError, zlib.error) as error:
            raise IncompleteDownload(f"truncated or corrupt gzip data ({error})") from None
    if len(data) > MAX_LIST_BYTES:
        raise HarvestFailed(f"{url} holds more than {MAX_LIST_BYTES:,} bytes of JSON")
    try:
        json.loads(data.decode("utf-8", errors="surrogateescape"))
    except (ValueError, RecursionError) as error:
        raise IncompleteDownload(f"truncated or malformed JSON ({error})") from None
