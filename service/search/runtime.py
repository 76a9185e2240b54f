"""What the service searches with: the hot-reloaded catalog and vector index, and the query
encoder (loaded once, on one thread, so queries never wait on document embedding's cores)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from papersift.embedding import load_embedder
from papersift.errors import PapersiftError
from papersift.settings import Settings
from service.index_holder import IndexHolder, freeze_long_lived
from service.reads import ReadPool
from service.search.catalog import CatalogHolder
from service.search.engine import SearchEngine
from service.search.fetch import ArxivFetcher
from service.search.result_cache import ResultCache
from service.search.semantic import QueryEncoder

logger = logging.getLogger(__name__)

PRELOADABLE_BACKENDS = ("onnx", "onnx-int8")  # run on their caller's thread: safe to fork after loading
_preloaded: dict[tuple[str, str, int], object] = {}


def preload_query_encoder(settings: Settings) -> None:
    """Load the published index's query encoder in a process about to fork its workers
    (service/prefork.py), so they share its weights instead of each loading a copy. Only backends
    that start no threads of their own; any problem is left for the workers to report."""
    from papersift.vector_index import read_manifest

    manifest = read_manifest(settings.index_dir)
    if manifest is None or manifest.backend not in PRELOADABLE_BACKENDS:
        return
    try:
        _preloaded[(settings.model, manifest.backend, manifest.max_tokens)] = load_embedder(
            settings.model, backend=manifest.backend, max_tokens=manifest.max_tokens,
            cache_dir=settings.model_cache_dir, threads=1)
    except PapersiftError as error:
        logger.warning("query encoder not preloaded (each worker will try): %s", error)


class SearchRuntime:
    """The catalog, the vector index and a query encoder that matches the index's embedding space
    (its model, backend and token limit, as its manifest records them)."""

    def __init__(self, settings: Settings, index: IndexHolder, *, reads: ReadPool, db: Engine,
                 on_timings: Callable[[dict[str, float]], None] | None = None) -> None:
        self.settings = settings
        self.index = index
        self.reads = reads  # the result cards' one-round-trip reads
        self.db = db  # the engine, for the query translations and papers fetched by id
        self.on_timings = on_timings  # receives each search's stage timings (ms), e.g. for metrics
        self.catalog = CatalogHolder(settings.search_dir, reload_seconds=settings.index_reload_seconds)
        self._encoders: dict[tuple[str, int], QueryEncoder] = {}
        self._encoder_problems: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()
        self.fetcher = ArxivFetcher(settings) if settings.fetch_unknown_arxiv_ids else None
        self.results = ResultCache()
        # Searches are CPU work: run them one at a time per worker process (a worker per core)
        # rather than interleaving several on the GIL, which costs each of them far more CPU.
        self.compute = threading.Lock()
        index.prepare = self._prepare_index  # a new generation's encoder loads before it is swapped in

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

    def encoder(self, manifest=None) -> QueryEncoder | None:
        """The query encoder for the index's space (the current index's by default), loaded on
        first use; None (with the reason logged) if it cannot load."""
        if manifest is None:
            index = self.index.current_or_none()
            if index is None:
                return None
            manifest = index.manifest
        key = (manifest.backend, manifest.max_tokens)
        encoder = self._encoders.get(key)
        if encoder is not None:
            return encoder  # the per-request path takes no lock
        with self._lock:
            if key not in self._encoders and key not in self._encoder_problems:
                try:
                    embedder = _preloaded.pop((self.settings.model, *key), None) or load_embedder(
                        self.settings.model, backend=manifest.backend, max_tokens=manifest.max_tokens,
                        cache_dir=self.settings.model_cache_dir, threads=1)
                    encoder = QueryEncoder(embedder)
                    encoder.encode("warm up")
                    self._encoders[key] = encoder
                    freeze_long_lived()
                except PapersiftError as error:
                    self._encoder_problems[key] = str(error)
                    logger.error("semantic search is off: %s", error)
            return self._encoders.get(key)

    def _prepare_index(self, loaded) -> None:
        self.encoder(loaded.manifest)

    def engine(self) -> tuple[SearchEngine, list[str]]:
        """An engine over the current catalog and index, and notices about what is missing."""
        catalog = self.catalog.current()
        index = self.index.current_or_none()
        notices = []
        encoder = self.encoder(index.manifest) if index is not None else None
        if index is None:
            notices.append("semantic search is unavailable until the vector index is built (papersift index)")
        elif encoder is None:
            problem = self._encoder_problems.get((index.manifest.backend, index.manifest.max_tokens))
            notices.append(f"semantic search is unavailable: {problem}")
        return SearchEngine(catalog, index if encoder else None, encoder), notices
