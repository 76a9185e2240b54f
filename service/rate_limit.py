"""A token bucket per client address, in this process's memory (PAPERSIFT_LLM_RATE_LIMIT_PER_MINUTE).

It limits the requests that would make the language model generate; stored answers are free.
Each service process (uvicorn worker) keeps its own buckets, so N workers allow up to N times the
rate; the daily budget (papersift/llm/budget.py) is the limit shared by all of them. Behind a
reverse proxy, run uvicorn with --proxy-headers so the client's address is the reader's.
"""

from __future__ import annotations

import threading
import time

MAX_CLIENTS = 10_000  # buckets kept; the oldest are dropped past this


class ClientRateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self._buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, at)
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Take a token for `client`: 0 when allowed, else the seconds until one is free."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.pop(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                wait = 0.0
            else:
                self._buckets[client] = (tokens, now)
                wait = (1 - tokens) / self.rate
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.pop(next(iter(self._buckets)))
        return wait
