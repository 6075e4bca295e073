"""The waiting list, in allocation order, with waits, honest estimates and flags.

Read from the read model in one query: every waiting referral is numbered in allocation order
(a window function), then filtered and paged by that position — so a referral's position is
its place on the whole list whatever the filters.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import ColumnElement, case, func, select

from activities.database import as_utc
from api.auth import Principal, Role, require
from api.context import ApiContext, get_context
from api.problems import responses
from api.schemas import QueryBool, QueryInt, WaitingListPage, WaitingReferral
from models.referral import Stage, Urgency
from models.tables import CaseloadRow, ReferralRow
from models.waiting_list import ALLOCATION_WINDOW_WEEKS, estimate_wait_weeks

router = APIRouter(prefix="/v1/waiting-list", tags=["waiting list"])

MAX_PAGE = 500


def _allocation_order_key() -> tuple[ColumnElement[Any], ...]:
    """The waiting list's order as SQL sort keys, the same order the allocator uses
    (``models.allocation``): returning clients first, in the order they asked to come back
    (``returning_order_key``: waiting since, then reference); then new referrals by
    ``allocation_order_key``: urgency rank (urgent, soon, routine), the time the referral was
    received, then the reference.

    TODO(issue 3): the rule's single home is ``models/allocation.py``; the SQL form of it
    belongs beside it (``activities.allocation`` and ``queue_position`` spell it out too) —
    switch this helper over when it moves there.
    """
    returning = ReferralRow.returning_to.is_not(None)
    return (
        case((returning, 0), else_=1),
        case((returning, ReferralRow.waiting_since), else_=None),
        case((returning, None), else_=ReferralRow.urgency_rank),
        case((returning, None), else_=ReferralRow.received_at),
        ReferralRow.ref,
    )


@router.get(
    "",
    response_model=WaitingListPage,
    summary="The waiting list, in allocation order (coordinators)",
    responses=responses(401, 403, 422),
)
async def waiting_list(
    context: Annotated[ApiContext, Depends(get_context)],
    caller: Annotated[Principal, require(Role.COORDINATOR)],
    breach: QueryBool | None = None,
    validation: Annotated[
        QueryBool | None, Query(description="only those in (or out of) the validation queue")
    ] = None,
    held: Annotated[
        QueryBool | None, Query(description="only held (or not held) referrals")
    ] = None,
    urgency: Urgency | None = None,
    limit: Annotated[QueryInt, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[
        str | None, Query(pattern=r"^p[0-9]{1,9}$", description="from next_cursor")
    ] = None,
) -> WaitingListPage:
    """Waiting referrals in the order they will be allocated: position, days waited since
    the referral (the waiting standard's clock), an estimated wait as a range of weeks (none
    until the service has allocated anyone recently), returning, hold, breach and validation
    flags. Filters keep each referral's position on the whole list."""
    after = int(cursor[1:]) if cursor else 0
    waiting = ReferralRow.stage == Stage.WAITING.value
    numbered = (
        select(
            ReferralRow.ref,
            ReferralRow.urgency,
            ReferralRow.referrer_organisation,
            ReferralRow.received_at,
            ReferralRow.waiting_since,
            ReferralRow.breach,
            ReferralRow.in_validation_queue,
            ReferralRow.withdrawal_pending,
            ReferralRow.returning_to,
            ReferralRow.held,
            ReferralRow.hold_reason,
            func.row_number().over(order_by=_allocation_order_key()).label("position"),
        )
        .where(waiting)
        .subquery()
    )
    query = select(numbered).where(numbered.c.position > after)
    if breach is not None:
        query = query.where(numbered.c.breach.is_(breach))
    if validation is not None:
        query = query.where(numbered.c.in_validation_queue.is_(validation))
    if held is not None:
        query = query.where(numbered.c.held.is_(held))
    if urgency is not None:
        query = query.where(numbered.c.urgency == urgency.value)
    query = query.order_by(numbered.c.position).limit(limit + 1)

    now = datetime.now(UTC)
    window_start = now - timedelta(weeks=ALLOCATION_WINDOW_WEEKS)
    async with context.session_factory() as session:
        rows = (await session.execute(query)).all()
        total = (
            await session.execute(select(func.count()).select_from(ReferralRow).where(waiting))
        ).scalar_one()
        allocations = (
            await session.execute(
                select(func.count())
                .select_from(CaseloadRow)
                .where(CaseloadRow.started_at > window_start, CaseloadRow.started_at <= now)
            )
        ).scalar_one()

    items = []
    for row in rows[:limit]:
        low, high = estimate_wait_weeks(row.position, allocations, ALLOCATION_WINDOW_WEEKS)
        received_at = as_utc(row.received_at)
        items.append(
            WaitingReferral(
                position=row.position,
                ref=row.ref,
                urgency=Urgency(row.urgency),
                referrer_organisation=row.referrer_organisation,
                received_at=received_at,
                waiting_since=None if row.waiting_since is None else as_utc(row.waiting_since),
                days_waited=max(0, (now - received_at).days),
                estimate_weeks_low=low,
                estimate_weeks_high=high,
                returning_to=row.returning_to,
                held=row.held,
                hold_reason=row.hold_reason,
                breach=row.breach,
                in_validation_queue=row.in_validation_queue,
                withdrawal_pending=row.withdrawal_pending,
            )
        )
    next_cursor = f"p{items[-1].position}" if len(rows) > limit else None
    return WaitingListPage(
        total_waiting=total,
        allocations_recent=allocations,
        window_weeks=ALLOCATION_WINDOW_WEEKS,
        items=items,
        next_cursor=next_cursor,
    )
