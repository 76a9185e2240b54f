"""Holders of published artifacts (the vector index, the search catalog) that swap in newly
published generations without a restart.

A background thread checks the manifest every few seconds; a new generation is loaded fully and
then replaces the current one in a single assignment, so a request always sees a complete artifact.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from papersift.errors import IndexModelMismatch, IndexNotReady, PapersiftError
from papersift.vector_index import LoadedIndex, load_index, read_manifest

logger = logging.getLogger(__name__)
Loaded = TypeVar("Loaded")


def freeze_long_lived() -> None:
    """Exempt every object alive now (modules, a loaded generation, the query encoder) from the
    cycle collector. A worker holds a few hundred thousand such objects; a full collection over
    them took ~290 ms, a pause that landed on a search every few hundred requests. Frozen objects
    are still freed by reference counting when a newer generation replaces them."""
    gc.freeze()


class PublishedHolder(Generic[Loaded]):
    """The current generation of one published artifact (or why there is none)."""

    def __init__(self, name: str, directory: Path, *, read_generation: Callable[[], int | None],
                 load: Callable[[], Loaded], generation_of: Callable[[Loaded], int],
                 reload_seconds: float, hint: str = "run: papersift index") -> None:
        self.name = name
        self.directory = directory
        self.reload_seconds = reload_seconds
        self._read_generation = read_generation
        self._load = load
        self._generation_of = generation_of
        self._hint = hint
        self._current: Loaded | None = None
        self.prepare: Callable[[Loaded], None] | None = None  # run on a new generation before the swap
        self.problem: PapersiftError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def current(self) -> Loaded:
        """The loaded artifact; raises IndexNotReady / IndexModelMismatch saying what to do."""
        loaded = self._current
        if loaded is None:
            raise self.problem or IndexNotReady(f"no {self.name} loaded", hint=self._hint)
        return loaded

    def current_or_none(self) -> Loaded | None:
        return self._current

    def refresh(self) -> bool:
        """Load the published generation if it is newer than the current one; True when swapped."""
        generation = self._read_generation()
        if generation is None:
            self.problem = IndexNotReady(f"no {self.name} published under {self.directory}", hint=self._hint)
            return False
        current = self._current
        if current is not None and self._generation_of(current) == generation:
            return False
        try:
            loaded = self._load()
        except IndexModelMismatch as error:
            self.problem = error
            logger.error("refusing the published %s: %s (%s)", self.name, error.message, error.hint)
            return False
        except (OSError, RuntimeError, ValueError) as error:  # removed under us: the next poll retries
            logger.warning("could not load the published %s yet: %s", self.name, error)
            return False
        if self.prepare is not None and current is not None:
            self.prepare(loaded)  # e.g. load the query encoder of a new embedding space first
        self._current = loaded
        self.problem = None
        freeze_long_lived()
        logger.info("loaded %s generation %s", self.name, self._generation_of(loaded))
        return True

    def start(self) -> None:
        """Load now, then keep watching in a daemon thread."""
        self.refresh()
        self._thread = threading.Thread(target=self._watch, name=f"{self.name}-reload", daemon=True)
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
                logger.warning("%s watch: %s", self.name, error)


class IndexHolder(PublishedHolder[LoadedIndex]):
    """The vector index of one model."""

    def __init__(self, directory: Path, *, model: str, reload_seconds: float) -> None:
        self.model = model
        super().__init__(
            "vector index", directory, reload_seconds=reload_seconds,
            read_generation=lambda: _generation(read_manifest(directory)),
            load=lambda: load_index(directory, model=model, mmap=True),
            generation_of=lambda loaded: loaded.manifest.generation,
        )


def _generation(manifest: Any) -> int | None:
    return None if manifest is None else manifest.generation
