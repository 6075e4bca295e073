"""The yardstick workflow for "raw Temporal": returns at once, no activities, no state.

Kept in a module of its own that imports nothing else, so that the sandbox loads it as cheaply
as Temporal's own samples would.
"""

from __future__ import annotations

from temporalio import workflow


@workflow.defn(name="BenchTrivial")
class TrivialWorkflow:
    """Returns its input: one workflow task, then completion."""

    @workflow.run
    async def run(self, n: int) -> int:
        return n


@workflow.defn(name="BenchTrivialUpdates")
class TrivialUpdatesWorkflow:
    """Takes updates until told to stop: the yardstick for an update's round trip."""

    def __init__(self) -> None:
        self._count = 0
        self._done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._done)
        return self._count

    @workflow.update
    async def bump(self, stop: bool) -> int:
        """Count one update; ``stop`` ends the workflow."""
        self._count += 1
        self._done = stop
        return self._count
