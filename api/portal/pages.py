"""The referrers' own pages (``/referrer``): sign in with the organisation's referrer key,
see the organisation's referrals and their stage, read and answer a triage question, read a
decision, and refer someone through a form.

What a referrer may see and do is decided where the API decides it (``api.referral_access``:
``check_access``, ``referrer_view``), the form is validated by the model the CLI uses
(``models.referral.ReferralEntry``), and intake goes through ``api.idempotency`` with a key
from a hidden field: a double click or a refresh makes one referral.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.auth import Role, authenticate
from api.client_links.web import TEXT, PublicRoute, RedirectTo, form_body, render
from api.context import get_context
from api.dashboard.state import get_state
from api.dashboard.web import Form, PageError, read_form, same_origin
from api.form_errors import form_errors
from api.idempotency import already_claimed, submit_referral
from api.portal import session
from api.portal.session import ReferrerUser
from api.problems import ProblemError
from api.referral_access import (
    check_access,
    in_time,
    open_question,
    referral_state,
    referrer_view,
)
from api.schemas import InformationBody
from models.actions import DeclineReason, InformationAnswer
from models.read_audit import AccessChannel
from models.referral import REFERENCE_PATTERN, ReferralEntry, Stage, Urgency
from readmodel.cursors import InvalidCursor
from readmodel.referrals import ReferralFilters, referral_list
from readmodel.timeline import get_timeline
from services import read_audit, referrals

router = APIRouter(route_class=PublicRoute)
log = structlog.get_logger("harbour.portal")

RefPath = Annotated[str, Path(pattern=REFERENCE_PATTERN)]
LOGIN = "/referrer/login"
_NOT_VALID = "That key was not recognised. Check it and try again."
_NOT_REFERRER = "Only a referrer key can sign in here."
_BUSY = (
    "Your organisation has sent many referrals in the last few minutes. Nothing was sent this "
    "time: please wait a minute, then press the button again. What you wrote is kept below."
)

# Where a validation error's location points on the form.
_FIELDS: dict[tuple[str, ...], str] = {
    ("client", "name"): "client_name",
    ("client", "email"): "client_email",
    ("client", "phone"): "client_phone",
    ("client", "nhs_number"): "client_nhs_number",
    ("client", "channels"): "channels-email",
    ("client", "preferred_channel"): "preferred-email",
    ("client",): "client_email",
    ("referrer", "name"): "referrer_name",
    ("referrer", "email"): "referrer_email",
    ("urgency",): "urgency-routine",
    ("reason",): "reason",
    ("consent",): "consent",
}
_LABELS = {
    "client_name": "Their full name",
    "client_email": "Email address",
    "client_phone": "Mobile phone number",
    "client_nhs_number": "NHS number",
    "channels-email": "How we may contact them",
    "preferred-email": "How they would like us to contact them first",
    "referrer_name": "Your name",
    "referrer_email": "Your work email",
    "urgency-routine": "How soon",
    "reason": "What they would like help with",
    "consent": "Consent",
}
STAGE_WORDS = {
    Stage.RECEIVED: "Received",
    Stage.TRIAGE: "Being looked at",
    Stage.INFO_REQUESTED: "Waiting for your answer",
    Stage.WAITING: "On the waiting list",
    Stage.ALLOCATED: "Has a practitioner",
    Stage.IN_EPISODE: "In sessions",
    Stage.DISCHARGED: "Sessions ended",
    Stage.CLOSED: "Closed",
}
# Why a referral was declined, for the referrer (the same codes the letter explains).
DECLINE_WORDS = {
    DeclineReason.NEEDS_SECONDARY_CARE: "The support needed is best offered by secondary "
    "mental health services.",
    DeclineReason.NEEDS_PRIMARY_CARE_ONLY: "The support needed is best offered through "
    "primary care, such as the GP practice or NHS Talking Therapies.",
    DeclineReason.OUT_OF_AREA: "The address is outside the area the service covers.",
    DeclineReason.ALREADY_SUPPORTED: "Similar support is already in place from another service.",
    DeclineReason.NOT_CONSENTED: "Agreement to the referral could not be confirmed.",
    DeclineReason.OTHER: "It does not fit what the service can offer at the moment.",
}


async def _user(request: Request) -> ReferrerUser:
    user = await session.referrer_user(request, get_state(request).signer, get_context(request))
    if user is None:
        raise _SignIn
    return user


class _SignIn(RedirectTo):
    def __init__(self) -> None:
        super().__init__(LOGIN)


async def _posted(request: Request, user: ReferrerUser) -> Form:
    form = await read_form(request)
    if not same_origin(request) or not session.csrf_valid(
        get_state(request).signer, request, form.get("csrf")
    ):
        raise PageError(403, "Form expired", "Go back, reload the page and try again.")
    return form


def _page(request: Request, template: str, user: ReferrerUser | None, **context: Any) -> Response:
    return render(request, template, user=user, **context)


# ------------------------------------------------------------------------------ sign in


def _login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    """The sign-in form, its token bound to a nonce cookie."""
    state = get_state(request)
    token, new_nonce = session.login_token(request, state.signer)
    response = _page(request, "referrer_login.html", None, error=error, csrf=token)
    response.status_code = status
    if new_nonce is not None:
        session.set_login_nonce(response, request, new_nonce, state.settings.secure_cookie)
    return response


@router.get("/referrer/login")
async def login_form(request: Request) -> Response:
    """The sign-in form."""
    return _login_page(request)


@router.post("/referrer/login", openapi_extra=form_body(csrf=TEXT, api_key=TEXT))
async def login(request: Request) -> Response:
    """Check the key; a referrer's starts a session."""
    form = await read_form(request)
    state = get_state(request)
    if not same_origin(request) or not session.login_token_valid(
        request, state.signer, form.get("csrf")
    ):
        raise PageError(403, "Form expired", "Reload the page and try again.")
    context = get_context(request)
    principal = await authenticate(context.session_factory, form.get("api_key"))
    error = None
    if principal is None:
        error = _NOT_VALID
    elif principal.role != Role.REFERRER or principal.organisation is None:
        error = _NOT_REFERRER
    if error is not None or principal is None:
        log.info("referrer sign-in refused")
        return _login_page(request, error, 401)
    response = RedirectResponse("/referrer", status_code=303)
    await session.start(
        response,
        request,
        state.signer,
        context,
        principal.key_id,
        timedelta(hours=state.settings.session_hours),
        state.settings.secure_cookie,
    )
    session.forget_login_nonce(response, request, state.settings.secure_cookie)
    log.info("referrer sign-in", key_id=principal.key_id)
    return response


