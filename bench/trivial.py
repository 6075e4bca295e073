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
