"""Referrals: intake, the list, one referral's state and timeline, and every staff action.

Each action is one of the referral workflow's updates (``services.referrals.act``): the
workflow's validator decides whether it fits the referral now, and a rejection is a 409 with
its reason. Who may act is decided here first: a referrer on its own organisation's referrals,
a practitioner on their caseload, a coordinator on any. A referral the caller may not see is
a 404, exactly like one that does not exist, after the same lookups (the rules are
``api.referral_access``'s, shared with the referrers' own pages). Every view of a referral is
recorded (``services.read_audit``), and coordinators can list who has looked
(``/{ref}/views``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from api.auth import Principal, Role, require
from api.context import ApiContext, get_context
from api.idempotency import already_claimed, submit_referral
from api.problems import FieldError, ProblemError, invalid_cursor, not_found, responses
from api.referral_access import (
    check_access,
    may_see,
    open_question,
    referral_state,
    referrer_view,
)
from api.schemas import (
    ID_PATTERN,
    AllocationBody,
    BookingBody,
    ClosureBody,
    DischargeBody,
    ExtensionBody,
    HoldBody,
    InformationBody,
    QueryBool,
    ReferralAccepted,
    ReferralIntake,
    ReferralPage,
    ReferrerReferral,
    ReqolBody,
    SessionRecordBody,
    TriageBody,
    ValidationBody,
    ValidationDecision,
    query_int,
)
from models.actions import (
    Allocation,
    Closure,
    Discharge,
    Extension,
    Hold,
    HoldRelease,
    InformationAnswer,
    Removal,
    ReqolSubmission,
    SessionBooking,
    SessionRecord,
    TriageDecision,
    WithdrawalConfirmation,
)
from models.read_audit import AccessChannel, ReferralAccessLog
from models.referral import (
    REFERENCE_PATTERN,
    ClientDetails,
    ReferralSubmission,
    ReferralView,
    ReferrerDetails,
    Stage,
)
from readmodel.cursors import REFERRAL_CURSOR, InvalidCursor
from readmodel.read_audit import accesses
from readmodel.referrals import ReferralFilters, referral_exists, referral_list
from readmodel.timeline import get_timeline
from readmodel.waiting_list import with_current_standing
from services import read_audit

router = APIRouter(prefix="/v1/referrals", tags=["referrals"])

RefPath = Annotated[
    str, Path(pattern=REFERENCE_PATTERN, description="the referral's reference, e.g. R7K2M9QX4PT")
]
MAX_PAGE = 200

Coordinator = Annotated[Principal, require(Role.COORDINATOR)]
Practitioner = Annotated[Principal, require(Role.PRACTITIONER)]
Referrer = Annotated[Principal, require(Role.REFERRER)]
Reader = Annotated[Principal, require(Role.COORDINATOR, Role.REFERRER, Role.PRACTITIONER)]
Context = Annotated[ApiContext, Depends(get_context)]


# ---------------------------------------------------------------------------- intake


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[\x21-\x7e]{1,200}$",
        description="makes a retried submission return the same referral (the same key "
        "with a different referral is a 422)",
    ),
]


async def _intake_rate(
    caller: Referrer, context: Context, idempotency_key: IdempotencyKey = None
) -> Principal:
    # A repeat of a key already used starts nothing: it is answered, not counted.
    if not await already_claimed(context, caller.key_id, idempotency_key):
        await context.intake_limiter.check(caller.key_id)
    return caller


@router.post(
    "",
    status_code=202,
    response_model=ReferralAccepted,
    summary="Refer someone (referrers)",
    responses={
        202: {
            "headers": {
                "Location": {"description": "the status link", "schema": {"type": "string"}}
            }
        },
        **responses(401, 403, 422, 429, 503),
    },
)
async def submit(
    body: ReferralIntake,
    response: Response,
    context: Context,
    caller: Annotated[Principal, Depends(_intake_rate)],
    idempotency_key: IdempotencyKey = None,
) -> ReferralAccepted:
    """Submit a referral. Answers 202 once it is durable (its workflow has started), with the
    reference and a status link. The referrer organisation is the API key's: a body naming
    another organisation is refused (422), never re-labelled. Consent is required."""
    organisation = caller.organisation
    assert organisation is not None  # every referrer key is bound to one
    if body.referrer.organisation is not None and body.referrer.organisation != organisation:
        raise ProblemError(
            422,
            "validation",
            "the referrer organisation must be the API key's own organisation",
            errors=[
                FieldError(
                    loc=["body", "referrer", "organisation"],
                    msg="differs from the API key's organisation",
                    type="organisation_mismatch",
                )
            ],
        )
    submission = ReferralSubmission(
        client=ClientDetails.model_validate(body.client.model_dump()),
        referrer=ReferrerDetails(
            organisation=organisation, name=body.referrer.name, email=body.referrer.email
        ),
        consent=body.consent,
        urgency=body.urgency,
        reason=body.reason,
    )
    submitted = await submit_referral(context, caller, submission, idempotency_key)
    status_url = f"/v1/referrals/{submitted.ref}"
    response.headers["Location"] = status_url
    return ReferralAccepted(ref=submitted.ref, status_url=status_url, duplicate=submitted.duplicate)


# ---------------------------------------------------------------------------- reading


@router.get(
    "",
    response_model=ReferralPage,
    summary="List referrals from the read model",
    responses=responses(401, 403, 422),
)
async def list_referrals(
    context: Context,
    caller: Reader,
    stage: Stage | None = None,
    practitioner: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    breach: QueryBool | None = None,
    referrer_organisation: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[query_int(1, MAX_PAGE), Query()] = 50,  # type: ignore[valid-type]
    cursor: Annotated[
        str | None, Query(pattern=REFERRAL_CURSOR, description="a next_cursor from a page")
    ] = None,
) -> ReferralPage:
    """Referrals newest first, filtered by stage, practitioner, breach and referrer
    organisation; keyset-paginated. Coordinators see every referral, a referrer its own
    organisation's, a practitioner their caseload's."""
    filters = ReferralFilters(
        stage=stage, practitioner=practitioner, breach=breach, organisation=referrer_organisation
    )
    # What a key may see narrows the filters: an organisation's own, a practitioner's own.
    if caller.role == Role.REFERRER:
        if referrer_organisation not in (None, caller.organisation):
            return ReferralPage(items=[], next_cursor=None)
        filters = replace(filters, organisation=caller.organisation)
    elif caller.role == Role.PRACTITIONER:
        if practitioner not in (None, caller.practitioner_id):
            return ReferralPage(items=[], next_cursor=None)
        filters = replace(filters, practitioner=caller.practitioner_id)
    try:
        async with context.session_factory() as session:
            page = await referral_list(session, filters, limit=limit, cursor=cursor)
    except InvalidCursor:
        raise invalid_cursor() from None
    return ReferralPage(items=page.items, next_cursor=page.next_cursor)


@router.get(
    "/{ref}",
    response_model=ReferralView | ReferrerReferral,
    summary="One referral: its state and whole timeline",
    responses=responses(401, 403, 404, 422, 503),
)
async def get_referral(
    ref: RefPath, context: Context, caller: Reader
) -> ReferralView | ReferrerReferral:
    """The workflow's state (its ``state`` query) with the whole timeline from the database.
    A referrer gets the milestones only (``ReferrerReferral``), and the coordinator's
    question while one waits for their answer. The view is recorded (who, when, through the
    API) before it is answered."""
    view = await check_access(context, caller, ref) or await referral_state(context, ref)
    if not may_see(caller, view.referrer_organisation, view.practitioner_id):
        raise not_found()
    await read_audit.record_access(context.session_factory, ref, AccessChannel.API, caller)
    timeline = await get_timeline(context.session_factory, ref) or view.timeline
    if caller.role == Role.REFERRER:
        question = None
        if view.stage == Stage.INFO_REQUESTED:
            question = await open_question(context, ref)
        return referrer_view(view, timeline, question)
    # One truth: the waiting list's own position and estimate, as every page and letter.
    async with context.session_factory() as session:
        view = await with_current_standing(session, view, await context.clock())
    return view.model_copy(update={"timeline": timeline})


@router.get(
    "/{ref}/views",
    response_model=ReferralAccessLog,
    summary="Who has looked at a referral, newest first (coordinators)",
    responses=responses(401, 403, 404, 422),
)
async def referral_views(
    ref: RefPath,
    context: Context,
    caller: Coordinator,
    limit: Annotated[query_int(1, MAX_PAGE), Query()] = 100,  # type: ignore[valid-type]
) -> ReferralAccessLog:
    """Every recorded view of the referral — through the API, the dashboard or the CLI — with
    who (a staff id and API key id, never the key) and when; ``total`` counts them all."""
    async with context.session_factory() as session:
        if not await referral_exists(session, ref):
            raise not_found()
        return await accesses(session, ref, limit=limit)


# ---------------------------------------------------------------------------- referrer


@router.post(
    "/{ref}/information",
    response_model=ReferrerReferral,
    summary="Answer a triage question (referrers)",
    responses=responses(401, 403, 404, 409, 422, 503),
)
async def answer_information(
    ref: RefPath, body: InformationBody, context: Context, caller: Referrer
) -> ReferrerReferral:
    """The referrer answers the coordinator's question; the referral goes back to triage."""
    view = await _act(
        context, caller, ref, "answer_information", InformationAnswer(answer=body.answer)
    )
    return referrer_view(view, view.timeline)


