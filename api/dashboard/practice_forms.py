"""A practitioner's forms (POST): book a session, record one, record or skip ReQoL-10,
extend the plan, discharge with a summary.

Each is the workflow update the HTTP API and the CLI use (``services.referrals`` through
``ApiContext.act``), checked first against the API's own body model (the same rules for what
is typed) and then by the workflow's validator, whose reason is shown when it refuses. Only the
practitioner's own clients: anyone else's reference is a 404 page before anything is read.

A form with a problem is shown again (400, or 409 when the workflow refused) with a GOV.UK-style
error summary whose links lead to the fields, each field's own message, and everything that
was typed or chosen still there. Success goes back to the client's page with a confirmation
that takes the focus. What is typed (places, notes, summaries) is passed on, never logged.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ValidationError

from api.context import get_context
from api.dashboard.formatting import label
from api.dashboard.practice import (
    FormProblem,
    client_url,
    not_yours,
    render_client,
    render_reqol,
)
from api.dashboard.session import DashboardUser, Flash
from api.dashboard.state import get_state
from api.dashboard.web import DashboardRoute, Form, current_practitioner, posted_form, redirect
from api.schemas import (
    BookingBody,
    DischargeBody,
    ExtensionBody,
    ReqolBody,
    SessionRecordBody,
)
from models.actions import (
    Discharge,
    Extension,
    ReqolSubmission,
    ReqolWhen,
    SessionBooking,
    SessionRecord,
)
from models.referral import REFERENCE_PATTERN, ReferralView
from models.reqol import ITEMS
from services import practice, referrals
from services.worker_presence import WorkerUnavailable

router = APIRouter(route_class=DashboardRoute)
log = structlog.get_logger("harbour.dashboard")

Practitioner = Annotated[DashboardUser, Depends(current_practitioner)]
Ref = Annotated[str, PathParam(pattern=REFERENCE_PATTERN)]
WORKER_DOWN = (
    "Harbour's worker is not running, so nothing was recorded. Ask whoever runs Harbour to "
    "start it, then try again."
)
NOT_BOOKED = "unbooked"
_TIME = re.compile(r"^([01]?[0-9]|2[0-3])[:.]([0-5][0-9])$")


class FormRefused(Exception):
    """The form cannot go ahead: show it again with ``problem`` (``status``)."""

    def __init__(self, problem: FormProblem, status: int = 400) -> None:
        super().__init__(problem.form)
        self.problem = problem
        self.status = status


async def _own(request: Request, user: DashboardUser, ref: str) -> ReferralView:
    try:
        context = get_context(request)
        view: ReferralView = await context.ask(
            lambda: practice.own_client(context.client, ref, user.principal)
        )
    except practice.NotYourClient:
        raise not_yours() from None
    return view


def _check_body(
    problem: FormProblem, body: type[BaseModel], data: dict[str, Any], fields: dict[str, str]
) -> Any:
    """``data`` through the API's body model; each broken rule becomes a problem on the
    field ``fields`` maps it to (pydantic's message names the rule, never the value)."""
    try:
        return body.model_validate(data)
    except ValidationError as error:
        for found in error.errors():
            loc = [str(p) for p in found.get("loc", ())]
            field_id = next((fields[p] for p in loc if p in fields), next(iter(fields.values())))
            message = str(found.get("msg", "not valid")).removeprefix("Value error, ")
            problem.add(field_id, message[:1].upper() + message[1:])
        raise FormRefused(problem) from None


async def _run(
    request: Request,
    user: DashboardUser,
    ref: str,
    action: str,
    argument: BaseModel,
    problem: FormProblem,
    field_id: str,
) -> ReferralView:
    """Run the workflow update; a refusal becomes a problem on ``field_id``."""
    try:
        view: ReferralView = await get_context(request).act(ref, action, argument)
    except WorkerUnavailable:
        problem.add(field_id, WORKER_DOWN)
        raise FormRefused(problem, 503) from None
    except referrals.ActionRejected as rejected:
        log.info("practice action rejected", ref=ref, action=action)
        reason = rejected.reason
        problem.add(field_id, reason[:1].upper() + reason[1:])
        raise FormRefused(problem, 409) from None
    except referrals.NotFound:
        raise not_yours() from None
    log.info("practice action", ref=ref, action=action, stage=view.stage.value)
    return view


def _done(request: Request, ref: str, text: str) -> Response:
    return redirect(request, client_url(ref), Flash("ok", text))


async def _again(request: Request, user: DashboardUser, ref: str, refused: FormRefused) -> Response:
    return await render_client(request, user, ref, refused.problem, refused.status)


# ----------------------------------------------------------------------------- book


def _session_time(form: Form, problem: FormProblem, zone: Any) -> datetime | None:
    """The date (day, month, year) and time typed, in the service's zone; problems added."""
    day, month, year, at = (form.get(f"book-{p}") for p in ("day", "month", "year", "time"))
    missing = [name for name, v in (("day", day), ("month", month), ("year", year)) if not v]
    date_value = None
    if len(missing) == 3:
        problem.add("book-day", "Enter the date of the session")
    elif missing:
        problem.add(f"book-{missing[0]}", f"The date of the session must include a {missing[0]}")
    elif not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
        problem.add("book-day", "Enter the date as numbers, for example 27 3 2027")
    else:
        try:
            date_value = datetime(int(year), int(month), int(day)).date()
        except ValueError:
            problem.add("book-day", "The date of the session must be a real date")
    found = _TIME.match(at)
    if not at:
        problem.add("book-time", "Enter the time of the session, for example 14:30")
    elif found is None:
        problem.add("book-time", "Enter the time as hours and minutes, for example 14:30")
    if date_value is None or found is None:
        return None
    clock = time(int(found.group(1)), int(found.group(2)))
    return datetime.combine(date_value, clock, tzinfo=zone)


@router.post("/practice/clients/{ref}/book")
async def book(request: Request, user: Practitioner, ref: Ref) -> Response:
    """Book a session: the date, the time and where."""
    form = await posted_form(request, user)
    await _own(request, user, ref)
    names = ("book-day", "book-month", "book-year", "book-time", "book-where")
    problem = FormProblem("book", values={n: form.get(n) for n in names})
    zone = get_state(request).zone
    try:
        at = _session_time(form, problem, zone)
        where = form.get("book-where")
        if not where:
            problem.add("book-where", "Enter where the session will be, for example the café")
        if problem.errors or at is None:
            raise FormRefused(problem)
        body = _check_body(
            problem,
            BookingBody,
            {"at": at, "location": where},
            {"at": "book-day", "location": "book-where"},
        )
        await _run(
            request,
            user,
            ref,
            "book_session",
            SessionBooking(at=body.at, location=body.location),
            problem,
            "book-day",
        )
    except FormRefused as refused:
        return await _again(request, user, ref, refused)
    shown = at.astimezone(zone).strftime("%A %-d %B %Y at %H:%M")
    return _done(request, ref, f"Session booked for {shown}.")


# --------------------------------------------------------------------------- record


@router.post("/practice/clients/{ref}/record")
async def record(request: Request, user: Practitioner, ref: Ref) -> Response:
    """Record a session: which one, how it went, where, and the liaison done."""
    form = await posted_form(request, user)
    view = await _own(request, user, ref)
    booked = {b.session_id for b in view.booked_sessions}
    problem = FormProblem(
        "record",
        values={
            "record-session": form.get("record-session"),
            "record-outcome": form.get("record-outcome"),
            "record-where": form.get("record-where"),
            "record-liaison": form.all("record-liaison"),
        },
    )
    try:
        session_id = form.get("record-session") or (None if booked else NOT_BOOKED)
        if session_id is None:
            problem.add("record-session", "Choose which session you are recording")
        elif session_id != NOT_BOOKED and session_id not in booked:
            problem.add("record-session", "That session is no longer booked: choose another")
        outcome = form.get("record-outcome")
        if not outcome:
            problem.add(
                "record-outcome",
                "Choose whether they attended, did not attend, or the session was cancelled",
            )
        if problem.errors:
            raise FormRefused(problem)
        data: dict[str, Any] = {"outcome": outcome, "liaison": form.all("record-liaison")}
        if session_id != NOT_BOOKED:
            data["session_id"] = session_id
        if form.get("record-where"):
            data["location"] = form.get("record-where")
        body = _check_body(
            problem,
            SessionRecordBody,
            data,
            {
                "outcome": "record-outcome",
                "location": "record-where",
                "liaison": "record-liaison",
                "session_id": "record-session",
            },
        )
        updated = await _run(
            request,
            user,
            ref,
            "record_session",
            SessionRecord(
                session_id=body.session_id,
                outcome=body.outcome,
                location=body.location,
                liaison=body.liaison,
            ),
            problem,
            "record-outcome",
        )
    except FormRefused as refused:
        return await _again(request, user, ref, refused)
    return _done(
        request,
        ref,
        f"Session recorded: {label(outcome).lower()}. "
        f"{updated.sessions_done} of {updated.sessions_planned} planned sessions attended.",
    )


# ---------------------------------------------------------------------------- ReQoL


@router.post("/practice/clients/{ref}/reqol/{when}")
async def reqol(request: Request, user: Practitioner, ref: Ref, when: ReqolWhen) -> Response:
    """Record the ten ReQoL-10 answers (item numbers and responses only)."""
    form = await posted_form(request, user)
    await _own(request, user, ref)
    problem = FormProblem("reqol", values={f"item-{n}": form.get(f"item-{n}") for n in ITEMS})
    responses: dict[str, int] = {}
    for item in ITEMS:
        answer = form.get(f"item-{item}")
        if answer not in ("0", "1", "2", "3", "4"):
            problem.add(f"item-{item}", f"Choose an answer for item {item}")
        else:
            responses[str(item)] = int(answer)
    try:
        if problem.errors:
            raise FormRefused(problem)
        body = _check_body(
            problem, ReqolBody, {"when": when.value, "responses": responses}, {"when": "item-1"}
        )
        await _run(
            request,
            user,
            ref,
            "record_reqol",
            ReqolSubmission(when=body.when, responses=body.responses),
            problem,
            "item-1",
        )
    except FormRefused as refused:
        return await render_reqol(request, user, ref, when, refused.problem, refused.status)
    moment = "start" if when == ReqolWhen.BASELINE else "end"
    return _done(request, ref, f"ReQoL-10 at the {moment} of the episode recorded.")


@router.post("/practice/clients/{ref}/reqol/{when}/skip")
async def skip_reqol(request: Request, user: Practitioner, ref: Ref, when: ReqolWhen) -> Response:
    """Skip the measure, with the reason (a code) and, if need be, a note kept encrypted."""
    form = await posted_form(request, user)
    await _own(request, user, ref)
    problem = FormProblem(
        "skip", values={"skip-reason": form.get("skip-reason"), "skip-note": form.get("skip-note")}
    )
    try:
        reason = form.get("skip-reason")
        if not reason:
            problem.add("skip-reason", "Choose why the measure was not taken")
            raise FormRefused(problem)
        data: dict[str, Any] = {"when": when.value, "skipped_reason": reason}
        if form.get("skip-note"):
            data["note"] = form.get("skip-note")
        body = _check_body(
            problem,
            ReqolBody,
            data,
            {"skipped_reason": "skip-reason", "note": "skip-note", "when": "skip-reason"},
        )
        await _run(
            request,
            user,
            ref,
            "record_reqol",
            ReqolSubmission(
                when=body.when, skipped_reason=body.skipped_reason, skip_note=body.note
            ),
            problem,
            "skip-reason",
        )
    except FormRefused as refused:
        return await render_reqol(request, user, ref, when, refused.problem, refused.status)
    moment = "start" if when == ReqolWhen.BASELINE else "end"
    return _done(request, ref, f"ReQoL-10 at the {moment} of the episode skipped, with why.")


# ------------------------------------------------------------------ extend, discharge


@router.post("/practice/clients/{ref}/extend")
async def extend(request: Request, user: Practitioner, ref: Ref) -> Response:
    """Plan more sessions (never beyond the service's maximum)."""
    form = await posted_form(request, user)
    await _own(request, user, ref)
    typed = form.get("extend-sessions")
    problem = FormProblem("extend", values={"extend-sessions": typed})
    try:
        if not typed:
            problem.add("extend-sessions", "Enter how many sessions the plan should have")
        elif not (typed.isascii() and typed.isdigit()):  # "²" is a digit int() refuses
            problem.add("extend-sessions", "Enter the number of sessions as a whole number, like 8")
        if problem.errors:
            raise FormRefused(problem)
        body = _check_body(
            problem,
            ExtensionBody,
            {"planned_sessions": int(typed)},
            {"planned_sessions": "extend-sessions"},
        )
        await _run(
            request,
            user,
            ref,
            "extend",
            Extension(planned_sessions=body.planned_sessions),
            problem,
            "extend-sessions",
        )
    except FormRefused as refused:
        return await _again(request, user, ref, refused)
    return _done(request, ref, f"The plan now has {int(typed)} sessions.")


@router.post("/practice/clients/{ref}/discharge")
async def discharge(request: Request, user: Practitioner, ref: Ref) -> Response:
    """Discharge: why (a code) and a summary, kept encrypted. The client can come back."""
    form = await posted_form(request, user)
    await _own(request, user, ref)
    reason, summary = form.get("discharge-reason"), form.get("discharge-summary")
    problem = FormProblem(
        "discharge", values={"discharge-reason": reason, "discharge-summary": summary}
    )
    try:
        if not reason:
            problem.add("discharge-reason", "Choose why the episode is ending")
        if not summary:
            problem.add("discharge-summary", "Write a short summary of the episode")
        if problem.errors:
            raise FormRefused(problem)
        body = _check_body(
            problem,
            DischargeBody,
            {"reason": reason, "summary": summary},
            {"reason": "discharge-reason", "summary": "discharge-summary"},
        )
        await _run(
            request,
            user,
            ref,
            "discharge",
            Discharge(reason=body.reason, summary=body.summary),
            problem,
            "discharge-reason",
        )
    except FormRefused as refused:
        return await _again(request, user, ref, refused)
    return _done(
        request,
        ref,
        "Discharged. Their letter says how to come back: a message is enough, no new referral.",
    )
