"""Publish the keyword index while a harvest adds papers, so a site that is already serving fills
as they arrive: at once after the first page, then at most every `every` seconds, and when the
harvester flushes (at the end of a source). Twins are linked first, as `papersift index` does.
Nothing is published before a page arrived: an empty catalog would put an empty site up.

Only one process may build the catalog at a time: the one harvesting, until it ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from indexer.lexical import CatalogSummary, build_catalog
from indexer.twins import link_twins

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 30.0


class CatalogRefresher:
    """Rebuilds and publishes the catalog under `directory` when papers changed and it is time."""

    def __init__(self, engine: Engine, directory: Path, *, every: float = REFRESH_SECONDS,
                 echo: Callable[[str], object] = logger.info,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self._directory = directory
        self._every = every
        self._echo = echo
        self._clock = clock
        self._published_at: float | None = None
        self._pending = False  # a page arrived since the last publish

    def after_page(self, *_: object) -> None:
        """Publish after the first page, then when `every` seconds have passed since the last."""
        self._pending = True
        if self._published_at is None or self._clock() - self._published_at >= self._every:
            self.publish()

    def flush(self) -> None:
        """Publish the pages that arrived since the last publish, if any did."""
        if self._pending:
            self.publish()

    def publish(self) -> CatalogSummary:
        """Link twins and publish the catalog now (skipped by the builder when nothing changed)."""
        link_twins(self._engine)
        summary = build_catalog(self._engine, self._directory)
        self._published_at, self._pending = self._clock(), False
        if summary.mode != "unchanged":
            self._echo(f"keyword index published: {summary.line()}")
        return summary