# ---------------------------------------------------------------------------- coordinator

_COORDINATOR_ERRORS = responses(401, 403, 404, 409, 422, 503)


@router.post(
    "/{ref}/triage",
    response_model=ReferralView,
    summary="Triage: accept, decline or ask the referrer (coordinators)",
    responses=_COORDINATOR_ERRORS,
)
async def triage(
    ref: RefPath, body: TriageBody, context: Context, caller: Coordinator
) -> ReferralView:
    """Accept (the referral joins the waiting list), decline (a coded reason, signposting)
    or ask the referrer a question."""
    decision = TriageDecision(
        outcome=body.outcome,
        coordinator=caller.staff_id,
        decline_reason=body.decline_reason,
        signposting=body.signposting,
        question=body.question,
    )
    return await _act(context, caller, ref, "triage", decision)


@router.post(
    "/{ref}/allocation",
    response_model=ReferralView,
    summary="Allocate to a practitioner (coordinators)",
    responses=_COORDINATOR_ERRORS,
)
async def allocate(
    ref: RefPath, body: AllocationBody, context: Context, caller: Coordinator
) -> ReferralView:
    """Allocate a waiting referral to a practitioner who has caseload room."""
    allocation = Allocation(practitioner_id=body.practitioner_id, coordinator=caller.staff_id)
    return await _act(context, caller, ref, "allocate", allocation)


