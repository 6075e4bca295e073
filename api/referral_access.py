"""Who may see which referral, and what a referrer sees of it: the one place the API's routes
(``api.routes.referrals``) and the referrers' own pages (``api.portal``) decide it.

A coordinator sees every referral, a referrer its own organisation's, a practitioner their
caseload's. A referral the caller may not see is a 404, exactly like one that does not exist,
after the same lookups (``check_access``). Workflow queries are bounded (``in_time``): a 503
when the workflow does not answer in time (e.g. no worker is running).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from api.auth import Principal, Role
from api.context import ApiContext
from api.problems import ProblemError, not_found
from api.schemas import ReferrerReferral
from models.referral import ReferralView, Stage, TimelineEvent
from readmodel.referrals import referral_summary
from services import referrals
from services.worker_presence import WorkerUnavailable

T = TypeVar("T")

# What a referrer sees of the timeline: milestones, and of their detail only these codes.
REFERRER_EVENTS = frozenset(
    {
        "received",
        "information_requested",
        "information_received",
        "accepted",
        "declined",
        "allocated",
        "discharged",
        "closed",
    }
)
REFERRER_DETAIL = frozenset({"decline_reason", "reason", "episode"})


def may_see(caller: Principal, organisation: str | None, practitioner_id: str | None) -> bool:
    """A coordinator sees every referral; a referrer its organisation's; a practitioner
    their caseload's (the referral's practitioner is them)."""
    if caller.role == Role.COORDINATOR:
        return True
    if caller.role == Role.REFERRER:
        return organisation is not None and organisation == caller.organisation
    if caller.role == Role.PRACTITIONER:
        return practitioner_id is not None and practitioner_id == caller.practitioner_id
    return False


async def in_time(context: ApiContext, query: Callable[[], Awaitable[T]]) -> T:
    """A workflow query, bounded: 503 at once when the server says no worker runs, or when
    it does not answer in time."""
    try:
        return await context.ask(query)
    except WorkerUnavailable:
        raise ProblemError(
            503,
            "unavailable",
            "no Harbour worker is running to read the referral's state; try again once one is",
            headers={"Retry-After": "30"},
        ) from None
    except TimeoutError:
        raise ProblemError(
            503,
            "unavailable",
            "the referral's state did not come back in time; try again shortly",
            headers={"Retry-After": "5"},
        ) from None


async def referral_state(context: ApiContext, ref: str) -> ReferralView:
    """The workflow's ``state`` query; ``referrals.NotFound`` when there is no such
    referral, 503 when it does not answer in time."""
    return await in_time(context, lambda: referrals.read(context.client, ref))


async def check_access(context: ApiContext, caller: Principal, ref: str) -> ReferralView | None:
    """404 unless ``caller`` may see ``ref`` (a coordinator sees every referral).

    For anyone else the answer takes the same two lookups whether the referral does not exist
    or belongs to someone else: its read-model row, and whether Temporal has its workflow (a
    server-side lookup no worker takes part in). The workflow itself — slower to answer, and
    only for one that exists — is asked only once the caller may see the referral, or when
    it is too new for the read model (its state is then returned, so as not to ask twice).
    """
    if caller.role == Role.COORDINATOR:
        return None
    async with context.session_factory() as session:
        row = await referral_summary(session, ref)
    exists = await referrals.exists(context.client, ref)
    view: ReferralView | None = None
    organisation: str | None = None
    practitioner_id: str | None = None
    if row is not None:
        organisation, practitioner_id = row.referrer_organisation, row.practitioner_id
    elif exists:
        # Just submitted: the workflow has not recorded it in the read model yet.
        try:
            view = await referral_state(context, ref)
        except referrals.NotFound:
            raise not_found() from None
        organisation, practitioner_id = view.referrer_organisation, view.practitioner_id
    if not exists or not may_see(caller, organisation, practitioner_id):
        raise not_found()
    return view


async def open_question(context: ApiContext, ref: str) -> str | None:
    """The triage question waiting for the referrer's answer (bounded like
    ``referral_state``)."""
    return await in_time(context, lambda: referrals.open_question(context.client, ref))


def referrer_view(
    view: ReferralView, timeline: list[TimelineEvent], question: str | None = None
) -> ReferrerReferral:
    """What a referrer sees of a referral: its stage and milestones, of their detail only the
    codes in ``REFERRER_DETAIL``, and the coordinator's question while one waits."""
    return ReferrerReferral(
        ref=view.ref,
        stage=view.stage,
        urgency=view.urgency,
        received_at=view.received_at,
        awaiting_information=view.stage == Stage.INFO_REQUESTED,
        question=question if view.stage == Stage.INFO_REQUESTED else None,
        episode_number=view.episode_number,
        closed_reason=view.closed_reason,
        timeline=[
            event.model_copy(
                update={"detail": {k: v for k, v in event.detail.items() if k in REFERRER_DETAIL}}
            )
            for event in timeline
            if event.kind in REFERRER_EVENTS
        ],
    )
