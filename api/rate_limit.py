"""Rate limits per API key, counted by the ``limits`` library in a storage of its own.

Each limit allows ``burst`` requests at once and ``per_minute`` sustained: ``burst`` requests
per window of ``60 * burst / per_minute`` seconds, counted over a sliding window (the previous
window's count weighted by how much of it is still in view), so the allowance comes back
gradually, as a token bucket's would, and a burst at the end of one window cannot be followed by
another at the start of the next.

Where the counts live is ``HARBOUR_API_RATE_LIMIT_STORAGE``: ``memory://`` (the default) counts
in this process, so N API processes allow N times the rate; ``redis://host:6379`` or
``memcached://host:11211`` counts in a store that every API process shares, so the limit holds
for the service as a whole. The sliding-window counter is the strategy all three support.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.aio.storage import SlidingWindowCounterSupport, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import SCHEMES, storage_from_string

from api.problems import ProblemError

# The async flavour of each storage: handlers run on the event loop and must not block on Redis.
_ASYNC = "async+"


def rate_limit_storage(uri: str) -> Storage:
    """The storage named by ``uri`` (``memory://``, ``redis://…``, ``memcached://…``)."""
    storage = storage_from_string(uri if uri.startswith(_ASYNC) else _ASYNC + uri)
    assert isinstance(storage, Storage)  # an async+ scheme names an async storage
    return storage


def usable_storage_uri(uri: str) -> bool:
    """Whether ``limits`` has an async storage for ``uri``'s scheme that counts sliding
    windows (memory, Redis and its variants, Memcached). Checked when settings load."""
    scheme, separator, _ = uri.partition("://")
    storage = SCHEMES.get(scheme if scheme.startswith(_ASYNC) else _ASYNC + scheme)
    return (
        bool(separator) and storage is not None and issubclass(storage, SlidingWindowCounterSupport)
    )


class KeyRateLimit:
    """One named limit (``intake``, ``inbound``): ``per_minute`` sustained, ``burst`` at once,
    per API key, counted in ``storage`` (which other limits and processes may share)."""

    def __init__(self, name: str, per_minute: float, burst: int, storage: Storage) -> None:
        window_seconds = max(1, math.ceil(60 * burst / per_minute))
        self._name = name  # part of every counter's key: limits sharing a storage stay apart
        self._item = RateLimitItemPerSecond(burst, window_seconds)
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    async def check(self, key: str) -> None:
        """Count a request for ``key``; raise a 429 problem (with ``Retry-After``) when it is
        over its rate. A refused request is not counted."""
        if await self._limiter.hit(self._item, self._name, key):
            return
        stats = await self._limiter.get_window_stats(self._item, self._name, key)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise ProblemError(
            429,
            "rate_limited",
            "too many requests with this key; slow down",
            headers={"Retry-After": str(wait)},
        )