@router.post(
    "/{ref}/validation",
    response_model=ReferralView,
    summary="Decide on a referral in the validation queue (coordinators)",
    responses=_COORDINATOR_ERRORS,
)
async def validate(
    ref: RefPath, body: ValidationBody, context: Context, caller: Coordinator
) -> ReferralView:
    """A client who has not answered check-ins: ``keep`` them on the list (counters reset),
    or ``remove`` them with a reason (referrer and client are told). Nobody is ever removed
    automatically."""
    if body.decision == ValidationDecision.KEEP:
        return await _act(context, caller, ref, "keep_on_waiting_list", caller.staff_id)
    assert body.reason is not None  # the body's validator insists
    removal = Removal(reason=body.reason, coordinator=caller.staff_id)
    return await _act(context, caller, ref, "remove_from_waiting_list", removal)


@router.post(
    "/{ref}/hold",
    response_model=ReferralView,
    summary="Hold back from automatic allocation (coordinators)",
    responses=_COORDINATOR_ERRORS,
)
async def hold(ref: RefPath, body: HoldBody, context: Context, caller: Coordinator) -> ReferralView:
    """The referral keeps its place (its clock runs on) but is not allocated automatically
    until the hold is released; the reason is on its timeline."""
    return await _act(
        context, caller, ref, "hold", Hold(reason=body.reason, coordinator=caller.staff_id)
    )


@router.delete(
    "/{ref}/hold",
    response_model=ReferralView,
    summary="Release a hold (coordinators)",
    responses=_COORDINATOR_ERRORS,
)
async def release_hold(ref: RefPath, context: Context, caller: Coordinator) -> ReferralView:
    """The referral can be allocated automatically again, in its old place."""
    return await _act(
        context, caller, ref, "release_hold", HoldRelease(coordinator=caller.staff_id)
    )


