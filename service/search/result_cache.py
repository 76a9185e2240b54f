"""Whole search answers kept per worker, keyed by everything that decides them: the normalized
query, filters, mode, sort, page and the generations of the loaded catalog and vector index. A new
generation changes every key, so answers from an older one are never served (they age out).

Answers are kept as their JSON text, not as response objects: a few hundred cached pages of
pydantic models are ~90k objects that every full collection of the cycle collector walks (measured:
140-170 ms pauses every ~60 searches at 160k papers), while a string is not tracked at all."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Hashable

RESULT_CACHE_SIZE = 256  # answers; one is ~40 kB of JSON at 20 results


def normalized_query(q: str) -> str:
    """The query as the parser reads it: runs of whitespace are one separator."""
    return " ".join(q.split())


class ResultCache:
    """A small thread-safe LRU of search answers."""

    def __init__(self, size: int = RESULT_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
