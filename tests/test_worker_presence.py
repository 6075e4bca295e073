"""Is a worker there? ``services/worker_presence``: a worker seen polling lately is trusted for
a few seconds (one DescribeTaskQueue per few seconds per process, not one per request); "nobody
polls" is never kept. Against the dev server, which knows its pollers."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import Client

from services.worker_presence import (
    PollerSightings,
    WorkerUnavailable,
    require_worker,
)
from tests.fixtures.temporal import dev_server


class SteppedClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_sighting_is_trusted_for_a_few_seconds_per_task_queue() -> None:
    clock = SteppedClock()
    sightings = PollerSightings(fresh_for=5.0, clock=clock)
    assert not sightings.recent("q")
    sightings.saw("q")
    assert sightings.recent("q") and not sightings.recent("other")
    clock.now += 4.9
    assert sightings.recent("q")
    clock.now += 0.2
    assert not sightings.recent("q")


class CountingClient:
    """The real client's namespace and workflow service, counting DescribeTaskQueue calls
    (what ``has_workflow_pollers`` uses of a client)."""

    def __init__(self, client: Client) -> None:
        self.namespace = client.namespace
        self.workflow_service = self
        self._inner = client.workflow_service
        self.calls = 0

    async def describe_task_queue(self, request: object, **kwargs: object) -> object:
        self.calls += 1
        return await self._inner.describe_task_queue(request, **kwargs)  # type: ignore[arg-type]


async def test_nobody_polling_is_asked_every_time_a_worker_seen_is_not() -> None:
    async with dev_server() as env:
        sightings = PollerSightings(fresh_for=60.0)
        counting = CountingClient(env.client)
        client: Any = counting
        for _ in range(3):
            with pytest.raises(WorkerUnavailable):
                await require_worker(client, "nobody-polls", sightings)
        assert counting.calls == 3  # "nobody" is never kept: a worker starting is seen at once
        sightings.saw("someone-polls")
        await require_worker(client, "someone-polls", sightings)
        assert counting.calls == 3  # seen lately: not asked again
