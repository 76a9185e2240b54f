"""Holds the loaded vector index and swaps in newly published ones without a restart.

A background thread checks the manifest every few seconds; a new generation is loaded fully and
then replaces the current one in a single assignment, so a request always sees a complete index.
"""

from __future__ import annotations

import logging
import threading

from papersift.errors import IndexModelMismatch, IndexNotReady, PapersiftError
from papersift.vector_index import LoadedIndex, load_index, read_manifest

logger = logging.getLogger(__name__)


class IndexHolder:
    """The current index (or why there is none) for one model and index directory."""

    def __init__(self, directory, *, model: str, reload_seconds: float) -> None:
        self.directory = directory
        self.model = model
        self.reload_seconds = reload_seconds
        self._current: LoadedIndex | None = None
        self.problem: PapersiftError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def current(self) -> LoadedIndex:
        """The loaded index; raises IndexNotReady / IndexModelMismatch saying what to do."""
        index = self._current
        if index is None:
            raise self.problem or IndexNotReady("no index loaded", hint="run: papersift index")
        return index

    def refresh(self) -> bool:
        """Load the published index if it is newer than the current one; True when swapped."""
        manifest = read_manifest(self.directory)
        current = self._current
        if manifest is None:
            self.problem = IndexNotReady(f"no index published under {self.directory}",
                                         hint="run: papersift index")
            return False
        if current is not None and current.manifest.generation == manifest.generation:
            return False
        try:
            loaded = load_index(self.directory, model=self.model)
        except IndexModelMismatch as error:
            self.problem = error
            logger.error("refusing the published index: %s (%s)", error.message, error.hint)
            return False
        except (OSError, RuntimeError) as error:  # a file removed under us: the next poll retries
            logger.warning("could not load the published index yet: %s", error)
            return False
        self._current = loaded
        self.problem = None
        logger.info("loaded index generation %s (%s vectors, %s)", loaded.manifest.generation,
                    loaded.manifest.count, loaded.manifest.index_type)
        return True

    def start(self) -> None:
        """Load now, then keep watching in a daemon thread."""
        self.refresh()
        self._thread = threading.Thread(target=self._watch, name="index-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(self.reload_seconds):
            try:
                self.refresh()
            except (OSError, ValueError) as error:
                logger.warning("index watch: %s", error)
