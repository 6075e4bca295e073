"""Is a Harbour worker there to run an action? Asked before every staff action, from the API,
the dashboard and the CLI alike, so that none of them waits for ever when the worker is down.

An update sent while no worker polls the task queue would wait until one starts; a query
would too. ``with_worker`` refuses at once when the server says nobody polls, and bounds the
wait otherwise (the time-skipping test server cannot say; a worker that just died is still
listed as a poller for a while).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError

from infra.temporal import has_workflow_pollers

T = TypeVar("T")


class WorkerUnavailable(Exception):
    """No Harbour worker polls the task queue, or none answered in time. The message names the
    task queue and what to do, never what the action was about."""

    def __init__(self, task_queue: str, waited: float | None = None) -> None:
        self.task_queue = task_queue
        self.waited = waited
        if waited is None:
            message = (
                f"no Harbour worker is running (task queue {task_queue!r}): start one with "
                "`make run` (or `python worker.py`), then try again; nothing was changed"
            )
        else:
            message = (
                f"no Harbour worker answered within {waited:g} s (task queue {task_queue!r}): "
                "is `make run` (or `python worker.py`) running? Once one is, check the "
                "referral's state to see whether an action went through before repeating it"
            )
        super().__init__(message)


class PollerSightings:
    """When a worker was last seen polling each task queue, so that a process answering many
    requests asks the server once every ``fresh_for`` seconds rather than once a request. The
    server itself lists a worker that stopped for minutes, so trusting a sighting for a few
    seconds loses nothing (the bounded wait answers either way); "nobody polls" is never
    kept, so a worker that starts is seen at once."""

    def __init__(self, fresh_for: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._fresh_for = fresh_for
        self._clock = clock
        self._seen: dict[str, float] = {}

    def recent(self, task_queue: str) -> bool:
        """Whether a worker was seen polling ``task_queue`` within ``fresh_for`` seconds."""
        seen = self._seen.get(task_queue)
        return seen is not None and self._clock() - seen < self._fresh_for

    def saw(self, task_queue: str) -> None:
        """A worker polls ``task_queue`` now."""
        self._seen[task_queue] = self._clock()


async def require_worker(
    client: Client, task_queue: str, sightings: PollerSightings | None = None
) -> None:
    """Refuse at once (``WorkerUnavailable``) when the server says no worker polls
    ``task_queue``: a query or update would only wait. The time-skipping test server cannot
    tell, and then this lets the call go on to its bounded wait. With ``sightings``, a worker
    seen lately is not asked about again."""
    if sightings is not None and sightings.recent(task_queue):
        return
    polled = await has_workflow_pollers(client, task_queue)
    if polled is False:
        raise WorkerUnavailable(task_queue)
    if polled and sightings is not None:
        sightings.saw(task_queue)


async def with_worker(
    client: Client,
    task_queue: str,
    wait_seconds: float,
    call: Callable[[Client], Awaitable[T]],
    sightings: PollerSightings | None = None,
) -> T:
    """``call(client)`` once a worker is known to poll ``task_queue``, bounded by
    ``wait_seconds``. Raises ``WorkerUnavailable``."""
    await require_worker(client, task_queue, sightings)
    try:
        return await asyncio.wait_for(call(client), wait_seconds)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        # A cancelled update surfaces as the SDK's own error rather than TimeoutError.
        raise WorkerUnavailable(task_queue, wait_seconds) from None
