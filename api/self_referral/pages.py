"""``GET /refer-yourself`` shows the form; ``POST /refer-yourself`` checks it and, when it is
a person's and valid, starts the referral; then ``/refer-yourself/sent`` thanks them. The
thanks are the same whether or not the person is known to the service, and whether or not
the form looked automated."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.client_links.web import TEXT, PublicRoute, form_body, render
from api.context import get_context
from api.dashboard.state import get_state
from api.dashboard.web import Form, PageError, read_form, same_origin
from api.form_errors import form_errors
from api.problems import ProblemError
from models.referral import ReferralEntry, Urgency
from models.self_referral import MAX_FORM_AGE, SELF_REFERRAL, FormCheck, check_form
from services.self_referrals import submit_self_referral

router = APIRouter(route_class=PublicRoute)
log = structlog.get_logger("harbour.pages")

PATH = "/refer-yourself"
_PURPOSE = "self-referral-form"
HONEYPOT = "website"
_FIELDS: dict[tuple[str, ...], str] = {
    ("client", "name"): "name",
    ("client", "email"): "email",
    ("client", "phone"): "phone",
    ("client", "channels"): "channels-email",
    ("client", "preferred_channel"): "preferred-email",
    ("client",): "email",
    ("reason",): "help_with",
    ("consent",): "consent",
}
_LABELS = {
    "name": "Your name",
    "email": "Your email address",
    "phone": "Your mobile phone number",
    "channels-email": "How we may contact you",
    "preferred-email": "How you would like us to contact you first",
    "help_with": "What you would like help with",
    "consent": "Agreement",
}
_BUSY = (
    "Many forms have been sent from here in the last few minutes. What you wrote is kept "
    "below: please wait a few minutes, then press the button again."
)
_AGAIN = {
    FormCheck.TOO_QUICK: "Please check your answers, then press the button again.",
    FormCheck.EXPIRED: "This form was open for a long time. Please check it and send it again.",
}


def _started(request: Request) -> str:
    """A signed stamp: when the form was shown, and the form's one-time id."""
    return get_state(request).signer.sign(
        _PURPOSE, {"t": time.time(), "id": secrets.token_urlsafe(16)}
    )


def _stamp(request: Request, value: str) -> tuple[float | None, str | None]:
    """(seconds since the form was shown, the form's id), or (None, None) when the stamp is
    missing, altered or too old."""
    payload = get_state(request).signer.unsign(_PURPOSE, value, int(MAX_FORM_AGE.total_seconds()))
    if payload is None:
        return None, None
    shown, form_id = payload.get("t"), payload.get("id")
    if not isinstance(shown, int | float) or not isinstance(form_id, str):
        return None, None
    return time.time() - shown, form_id


def _page(
    request: Request,
    values: dict[str, Any],
    errors: list[tuple[str, str]],
    notice: str | None = None,
    status: int = 200,
) -> Response:
    response = render(
        request,
        "self_referral.html",
        values=values,
        errors=errors,
        error_for=dict(errors),
        started=_started(request),
        notice=notice,
        honeypot=HONEYPOT,
    )
    response.status_code = status
    return response


@router.get(PATH)
async def self_referral_form(request: Request) -> Response:
    """The form."""
    return _page(request, {}, [])


def _entry(form: Form, team_email: str) -> dict[str, Any]:
    channels = form.all("channels")
    return {
        "client": {
            "name": form.get("name"),
            "email": form.optional("email"),
            "phone": form.optional("phone"),
            "may_contact": True,
            "channels": channels or None,
            "preferred_channel": form.get("preferred_channel") or None,
        },
        # Letters to "the referrer" of a self-referral go to the team: the person gets the
        # client's letters on the channels they chose.
        "referrer": {"organisation": SELF_REFERRAL, "name": SELF_REFERRAL, "email": team_email},
        "consent": form.get("consent") == "yes",
        "urgency": Urgency.ROUTINE.value,
        "reason": form.get("help_with"),
    }


def _address_key(request: Request, pseudonym_key: bytes) -> str:
    """The rate limit's key for the sender's address: a keyed hash, not the address."""
    host = request.client.host if request.client else "unknown"
    return hmac.new(pseudonym_key, b"self-referral:" + host.encode(), hashlib.sha256).hexdigest()


@router.post(
    PATH,
    openapi_extra=form_body(
        started=TEXT,
        name=TEXT,
        email=TEXT,
        phone=TEXT,
        channels={"type": "string", "enum": ["email", "sms"]},
        preferred_channel={"type": "string", "enum": ["", "email", "sms"]},
        help_with=TEXT,
        website=TEXT,
        consent={"type": "string", "enum": ["yes", ""]},
    ),
)
async def self_referral(request: Request) -> Response:
    """Check and take the form."""
    form = await read_form(request)
    if not same_origin(request):
        raise PageError(403, "Please try again", "Reload the page and send the form again.")
    context = get_context(request)
    values = {name: form.get(name) for name in form.fields} | {"channels": form.all("channels")}
    values.pop(HONEYPOT, None)
    seconds, form_id = _stamp(request, form.get("started"))
    verdict = check_form(form.get(HONEYPOT), seconds)
    if verdict is FormCheck.AUTOMATED:
        # Counted like a real one: a script learns nothing from the limit either.
        await context.self_referral_limiter.check(_address_key(request, context.pseudonym_key))
        log.info("self-referral ignored", reason="honeypot")
        return RedirectResponse(f"{PATH}/sent", status_code=303)
    if verdict is not FormCheck.PERSON or form_id is None:
        return _page(request, values, [], _AGAIN.get(verdict), 422)
    try:
        entry = ReferralEntry.model_validate(_entry(form, context.settings.coordinators_email))
    except ValidationError as error:
        errors = [
            (field, "Tick the box to say you agree" if field == "consent" else message)
            for field, message in form_errors(error, _FIELDS, _LABELS, fallback="help_with")
        ]
        return _page(request, values, errors, None, 422)
    # Only forms that would start a referral count: a person correcting a mistake does not.
    try:
        await context.self_referral_limiter.check(_address_key(request, context.pseudonym_key))
    except ProblemError as limited:
        # The form again with what they wrote (a shared connection may meet the limit too).
        response = _page(request, values, [], _BUSY, 429)
        response.headers.update(limited.headers or {})
        return response
    await submit_self_referral(
        context.client,
        context.pseudonym_key,
        entry,
        form_id,
        context.settings.effective_policy(),
        task_queue=context.settings.task_queue,
    )
    return RedirectResponse(f"{PATH}/sent", status_code=303)


@router.get(f"{PATH}/sent")
async def sent(request: Request) -> Response:
    """The same thanks for everyone."""
    return render(request, "self_referral_sent.html")
