"""The waiting list, in allocation order, with waits, the one wait estimate and flags
(``readmodel.waiting_list`` reads it for the API, the dashboard and the letters alike)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.auth import Principal, Role, require
from api.context import ApiContext, get_context
from api.problems import invalid_cursor, responses
from api.schemas import QueryBool, WaitingListPage, query_int
from models.referral import Urgency
from readmodel.cursors import WAITING_CURSOR, InvalidCursor
from readmodel.waiting_list import WaitingFilters, waiting_page

router = APIRouter(prefix="/v1/waiting-list", tags=["waiting list"])

MAX_PAGE = 500


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
    limit: Annotated[query_int(1, MAX_PAGE), Query()] = 50,  # type: ignore[valid-type]
    cursor: Annotated[
        str | None, Query(pattern=WAITING_CURSOR, description="a next_cursor from a page")
    ] = None,
) -> WaitingListPage:
    """Waiting referrals in the order they will be allocated: position on the whole list,
    days waited since the referral (the waiting standard's clock), an estimated wait as a
    range of weeks (none until the service has allocated anyone recently), and the
    returning, hold, breach and validation flags. Filters keep each referral's position."""
    filters = WaitingFilters(breach=breach, validation=validation, held=held, urgency=urgency)
    try:
        async with context.session_factory() as session:
            page = await waiting_page(
                session, filters, await context.clock(), limit=limit, cursor=cursor
            )
    except InvalidCursor:
        raise invalid_cursor() from None
    return WaitingListPage(
        total_waiting=page.total_waiting,
        allocations_recent=page.estimates.allocations,
        window_weeks=page.estimates.window_weeks,
        items=page.items,
        next_cursor=page.next_cursor,
    )
