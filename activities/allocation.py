"""Automatic allocation against the read model: read the head of the waiting list, apply the
rules of ``models/allocation.py``, and reserve caseload places — in one transaction.

The reservation (a ``caseload`` row for the referral's next episode) is the allocation's
durable record. Capacity is checked under a lock (``SELECT … FOR UPDATE`` on the practitioner
rows on PostgreSQL; SQLite's single write lock via ``BEGIN IMMEDIATE``), so neither this
activity nor a coordinator's manual allocation can exceed a caseload, whatever runs at once.
A waiting referral with an active reservation is "being allocated" and is never picked again.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from infra.database import as_utc, insert_for, write_transaction
from models.allocation import (
    plan_allocations,
)
from models.records import (
    PLAN_ALLOCATIONS,
    WAKE_ALLOCATOR,
    AllocatorInput,
    PlannedAllocation,
    PlanRequest,
    WakeRequest,
    allocator_id,
)
from models.tables import CaseloadRow, ReferralRow
from readmodel.caseloads import practitioner_rooms
from readmodel.waiting_list import head_of_waiting_list

log = structlog.get_logger()


async def wake_allocator(
    client: Client, task_queue: str, reason: str, sweep_every: timedelta | None = None
) -> None:
    """Signal the allocator; start it (signal-with-start) only if it is not running."""
    try:
        await client.get_workflow_handle(allocator_id(task_queue)).signal("wake", reason)
        return
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
    await client.start_workflow(
        "AllocatorWorkflow",
        AllocatorInput(sweep_every=sweep_every),
        id=allocator_id(task_queue),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal="wake",
        start_signal_args=[reason],
    )


class AllocationActivities:
    """The allocator's database work."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        client: Client,
        task_queue: str,
        sweep_every: timedelta | None = None,
    ) -> None:
        self._sessions = session_factory
        self._client = client
        self._task_queue = task_queue
        self._sweep_every = sweep_every

    @activity.defn(name=WAKE_ALLOCATOR)
    async def wake_allocator(self, request: WakeRequest) -> None:
        """Wake (or start) the allocator: someone joined the list or capacity freed."""
        await wake_allocator(self._client, self._task_queue, request.reason, self._sweep_every)

    @activity.defn(name=PLAN_ALLOCATIONS)
    async def plan_allocations(self, request: PlanRequest) -> list[PlannedAllocation]:
        """Decide every allocation capacity allows now and reserve the places.

        Idempotent in effect: a retry after a crash finds the places already reserved (those
        referrals are "being allocated") and decides only what is still open.
        """
        at = as_utc(request.at)
        async with write_transaction(self._sessions) as session:
            rooms = await practitioner_rooms(session, lock=True)
            waiting = await head_of_waiting_list(session, rooms)
            assignments = plan_allocations(waiting, rooms)
            episodes = await _next_episodes(session, [a.ref for a in assignments])
            planned = []
            for assignment in assignments:
                episode = episodes[assignment.ref]
                values = {
                    "ref": assignment.ref,
                    "episode": episode,
                    "practitioner_id": assignment.practitioner_id,
                    "started_at": at,
                    "ended_at": None,
                }
                # A place reserved before and freed (an offer declined) is reopened, not
                # inserted twice; an active row is never touched (it was excluded above).
                upsert = insert_for(session, CaseloadRow).values(**values)
                upsert = upsert.on_conflict_do_update(
                    index_elements=[CaseloadRow.ref, CaseloadRow.episode],
                    set_={k: upsert.excluded[k] for k in ("practitioner_id", "started_at")}
                    | {"ended_at": None},
                    where=CaseloadRow.ended_at.is_not(None),
                )
                await session.execute(upsert)
                planned.append(
                    PlannedAllocation(
                        ref=assignment.ref,
                        practitioner_id=assignment.practitioner_id,
                        episode=episode,
                        reason=assignment.reason,
                    )
                )
        log.info("allocations planned", count=len(planned), waiting_considered=len(waiting))
        return planned


async def _next_episodes(session: AsyncSession, refs: list[str]) -> dict[str, int]:
    if not refs:
        return {}
    rows = await session.execute(
        select(ReferralRow.ref, ReferralRow.episode_number).where(ReferralRow.ref.in_(refs))
    )
    return {ref: episode + 1 for ref, episode in rows.all()}