@router.post("/referrer/logout", openapi_extra=form_body(csrf=TEXT))
async def logout(request: Request) -> Response:
    """End the session on the server."""
    user = await _user(request)
    await _posted(request, user)
    state = get_state(request)
    response = RedirectResponse(LOGIN, status_code=303)
    await session.end(
        response, request, state.signer, get_context(request), state.settings.secure_cookie
    )
    return response


# ------------------------------------------------------------------------------ reading


# A phone's screenful or three; older ones are a link away ("Older referrals").
LIST_PAGE = 50


@router.get("/referrer")
async def referrals_page(
    request: Request, after: Annotated[str | None, Query(max_length=100)] = None
) -> Response:
    """The organisation's referrals, newest first (the read model: stage, urgency, dates),
    ``LIST_PAGE`` at a time; ``after`` is the cursor the previous page's "Older" link gave."""
    user = await _user(request)
    filters = ReferralFilters(organisation=user.organisation)
    try:
        async with get_context(request).session_factory() as db:
            page = await referral_list(db, filters, limit=LIST_PAGE, cursor=after)
    except InvalidCursor:
        raise PageError(
            404, "Page not found", "That list page does not exist. Go back to your referrals."
        ) from None
    return _page(
        request,
        "referrer_list.html",
        user,
        items=page.items,
        stages=STAGE_WORDS,
        older=page.next_cursor,
        first_page=after is None,
    )


@router.get("/referrer/referrals/{ref}")
async def referral_page(request: Request, ref: RefPath) -> Response:
    """One referral as its referrer sees it: stage, milestones, a question waiting for their
    answer, and the decision with its reason."""
    user = await _user(request)
    return await _referral(request, user, ref)


async def _referral(
    request: Request, user: ReferrerUser, ref: str, error: str | None = None, status: int = 200
) -> Response:
    context = get_context(request)
    # 404 (the API's own answer) for a referral of another organisation, or none.
    view = await check_access(context, user.principal, ref) or await referral_state(context, ref)
    if view.referrer_organisation != user.organisation:
        raise PageError(404, "Not found", "There is no such referral for your organisation.")
    await read_audit.record_access(
        context.session_factory, ref, AccessChannel.PORTAL, user.principal
    )
    timeline = await get_timeline(context.session_factory, ref) or view.timeline
    question = await open_question(context, ref) if view.stage == Stage.INFO_REQUESTED else None
    shown = referrer_view(view, timeline, question)
    decline = next(
        (e.detail.get("decline_reason") for e in shown.timeline if e.kind == "declined"), None
    )
    decline_words = signposting = None
    if decline is not None:
        signposting = await in_time(context, lambda: referrals.signposting(context.client, ref))
        try:
            decline_words = DECLINE_WORDS[DeclineReason(str(decline))]
        except ValueError:
            decline_words = DECLINE_WORDS[DeclineReason.OTHER]
    response = _page(
        request,
        "referrer_referral.html",
        user,
        referral=shown,
        stage_words=STAGE_WORDS[shown.stage],
        decline_words=decline_words,
        signposting=signposting,
        error=error,
    )
    response.status_code = status
    return response