@router.post(
    "/{ref}/closure",
    response_model=ReferralView,
    summary="Close the referral (coordinators)",
    responses=_COORDINATOR_ERRORS,
)
async def close(
    ref: RefPath, body: ClosureBody, context: Context, caller: Coordinator
) -> ReferralView:
    """Close: moved away, transferred, deceased, duplicate or other."""
    closure = Closure(reason=body.reason, coordinator=caller.staff_id)
    return await _act(context, caller, ref, "close", closure)


@router.post(
    "/{ref}/withdrawal-confirmation",
    response_model=ReferralView,
    summary="Confirm a client's withdrawal (coordinators)",
    responses=_COORDINATOR_ERRORS,
)
async def confirm_withdrawal(ref: RefPath, context: Context, caller: Coordinator) -> ReferralView:
    """Confirm a withdrawal the client asked for (e.g. by phone); no body."""
    confirmation = WithdrawalConfirmation(coordinator=caller.staff_id)
    return await _act(context, caller, ref, "confirm_withdrawal", confirmation)


# ---------------------------------------------------------------------------- practitioner

_PRACTITIONER_ERRORS = responses(401, 403, 404, 409, 422, 503)


@router.post(
    "/{ref}/sessions",
    response_model=ReferralView,
    summary="Book a session (practitioners)",
    responses=_PRACTITIONER_ERRORS,
)
async def book_session(
    ref: RefPath, body: BookingBody, context: Context, caller: Practitioner
) -> ReferralView:
    """Book a session of the episode; the client is reminded before it."""
    booking = SessionBooking(at=body.at, location=body.location)
    return await _act(context, caller, ref, "book_session", booking)


@router.post(
    "/{ref}/session-records",
    response_model=ReferralView,
    summary="Record a session and its liaison actions (practitioners)",
    responses=_PRACTITIONER_ERRORS,
)
async def record_session(
    ref: RefPath, body: SessionRecordBody, context: Context, caller: Practitioner
) -> ReferralView:
    """Attended, did not attend or cancelled; where; liaison done (housing, benefits, …)."""
    record = SessionRecord(
        session_id=body.session_id,
        at=body.at,
        outcome=body.outcome,
        location=body.location,
        liaison=body.liaison,
    )
    return await _act(context, caller, ref, "record_session", record)


@router.post(
    "/{ref}/reqol",
    response_model=ReferralView,
    summary="Record ReQoL-10, or skip it with a reason (practitioners)",
    responses=_PRACTITIONER_ERRORS,
)
async def record_reqol(
    ref: RefPath, body: ReqolBody, context: Context, caller: Practitioner
) -> ReferralView:
    """Baseline or end of the episode: ten responses by item number, or why it was skipped (a
    code; a note about it stays encrypted with the referral, out of the anonymised outcomes)."""
    submission = ReqolSubmission(
        when=body.when,
        responses=body.responses,
        physical_health=body.physical_health,
        skipped_reason=body.skipped_reason,
        skip_note=body.note,
    )
    return await _act(context, caller, ref, "record_reqol", submission)


@router.post(
    "/{ref}/extension",
    response_model=ReferralView,
    summary="Extend the plan of sessions (practitioners)",
    responses=_PRACTITIONER_ERRORS,
)
async def extend(
    ref: RefPath, body: ExtensionBody, context: Context, caller: Practitioner
) -> ReferralView:
    """Plan more sessions (at most the service's maximum, 10 by default)."""
    return await _act(
        context, caller, ref, "extend", Extension(planned_sessions=body.planned_sessions)
    )


@router.post(
    "/{ref}/discharge",
    response_model=ReferralView,
    summary="Discharge (practitioners)",
    responses=_PRACTITIONER_ERRORS,
)
async def discharge(
    ref: RefPath, body: DischargeBody, context: Context, caller: Practitioner
) -> ReferralView:
    """End the episode: a coded reason and a summary. The client can come back by message."""
    return await _act(
        context, caller, ref, "discharge", Discharge(reason=body.reason, summary=body.summary)
    )


# ---------------------------------------------------------------------------- helpers


async def _act(
    context: ApiContext, caller: Principal, ref: str, action: str, arg: object
) -> ReferralView:
    """Check the caller may act on ``ref``, then run the workflow update."""
    await check_access(context, caller, ref)
    return await context.act(ref, action, arg)  # type: ignore[arg-type]
