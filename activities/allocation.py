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
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from infra.database import as_utc, insert_for, write_transaction
from models.allocation import (
    URGENCY_RANK,
    PractitionerRoom,
    WaitingReferral,
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
from models.referral import Stage, Urgency
from models.tables import CaseloadRow, PractitionerRow, ReferralRow

log = structlog.get_logger()

_WAITING = and_(ReferralRow.stage == Stage.WAITING.value, ReferralRow.held.is_(False))
_NOT_BEING_ALLOCATED = ~exists().where(
    CaseloadRow.ref == ReferralRow.ref, CaseloadRow.ended_at.is_(None)
)


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


async def practitioner_rooms(
    session: AsyncSession, *, lock: bool = False
) -> list[PractitionerRoom]:
    """Every practitioner with their capacity and active caseload (locked when deciding)."""
    query = select(PractitionerRow).order_by(PractitionerRow.id)
    if lock and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    practitioners = (await session.scalars(query)).all()
    counts = dict(
        (
            await session.execute(
                select(CaseloadRow.practitioner_id, func.count())
                .where(CaseloadRow.ended_at.is_(None))
                .group_by(CaseloadRow.practitioner_id)
            )
        ).all()
    )
    return [
        PractitionerRoom(
            id=p.id, capacity=p.capacity, caseload=counts.get(p.id, 0), active=p.active
        )
        for p in practitioners
    ]


async def head_of_waiting_list(
    session: AsyncSession, rooms: list[PractitionerRoom]
) -> list[WaitingReferral]:
    """Just the part of the waiting list the rules can act on now: returning clients of
    practitioners with room, and as many new referrals, in allocation order, as there are
    free places. Read off ``ix_referrals_queue``, so 50 000 waiting cost no more than 50."""
    with_room = [r.id for r in rooms if r.free > 0]
    free = sum(r.free for r in rooms)
    if free == 0:
        return []
    columns = (
        ReferralRow.ref,
        ReferralRow.urgency,
        ReferralRow.received_at,
        ReferralRow.waiting_since,
        ReferralRow.returning_to,
    )
    returning = (
        await session.execute(
            select(*columns).where(
                _WAITING, ReferralRow.returning_to.in_(with_room), _NOT_BEING_ALLOCATED
            )
        )
    ).all()
    new = (
        await session.execute(
            select(*columns)
            .where(_WAITING, ReferralRow.returning_to.is_(None), _NOT_BEING_ALLOCATED)
            .order_by(ReferralRow.urgency_rank, ReferralRow.received_at, ReferralRow.ref)
            .limit(free)
        )
    ).all()
    return [
        WaitingReferral(
            ref=row.ref,
            urgency=Urgency(row.urgency),
            received_at=as_utc(row.received_at),
            waiting_since=as_utc(row.waiting_since or row.received_at),
            returning_to=row.returning_to,
        )
        for row in [*returning, *new]
    ]


async def queue_position(session: AsyncSession, ref: str) -> tuple[int, int]:
    """(position, total) of a referral on the waiting list, in allocation order.

    Returning clients stand first (for their own practitioner); new referrals follow in
    ``allocation_order_key`` order. A referral not (yet) waiting is placed where it would
    stand and counted in the total; one unknown to the read model goes to the back.
    """
    waiting = ReferralRow.stage == Stage.WAITING.value
    total = (await session.execute(select(func.count()).where(waiting))).scalar_one()
    mine = (
        await session.execute(
            select(
                ReferralRow.stage,
                ReferralRow.urgency,
                ReferralRow.received_at,
                ReferralRow.waiting_since,
                ReferralRow.returning_to,
            ).where(ReferralRow.ref == ref)
        )
    ).one_or_none()
    if mine is None:
        return total + 1, total + 1
    if mine.stage != Stage.WAITING.value:
        total += 1
    if mine.returning_to is not None:
        since = mine.waiting_since or mine.received_at
        ahead_filter = and_(
            ReferralRow.returning_to == mine.returning_to,
            or_(
                ReferralRow.waiting_since < since,
                and_(ReferralRow.waiting_since == since, ReferralRow.ref < ref),
            ),
        )
    else:
        rank = URGENCY_RANK[Urgency(mine.urgency)]
        ahead_filter = or_(
            ReferralRow.returning_to.is_not(None),
            ReferralRow.urgency_rank < rank,
            and_(ReferralRow.urgency_rank == rank, ReferralRow.received_at < mine.received_at),
            and_(
                ReferralRow.urgency_rank == rank,
                ReferralRow.received_at == mine.received_at,
                ReferralRow.ref < ref,
            ),
        )
    ahead = (
        await session.execute(
            select(func.count()).where(waiting, ReferralRow.ref != ref, ahead_filter)
        )
    ).scalar_one()
    return ahead + 1, total


async def _next_episodes(session: AsyncSession, refs: list[str]) -> dict[str, int]:
    if not refs:
        return {}
    rows = await session.execute(
        select(ReferralRow.ref, ReferralRow.episode_number).where(ReferralRow.ref.in_(refs))
    )
    return {ref: episode + 1 for ref, episode in rows.all()}
