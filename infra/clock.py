"""What "now" is for a reader: the wall clock, or a test's own (the time-skipping server's)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

Clock = Callable[[], Awaitable[datetime]]


async def wall_clock() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)