@router.post("/referrer/referrals/{ref}/answer", openapi_extra=form_body(csrf=TEXT, answer=TEXT))
async def answer(request: Request, ref: RefPath) -> Response:
    """Answer the triage question; the referral goes back to triage."""
    user = await _user(request)
    form = await _posted(request, user)
    try:
        body = InformationBody(answer=form.get("answer"))
    except ValidationError:
        return await _referral(
            request, user, ref, "Please write an answer (at most 5000 characters).", 422
        )
    context = get_context(request)
    await check_access(context, user.principal, ref)
    try:
        await context.act(ref, "answer_information", InformationAnswer(answer=body.answer))
    except referrals.ActionRejected:
        return await _referral(
            request, user, ref, "This referral is not waiting for an answer now.", 409
        )
    return RedirectResponse(f"/referrer/referrals/{ref}", status_code=303)


# ------------------------------------------------------------------------------ referring


@router.get("/referrer/refer")
async def refer_form(request: Request) -> Response:
    """The referral form (a fresh idempotency key in a hidden field)."""
    user = await _user(request)
    return _form_page(request, user, {}, [], secrets.token_urlsafe(18))


def _form_page(
    request: Request,
    user: ReferrerUser,
    values: dict[str, Any],
    errors: list[tuple[str, str]],
    idempotency_key: str,
    status: int = 200,
    notice: str | None = None,
) -> Response:
    response = _page(
        request,
        "referrer_form.html",
        user,
        values=values,
        errors=errors,
        error_for=dict(errors),
        idempotency_key=idempotency_key,
        urgencies=[u.value for u in Urgency],
        notice=notice,
    )
    response.status_code = status
    return response


def _entry(form: Form, organisation: str) -> dict[str, Any]:
    """The form's fields as a referral entry (validated by ``ReferralEntry``)."""
    channels = form.all("channels")
    preferred = form.get("preferred_channel")
    return {
        "client": {
            "name": form.get("client_name"),
            "email": form.optional("client_email"),
            "phone": form.optional("client_phone"),
            "nhs_number": form.optional("client_nhs_number"),
            "may_contact": True,
            "channels": channels or None,
            "preferred_channel": preferred or None,
        },
        "referrer": {
            "organisation": organisation,
            "name": form.get("referrer_name"),
            "email": form.get("referrer_email"),
        },
        "consent": form.get("consent") == "yes",
        "urgency": form.get("urgency") or Urgency.ROUTINE.value,
        "reason": form.get("reason"),
    }


@router.post(
    "/referrer/refer",
    openapi_extra=form_body(
        csrf=TEXT,
        idempotency_key=TEXT,
        client_name=TEXT,
        client_email=TEXT,
        client_phone=TEXT,
        client_nhs_number=TEXT,
        channels={"type": "string", "enum": ["email", "sms"]},
        preferred_channel={"type": "string", "enum": ["", "email", "sms"]},
        reason=TEXT,
        urgency={"type": "string", "enum": [u.value for u in Urgency]},
        referrer_name=TEXT,
        referrer_email=TEXT,
        consent={"type": "string", "enum": ["yes", ""]},
    ),
)
async def refer(request: Request) -> Response:
    """Validate; when valid, submit once per idempotency key and show the reference."""
    user = await _user(request)
    form = await _posted(request, user)
    idempotency_key = form.get("idempotency_key")
    if (
        not (16 <= len(idempotency_key) <= 64)
        or not idempotency_key.isascii()
        or not idempotency_key.replace("-", "").replace("_", "").isalnum()
    ):
        raise PageError(400, "Form expired", "Go back, reload the page and try again.")
    values = {name: form.get(name) for name in form.fields} | {"channels": form.all("channels")}
    try:
        entry = ReferralEntry.model_validate(_entry(form, user.organisation))
    except ValidationError as error:
        return _form_page(
            request, user, values, form_errors(error, _FIELDS, _LABELS), idempotency_key, 422
        )
    context = get_context(request)
    try:
        # A double click or a refresh of a form already sent is answered, not counted.
        if not await already_claimed(context, user.principal.key_id, idempotency_key):
            await context.intake_limiter.check(user.principal.key_id)
    except ProblemError as limited:
        # The form again as written, not an error page that loses it.
        response = _form_page(request, user, values, [], idempotency_key, 429, _BUSY)
        response.headers.update(limited.headers or {})
        return response
    submitted = await submit_referral(context, user.principal, entry, idempotency_key)
    return RedirectResponse(f"/referrer/referred/{submitted.ref}", status_code=303)


@router.get("/referrer/referred/{ref}")
async def referred(request: Request, ref: RefPath) -> Response:
    """The reference of the referral just made."""
    user = await _user(request)
    await check_access(get_context(request), user.principal, ref)
    return _page(request, "referrer_referred.html", user, ref=ref)
