"""Rate limits per API key: a token bucket each, in this process's memory.

Per process: N API processes allow N times the rate. That is enough to stop one runaway
integration from flooding intake or the webhook; a shared limit would need a shared store.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from api.problems import ProblemError


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``per_minute`` sustained, ``burst`` at once, per key."""

    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        # Handlers run on one event loop, but a lock keeps the bucket right if that changes.
        self._lock = threading.Lock()

    def try_acquire(self, key: str) -> float:
        """Take a token for ``key``: 0.0 if allowed, else the seconds until one is free."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=self._burst, updated=now)
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self._rate

    def check(self, key: str) -> None:
        """Raise a 429 problem (with ``Retry-After``) when ``key`` is over its rate."""
        wait = self.try_acquire(key)
        if wait > 0:
            raise ProblemError(
                429,
                "rate_limited",
                "too many requests with this key; slow down",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
