"""The starter corpus: what `papersift demo` fetches when it has no data folder, and what
`papersift harvest starter` fetches on its own.

Two kinds of source, fetched one after the other by the existing harvesters:
- the new and updated papers of a handful of popular arXiv categories (PAPERSIFT_HARVEST_CATEGORIES)
  through the arXiv API harvester: the first time the last seven days (the last five announcement
  days), afterwards from where the previous harvest of these categories ended;
- a few recent conference lists (PAPERSIFT_HARVEST_PAPERLISTS_URLS, or DEFAULT_PAPERLISTS_URLS)
  through the remote paperlists importer.
Each source is an ordinary harvest with the target of `papersift harvest arxiv --category ...` or
`papersift harvest paperlists --url ...` (and of the scheduled jobs): the same politeness delay,
retries and resume cursor, so a stopped fetch resumes where it stopped. A source that keeps failing
is reported, and the next one is fetched all the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Engine

from indexer.harvest.arxiv_api import category_harvest, harvest_arxiv
from indexer.harvest.paperlists_url import harvest_paperlists_url, list_file_name
from indexer.harvest.runner import Page
from indexer.ingest import ImportSummary
from papersift.errors import HarvestFailed, InvalidQuery
from papersift.progress import progress_bar
from papersift.settings import Settings

PAPERLISTS = "https://raw.githubusercontent.com/papercopilot/paperlists/main"
DEFAULT_PAPERLISTS_URLS = tuple(f"{PAPERLISTS}/{path}" for path in (
    "icml/icml2025.json", "nips/nips2024.json", "cvpr/cvpr2025.json", "colm/colm2025.json"))

Harvest = Callable[[Settings, Engine, Callable[[Page], None]], ImportSummary]


@dataclass(frozen=True)
class StarterSource:
    """One source of the starter corpus: what it is called, the setting that points it at a
    mirror, and how it is harvested."""

    name: str
    mirror_setting: str
    harvest: Harvest


def starter_sources(settings: Settings) -> list[StarterSource]:
    """The arXiv categories first (the newest listings), then the conference lists. A list URL
    whose file name does not give the venue and year is refused before anything is fetched."""
    sources = []
    categories = settings.split_list(settings.harvest_categories)
    if categories:
        def harvest_categories(settings: Settings, engine: Engine, on_page) -> ImportSummary:
            plan = category_harvest(engine, categories, since=None, until=None)
            return harvest_arxiv(settings, engine, plan, on_page=on_page)

        sources.append(StarterSource(f"arXiv {' '.join(sorted(set(categories)))}",
                                     "PAPERSIFT_ARXIV_API_URL", harvest_categories))
    for url in paperlists_urls(settings):
        try:
            name = list_file_name(url)
        except ValueError as error:
            raise InvalidQuery(f"PAPERSIFT_HARVEST_PAPERLISTS_URLS: {error}",
                               hint="name list files <venue><year>.json or .json.gz") from None
        sources.append(StarterSource(f"list {name}", "PAPERSIFT_HARVEST_PAPERLISTS_URLS",
                                     _list_harvest(url)))
    return sources


def paperlists_urls(settings: Settings) -> list[str]:
    """PAPERSIFT_HARVEST_PAPERLISTS_URLS, or the default lists when it is empty."""
    return settings.split_list(settings.harvest_paperlists_urls) or list(DEFAULT_PAPERLISTS_URLS)


def _list_harvest(url: str) -> Harvest:
    def harvest(settings: Settings, engine: Engine, on_page) -> ImportSummary:
        return harvest_paperlists_url(settings, engine, url, on_page=on_page)

    return harvest


def fetch_starter(
    settings: Settings, engine: Engine, sources: list[StarterSource], *,
    after_page: Callable[[Page], None] | None = None,
) -> Iterator[tuple[StarterSource, ImportSummary | HarvestFailed]]:
    """Harvest each source in turn with a progress bar (on a terminal), yielding its summary, or
    the HarvestFailed that ended it (the pages it wrote are kept) before going on to the next."""
    for source in sources:
        try:
            with progress_bar(f"harvest {source.name}") as bar:
                def on_page(page: Page, bar=bar) -> None:
                    bar.advance(len(page.items))
                    if after_page is not None:
                        after_page(page)

                summary = source.harvest(settings, engine, on_page)
        except HarvestFailed as error:
            yield source, error
            continue
        yield source, summary
