"""Service reports (coordinators): waiting times, referrers, anonymised outcomes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.auth import Principal, Role, require
from api.context import ApiContext, get_context
from api.problems import responses
from api.schemas import QueryDate
from models.reports import OutcomesReport, ReferrerReport, WaitingTimesReport
from readmodel import reports

router = APIRouter(prefix="/v1/reports", tags=["reports"])

Context = Annotated[ApiContext, Depends(get_context)]
Coordinator = Annotated[Principal, require(Role.COORDINATOR)]


@router.get(
    "/waiting-times",
    response_model=WaitingTimesReport,
    summary="Waits from referral to first session: median, 90th percentile, breaches",
    responses=responses(401, 403, 422),
)
async def waiting_times(
    context: Context,
    caller: Coordinator,
    received_from: QueryDate | None = None,
    received_to: QueryDate | None = None,
) -> WaitingTimesReport:
    """Waits of the referrals received in the period (whole days, UTC), against the
    service's waiting standard (4 weeks by default): those already seen, and those still
    waiting (their wait so far)."""
    async with context.session_factory() as session:
        return await reports.waiting_times(
            session,
            context.settings.effective_policy().waiting_standard,
            await context.clock(),
            received_from=received_from,
            received_to=received_to,
        )


@router.get(
    "/referrers",
    response_model=list[ReferrerReport],
    summary="Referrals by referrer organisation, with acceptance and decline reasons",
    responses=responses(401, 403),
)
async def referrers(context: Context, caller: Coordinator) -> list[ReferrerReport]:
    """What each organisation referred and what became of it, so declines can be fed back."""
    async with context.session_factory() as session:
        return await reports.referrers(session)


@router.get(
    "/outcomes",
    response_model=OutcomesReport,
    summary="Anonymised outcomes by month (never per practitioner)",
    responses=responses(401, 403),
)
async def outcomes(context: Context, caller: Coordinator) -> OutcomesReport:
    """ReQoL-10 change, recovery, sessions attended, discharge reasons and liaison, for the
    service as a whole."""
    async with context.session_factory() as session:
        return await reports.outcomes(session)
