"""Vector retrieval: encode the query on one thread, then search the faiss index — restricted to the
filtered papers when a filter is active.

A narrow filter is scored exactly (gather the subset's vectors, one matrix product), because an
approximate index with an id filter loses recall there; a broad one searches the index with an id
selector and a raised efSearch.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from papersift.embedding import Embedder
from papersift.vector_index import LoadedIndex, one_thread

EXACT_FILTER_MAX = 50_000
QUERY_CACHE_SIZE = 1024


class QueryEncoder:
    """Embeds search queries (one at a time, on one thread) with a small LRU cache."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="query-encoder")

    def start(self, text: str) -> Callable[[], np.ndarray]:
        """Begin encoding `text` on the encoder's own thread and return the function that waits
        for its vector. The ONNX runtime computes without the GIL, so a search's keyword stages
        run meanwhile and the query costs the longer of the two, not their sum."""
        with self._lock:
            cached = self._cache.get(text)
        if cached is not None:
            return lambda: cached
        return self._thread.submit(self.encode, text).result

    def encode(self, text: str) -> np.ndarray:
        with self._lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return cached
            vector = self.embedder.encode([text], batch_size=1)[0].astype(np.float32)
            self._cache[text] = vector
            if len(self._cache) > QUERY_CACHE_SIZE:
                self._cache.popitem(last=False)
            return vector


def search_vectors(index: LoadedIndex, vector: np.ndarray, k: int,
                   allowed_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(paper ids, cosine scores) of the k nearest papers, best first, within `allowed_ids` if given."""
    if allowed_ids is None:
        scores, ids = index.search(vector, k)
        keep = ids >= 0
        return ids[keep].astype(np.int64), scores[keep]
    if len(allowed_ids) <= EXACT_FILTER_MAX:
        ids, matrix = index.vectors_of(allowed_ids)
        if not len(ids):
            return ids, np.empty(0, np.float32)
        scores = matrix @ vector
        top = np.argpartition(-scores, min(k, len(scores)) - 1)[:k] if len(scores) > k else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return ids[top], scores[top]
    return _search_selected(index, vector, k, allowed_ids)


def _search_selected(index: LoadedIndex, vector: np.ndarray, k: int, allowed_ids: np.ndarray):
    import faiss

    one_thread()
    selector = faiss.IDSelectorBatch(len(allowed_ids), faiss.swig_ptr(np.ascontiguousarray(allowed_ids, np.int64)))
    if index.manifest.index_type == "hnsw":
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(index.manifest.ef_search or 64, 4 * k, 512))
    else:
        params = faiss.SearchParameters(sel=selector)
    scores, ids = index.index.search(vector.reshape(1, -1).astype(np.float32), k, params=params)
    keep = ids[0] >= 0
    return ids[0][keep].astype(np.int64), scores[0][keep]
