"""Fetch an arXiv paper on demand: a search that asks for an id papersift lacks gets it from the
arXiv API through the harvester, shown first at once and indexed at the next index update."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine, select

from papersift.errors import HarvestFailed
from papersift.models import Paper
from papersift.settings import Settings

logger = logging.getLogger(__name__)

# One quick try: a search must not hang on a slow or unreachable arXiv.
FETCH_TIMEOUT_SECONDS = 10.0
UNKNOWN_TTL_SECONDS = 600.0  # an id arXiv does not know is not asked for again this long


class ArxivFetcher:
    """Fetches missing arXiv ids one request at a time, at arXiv's polite pace."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.model_copy(update={
            "harvest_retries": 0,
            "harvest_timeout_seconds": min(settings.harvest_timeout_seconds, FETCH_TIMEOUT_SECONDS),
        })
        self._client = None  # made at the first fetch: the harvester imports the `arxiv` package (~13 MB)
        self._lock = threading.Lock()
        self._unknown: dict[str, float] = {}

    def fetch(self, engine: Engine, public_ids: list[str]) -> list[str]:
        """Fetch the arXiv ids among `public_ids` that are not stored; notices for the user."""
        now = time.monotonic()
        wanted = [p for p in dict.fromkeys(public_ids)
                  if p.startswith("arxiv:") and self._unknown.get(p, 0) < now]
        missing = [p for p in wanted if p not in _stored(engine, wanted)]
        if not missing:
            return []
        from indexer.harvest.arxiv_api import ArxivApiClient, harvest_arxiv, ids_harvest

        try:
            with self._lock:
                self._client = self._client or ArxivApiClient(self.settings, page_size=100)
                harvest_arxiv(self.settings, engine, ids_harvest([p.removeprefix("arxiv:") for p in missing]),
                              client=self._client)
        except HarvestFailed as error:
            logger.warning("on-demand fetch of %s failed: %s", missing, error)
            return [f"{', '.join(missing)}: not in papersift yet, and arXiv could not be asked just now"]
        found = _stored(engine, missing)
        notices = []
        for public_id in missing:
            if public_id in found:
                notices.append(f"{public_id} was fetched from arXiv just now; it joins keyword and "
                               "meaning search at the next index update")
            else:
                self._unknown[public_id] = now + UNKNOWN_TTL_SECONDS
                notices.append(f"arXiv has no paper {public_id.removeprefix('arxiv:')}")
        return notices


def _stored(engine: Engine, public_ids: list[str]) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(select(Paper.public_id).where(Paper.public_id.in_(public_ids))))
