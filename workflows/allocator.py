"""AllocatorWorkflow: one per task queue, allocating waiting referrals whenever capacity frees
or someone joins the list.

It is woken by a signal (coalesced: many wake-ups while it works mean one more round), asks
the database activity to decide and reserve every allocation capacity allows (the rules are
``models/allocation.py``), and tells each referral's workflow by a durable signal. Decisions
are made one round at a time, by one workflow, so two rounds can never race; the reservation
under a database lock keeps manual allocations from racing it either. See
docs/allocation.md for why this design.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from models.actions import AllocationOffer
    from models.records import (
        PLAN_ALLOCATIONS,
        RELEASE_CASELOAD,
        AllocatorInput,
        CaseloadRelease,
        PlannedAllocation,
        PlanRequest,
    )
    from workflows.referral import ReferralWorkflow, workflow_id

ACTIVITY_TIMEOUT = timedelta(seconds=60)
ACTIVITY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
ROUNDS_BEFORE_CONTINUE_AS_NEW = 500


@workflow.defn
class AllocatorWorkflow:
    """Decides allocations, one round at a time."""

    @workflow.init
    def __init__(self, input: AllocatorInput) -> None:
        self._wake = input.pending_wake
        self._rounds = 0
        self._allocated = 0

    @workflow.signal
    def wake(self, reason: str) -> None:
        """Capacity may have freed or someone joined the list: look again."""
        self._wake = True

    @workflow.query
    def allocated(self) -> int:
        """How many allocations this run has made (for tests and the curious)."""
        return self._allocated

    @workflow.run
    async def run(self, input: AllocatorInput) -> None:
        """Wait to be woken; allocate; repeat for ever (continuing-as-new to stay small)."""
        while True:
            try:
                await workflow.wait_condition(lambda: self._wake, timeout=input.sweep_every)
            except TimeoutError:
                pass
            self._wake = False
            self._rounds += 1
            planned = await workflow.execute_activity(
                PLAN_ALLOCATIONS,
                PlanRequest(at=workflow.now()),
                result_type=list[PlannedAllocation],
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            for allocation in planned:
                await self._offer(allocation)
            if (
                self._rounds >= ROUNDS_BEFORE_CONTINUE_AS_NEW
                or workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    AllocatorInput(sweep_every=input.sweep_every, pending_wake=self._wake)
                )

    async def _offer(self, allocation: PlannedAllocation) -> None:
        offer = AllocationOffer(
            practitioner_id=allocation.practitioner_id,
            episode=allocation.episode,
            reason=allocation.reason,
        )
        handle = workflow.get_external_workflow_handle(workflow_id(allocation.ref))
        try:
            await handle.signal(ReferralWorkflow.allocation_offered, offer)
            self._allocated += 1
        except FailureError:
            # The referral's workflow has ended since the decision: free the place again.
            await workflow.execute_activity(
                RELEASE_CASELOAD,
                CaseloadRelease(
                    ref=allocation.ref,
                    episode=allocation.episode,
                    at=workflow.now(),
                    practitioner_id=allocation.practitioner_id,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            self._wake = True
