"""Is a Harbour worker there to run an action? Asked before every staff action, from the API,
the dashboard and the CLI alike, so that none of them waits for ever when the worker is down.

An update sent while no worker polls the task queue would wait until one starts; a query
would too. ``with_worker`` refuses at once when the server says nobody polls, and bounds the
wait otherwise (the time-skipping test server cannot say; a worker that just died is still
listed as a poller for a while).
"""

from __future__ import annotations

import asyncio
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


async def require_worker(client: Client, task_queue: str) -> None:
    """Refuse at once (``WorkerUnavailable``) when the server says no worker polls
    ``task_queue``: a query or update would only wait. The time-skipping test server cannot
    tell, and then this lets the call go on to its bounded wait."""
    if await has_workflow_pollers(client, task_queue) is False:
        raise WorkerUnavailable(task_queue)


async def with_worker(
    client: Client, task_queue: str, wait_seconds: float, call: Callable[[Client], Awaitable[T]]
) -> T:
    """``call(client)`` once a worker is known to poll ``task_queue``, bounded by
    ``wait_seconds``. Raises ``WorkerUnavailable``."""
    await require_worker(client, task_queue)
    try:
        return await asyncio.wait_for(call(client), wait_seconds)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        # A cancelled update surfaces as the SDK's own error rather than TimeoutError.
        raise WorkerUnavailable(task_queue, wait_seconds) from None
