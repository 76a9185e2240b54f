"""What the service searches with: the hot-reloaded catalog and vector index, and the query
encoder (loaded once, on one thread, so queries never wait on document embedding's cores)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from papersift.embedding import load_embedder
from papersift.errors import PapersiftError
from papersift.settings import Settings
from service.index_holder import IndexHolder
from service.search.catalog import CatalogHolder
from service.search.engine import SearchEngine
from service.search.fetch import ArxivFetcher
from service.search.semantic import QueryEncoder

logger = logging.getLogger(__name__)


class SearchRuntime:
    def __init__(self, settings: Settings, index: IndexHolder, *,
                 on_timings: Callable[[dict[str, float]], None] | None = None) -> None:
        self.settings = settings
        self.index = index
        self.on_timings = on_timings  # receives each search's stage timings (ms), e.g. for metrics
        self.catalog = CatalogHolder(settings.search_dir, reload_seconds=settings.index_reload_seconds)
        self._encoder: QueryEncoder | None = None
        self._encoder_problem: str | None = None
        self._lock = threading.Lock()
        self.fetcher = ArxivFetcher(settings) if settings.fetch_unknown_arxiv_ids else None

    def start(self) -> None:
        import faiss

        # One query, one thread: OpenMP fan-out costs more than it saves for a single vector and
        # oversubscribes the cores under concurrent requests (PERF-NOTES: encode on one thread).
        faiss.omp_set_num_threads(1)
        self.catalog.start()
        if self.index.current_or_none() is not None:
            threading.Thread(target=self.encoder, name="encoder-warmup", daemon=True).start()

    def stop(self) -> None:
        self.catalog.stop()

    def encoder(self) -> QueryEncoder | None:
        """The query encoder, loaded on first use; None (with the reason logged) if it cannot load."""
        if self._encoder is not None:
            return self._encoder  # the per-request path takes no lock
        with self._lock:
            if self._encoder is None and self._encoder_problem is None:
                try:
                    embedder = load_embedder(self.settings.model, backend=self.settings.embedding_backend,
                                             cache_dir=self.settings.model_cache_dir, threads=1)
                    self._encoder = QueryEncoder(embedder)
                    self._encoder.encode("warm up")
                except PapersiftError as error:
                    self._encoder_problem = str(error)
                    logger.error("semantic search is off: %s", error)
            return self._encoder

    def engine(self) -> tuple[SearchEngine, list[str]]:
        """An engine over the current catalog and index, and notices about what is missing."""
        catalog = self.catalog.current()
        index = self.index.current_or_none()
        notices = []
        encoder = self.encoder() if index is not None else None
        if index is None:
            notices.append("semantic search is unavailable until the vector index is built (papersift index)")
        elif encoder is None:
            notices.append(f"semantic search is unavailable: {self._encoder_problem}")
        return SearchEngine(catalog, index if encoder else None, encoder), notices
