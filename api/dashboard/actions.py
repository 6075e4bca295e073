"""The dashboard's forms (POST): triage, allocate, hold, validate, close, confirm withdrawal,
and resolve or reply to an inbox message.

Each referral action is the workflow update the HTTP API uses (``services.referrals.act``),
with the signed-in coordinator's staff id as the actor; the workflow's validator decides
whether it fits the referral now, and its reason is shown when it does not. Every form carries
the session's CSRF token. What a coordinator types (signposting, a question, a note) is passed
on, never logged.
"""

from __future__ import annotations

import re
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ValidationError

from api.context import get_context
from api.dashboard.formatting import label
from api.dashboard.pages import FormEcho, FormFieldError, referral_page
from api.dashboard.session import DashboardUser, Flash
from api.dashboard.web import (
    DashboardRoute,
    Form,
    PageError,
    current_user,
    posted_form,
    redirect,
)
from api.schemas import AllocationBody, ResolutionBody, TriageBody
from models.actions import (
    Allocation,
    Closure,
    Hold,
    HoldRelease,
    Removal,
    TriageDecision,
    TriageOutcome,
    WithdrawalConfirmation,
)
from models.inbox_replies import REPLY_LABELS, UnknownReplyCode, reply_code
from models.referral import REFERENCE_PATTERN, ReferralView
from readmodel.crisis_alerts import keep_acknowledgement_note
from readmodel.inbox import claim_inbox_item
from services import inbound_messages, referrals
from services.inbox_replies import ReplyRefused, send_reply
from services.worker_presence import WorkerUnavailable

router = APIRouter(route_class=DashboardRoute)
# What a coordinator reads when no worker can run the action (nothing was changed, or the
# referral's page says whether it went through).
WORKER_DOWN = (
    "Harbour's worker is not running, so nothing could be done. Ask whoever runs Harbour to "
    "start it, then check the referral's page before trying again."
)
log = structlog.get_logger("harbour.dashboard")

User = Annotated[DashboardUser, Depends(current_user)]
Ref = Annotated[str, PathParam(pattern=REFERENCE_PATTERN)]
MessageId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")]
# Where a form may send the browser back to: a dashboard page, with a plain query at most.
_BACK = re.compile(r"^/dashboard(/[A-Za-z0-9._~-]+)*(\?[A-Za-z0-9_.~=&%-]*)?$")


def _back(form: Form, default: str) -> str:
    back = form.get("back")
    return back if _BACK.match(back) and "//" not in back else default


async def _act(
    request: Request,
    user: DashboardUser,
    form: Form,
    ref: str,
    action: str,
    build: type[BaseModel] | None,
    fields: dict[str, object],
    done: str,
    entry: type[BaseModel] | None = None,
) -> Response:
    """Validate the form (with ``entry``, the API's body for the same action, when there is
    one: the same rules for typed text as the API's) into the action's model, run the update,
    and go back with a message: what happened, or why it could not."""
    back = _back(form, f"/dashboard/referrals/{ref}")
    try:
        if entry is not None:
            entry.model_validate({k: v for k, v in fields.items() if v is not None})
        argument: BaseModel | str = (
            build.model_validate({**fields, "coordinator": user.staff_id})
            if build is not None
            else user.staff_id
        )
    except ValidationError as error:
        # pydantic's message names the rule, not the value (free text is never echoed).
        problem = error.errors()[0]
        field_name = ".".join(str(p) for p in problem.get("loc", ())) or "form"
        message = str(problem.get("msg", "not valid")).removeprefix("Value error, ")
        return redirect(request, back, Flash("error", f"{ref}: {field_name}: {message}"))
    try:
        view: ReferralView = await get_context(request).act(ref, action, argument)
    except WorkerUnavailable:
        return redirect(request, back, Flash("error", WORKER_DOWN))
    except referrals.ActionRejected as rejected:
        log.info("dashboard action rejected", ref=ref, action=action)
        # The workflow's reasons name stages and rules, never personal data.
        return redirect(request, back, Flash("error", f"{ref}: {rejected.reason}"))
    except referrals.NotFound:
        return redirect(request, back, Flash("error", f"There is no referral {ref}."))
    log.info("dashboard action", ref=ref, action=action, stage=view.stage.value)
    return redirect(request, back, Flash("ok", f"{ref}: {done} Now {label(view.stage.value)}."))


def _form_fields(form: Form, *names: str) -> dict[str, object]:
    return {name: form.optional(name) for name in names}


# What a coordinator reads when a triage form is not complete (never a field's code name).
_TRIAGE_FIELDS = {
    "outcome": ("outcome-accept", "Choose a decision: accept, decline, or ask the referrer"),
    "decline_reason": ("decline_reason", "Choose why the referral is declined"),
    "signposting": ("signposting", "The services to suggest can be up to 500 characters"),
    "question": ("question", "The question can be up to 2,000 characters"),
}


_FIELD_WORDS = {"signposting": "The services to suggest", "question": "The question"}


def triage_problems(values: dict[str, str]) -> list[FormFieldError]:
    """What is missing or wrong in a posted triage form, in a coordinator's words."""
    outcome = values.get("outcome", "")
    if outcome not in {o.value for o in TriageOutcome}:
        return [FormFieldError(*_TRIAGE_FIELDS["outcome"])]
    problems = []
    if outcome == TriageOutcome.DECLINE and not values.get("decline_reason"):
        problems.append(FormFieldError(*_TRIAGE_FIELDS["decline_reason"]))
    if outcome == TriageOutcome.REQUEST_INFORMATION and not values.get("question"):
        problems.append(FormFieldError("question", "Write the question for the referrer"))
    fields = {k: v for k, v in values.items() if v and k in _TRIAGE_FIELDS}
    if not problems:
        try:
            TriageBody.model_validate(fields)
        except ValidationError as error:
            for problem in error.errors():
                name = str(problem.get("loc", ("outcome",))[0])
                field, message = _TRIAGE_FIELDS.get(name, _TRIAGE_FIELDS["outcome"])
                if problem.get("type") != "string_too_long":
                    # The rule's words (never the text typed), after the field's own name.
                    said = str(problem.get("msg", "not valid")).removeprefix("Value error, ")
                    message = f"{_FIELD_WORDS.get(name, 'What you wrote')}: {said}"
                problems.append(FormFieldError(field, message))
    return problems


@router.post("/referrals/{ref}/triage")
async def triage(request: Request, user: User, ref: Ref) -> Response:
    """Accept, decline (coded reason and signposting) or ask the referrer a question. A form
    with problems comes back as it was posted, with an error summary linked to the fields."""
    form = await posted_form(request, user)
    values = {
        name: form.get(name) for name in ("outcome", "decline_reason", "signposting", "question")
    }
    problems = triage_problems(values)
    if problems:
        echo = FormEcho(errors=tuple(problems), values=values)
        return await referral_page(request, user, ref, triage=echo, status=400)
    outcome = values["outcome"]
    # Only the fields the chosen decision needs go to the workflow.
    kept = {"decline": ("decline_reason", "signposting"), "request_information": ("question",)}
    fields: dict[str, object] = {"outcome": outcome}
    fields.update({name: values[name] or None for name in kept.get(outcome, ())})
    done = {
        "accept": "accepted.",
        "decline": "declined; the referrer is told why.",
        "request_information": "the referrer has been asked.",
    }[outcome]
    try:
        argument = TriageDecision.model_validate({**fields, "coordinator": user.staff_id})
        view: ReferralView = await get_context(request).act(ref, "triage", argument)
    except WorkerUnavailable:
        problems = [FormFieldError("actions", WORKER_DOWN)]
    except referrals.ActionRejected as rejected:
        log.info("dashboard action rejected", ref=ref, action="triage")
        problems = [FormFieldError("actions", f"Not recorded: {rejected.reason}")]
    except referrals.NotFound:
        raise PageError(404, "No such referral", f"There is no referral {ref}.") from None
    if problems:
        echo = FormEcho(errors=tuple(problems), values=values)
        return await referral_page(request, user, ref, triage=echo, status=409)
    log.info("dashboard action", ref=ref, action="triage", stage=view.stage.value)
    return redirect(
        request,
        f"/dashboard/referrals/{ref}",
        Flash("ok", f"{ref}: {done} Now {label(view.stage.value)}."),
    )


@router.post("/referrals/{ref}/allocate")
async def allocate(request: Request, user: User, ref: Ref) -> Response:
    """Allocate a waiting referral to a practitioner with room."""
    form = await posted_form(request, user)
    practitioner = form.get("practitioner_id")
    return await _act(
        request,
        user,
        form,
        ref,
        "allocate",
        Allocation,
        {"practitioner_id": practitioner},
        f"allocated to {practitioner}.",
        entry=AllocationBody,
    )


@router.post("/referrals/{ref}/hold")
async def hold(request: Request, user: User, ref: Ref) -> Response:
    """Hold a waiting referral back from automatic allocation, with a coded reason."""
    form = await posted_form(request, user)
    return await _act(
        request, user, form, ref, "hold", Hold, {"reason": form.optional("reason")}, "held."
    )


@router.post("/referrals/{ref}/release-hold")
async def release_hold(request: Request, user: User, ref: Ref) -> Response:
    """Let a held referral be allocated automatically again, in its old place."""
    form = await posted_form(request, user)
    return await _act(request, user, form, ref, "release_hold", HoldRelease, {}, "hold released.")


@router.post("/referrals/{ref}/validation")
async def validation(request: Request, user: User, ref: Ref) -> Response:
    """Keep a silent client on the list, or remove them with a reason (never automatic)."""
    form = await posted_form(request, user)
    if form.get("decision") == "remove":
        return await _act(
            request,
            user,
            form,
            ref,
            "remove_from_waiting_list",
            Removal,
            {"reason": form.optional("reason")},
            "removed from the list; the referrer and client are told.",
        )
    return await _act(
        request, user, form, ref, "keep_on_waiting_list", None, {}, "kept on the list."
    )


@router.post("/referrals/{ref}/close")
async def close(request: Request, user: User, ref: Ref) -> Response:
    """Close the referral with a coded reason."""
    form = await posted_form(request, user)
    return await _act(
        request, user, form, ref, "close", Closure, {"reason": form.optional("reason")}, "closed."
    )


@router.post("/referrals/{ref}/withdrawal")
async def withdrawal(request: Request, user: User, ref: Ref) -> Response:
    """Confirm a withdrawal the client asked for."""
    form = await posted_form(request, user)
    return await _act(
        request, user, form, ref, "confirm_withdrawal", WithdrawalConfirmation, {}, "withdrawn."
    )


_BULK = {
    "allocate": ("allocate", Allocation, "allocated"),
    "hold": ("hold", Hold, "held"),
    "release": ("release_hold", HoldRelease, "released"),
}
MAX_BULK = 500


@router.post("/waiting-list/actions")
async def waiting_list_actions(request: Request, user: User) -> Response:
    """Allocate, hold or release the referrals ticked on the waiting list, one workflow
    update each (each may be refused on its own; the others still go ahead)."""
    form = await posted_form(request, user)
    back = _back(form, "/dashboard/waiting-list")
    chosen = _BULK.get(form.get("action"))
    refs = [ref for ref in dict.fromkeys(form.all("ref")) if re.match(REFERENCE_PATTERN, ref)]
    if chosen is None:
        return redirect(request, back, Flash("error", "Choose what to do."))
    if not refs:
        return redirect(request, back, Flash("error", "Tick at least one referral first."))
    action, model, verb = chosen
    fields: dict[str, object] = {}
    if action == "allocate":
        fields["practitioner_id"] = form.optional("practitioner_id")
    if action == "hold":
        fields["reason"] = form.optional("reason")
    try:
        argument = model.model_validate({**fields, "coordinator": user.staff_id})
    except ValidationError as error:
        problem = error.errors()[0]
        field_name = ".".join(str(p) for p in problem.get("loc", ())) or "form"
        return redirect(request, back, Flash("error", f"{field_name}: {problem.get('msg')}"))
    done, refused = [], []
    context = get_context(request)
    for ref in refs[:MAX_BULK]:
        try:
            await context.act(ref, action, argument)
            done.append(ref)
        except WorkerUnavailable:
            refused.append(f"{ref}: {WORKER_DOWN}")
            break  # the others would wait as long, for the same answer
        except referrals.ActionRejected as rejected:
            refused.append(f"{ref}: {rejected.reason}")
        except referrals.NotFound:
            refused.append(f"{ref}: no such referral")
    log.info("dashboard bulk action", action=action, done=len(done), refused=len(refused))
    parts = []
    if done:
        target = f" to {fields['practitioner_id']}" if action == "allocate" else ""
        parts.append(f"{verb.capitalize()}{target}: {', '.join(done)}.")
    if refused:
        parts.append("Not done — " + "; ".join(refused) + ".")
    return redirect(request, back, Flash("error" if refused else "ok", " ".join(parts)))


@router.post("/inbox/{message_id}/resolve")
async def resolve(
    request: Request,
    user: User,
    message_id: MessageId,
) -> Response:
    """Take a message out of the inbox with a note of what was done."""
    form = await posted_form(request, user)
    back = _back(form, "/dashboard/inbox")
    note = form.get("note")
    refused = _note_refused(note, "Write a short note (up to 2 000 characters) first.")
    if refused:
        return redirect(request, back, Flash("error", refused))
    context = get_context(request)
    resolved = await inbound_messages.resolve(
        context.client,
        context.session_factory,
        context.keyring,
        message_id,
        note,
        user.staff_id,
    )
    if not resolved:
        return redirect(request, back, Flash("error", "That message is no longer there."))
    log.info("dashboard inbox resolved", message_id=message_id)
    return redirect(request, back, Flash("ok", "Message resolved."))


def _note_refused(note: str, missing: str) -> str | None:
    """Why a resolution or acknowledgement note cannot be kept (``missing`` when it is empty
    or too long; the API's rules otherwise), or None."""
    if not note or len(note) > 2000:
        return missing
    try:
        ResolutionBody(note=note)
    except ValidationError as error:
        return f"The note cannot be kept: {error.errors()[0].get('msg', 'not valid')}."
    return None


@router.post("/inbox/{message_id}/acknowledge")
async def acknowledge(
    request: Request,
    user: User,
    message_id: MessageId,
) -> Response:
    """Acknowledge a crisis alert with a note of what was done: its escalation stops, the
    acknowledgement (who, when) and the note (sealed) are kept."""
    form = await posted_form(request, user)
    back = _back(form, "/dashboard/inbox")
    note = form.get("note")
    refused = _note_refused(
        note, "Write what you have done or will do (up to 2 000 characters) first."
    )
    if refused:
        return redirect(request, back, Flash("error", refused))
    context = get_context(request)
    try:
        await inbound_messages.acknowledge_crisis(context.client, message_id, user.staff_id)
    except inbound_messages.NotACrisisAlert:
        return redirect(
            request, back, Flash("error", "That crisis alert was already acknowledged.")
        )
    await keep_acknowledgement_note(context.session_factory, context.keyring, message_id, note)
    log.info("dashboard crisis acknowledged", message_id=message_id)
    return redirect(request, back, Flash("ok", "Crisis alert acknowledged. Thank you."))


@router.post("/inbox/{message_id}/claim")
async def claim(
    request: Request,
    user: User,
    message_id: MessageId,
) -> Response:
    """Take a message (``give_back``: hand it back), so the others see who is dealing with it."""
    form = await posted_form(request, user)
    back = _back(form, "/dashboard/inbox")
    giving_back = form.get("give_back") == "yes"
    done = await claim_inbox_item(
        get_context(request).session_factory, message_id, None if giving_back else user.staff_id
    )
    if not done:
        return redirect(request, back, Flash("error", "That message is no longer in the inbox."))
    text = "Message handed back." if giving_back else f"Message taken by {user.staff_id}."
    return redirect(request, back, Flash("ok", text))


@router.post("/inbox/{message_id}/reply")
async def reply(
    request: Request,
    user: User,
    message_id: MessageId,
) -> Response:
    """Send the sender one of the coded replies (never free text), once per message; the
    reply (which, who, when) is recorded on the message."""
    form = await posted_form(request, user)
    back = _back(form, "/dashboard/inbox")
    try:
        code = reply_code(form.get("reply"))
    except UnknownReplyCode as unknown:
        return redirect(request, back, Flash("error", str(unknown)))
    context = get_context(request)
    try:
        await send_reply(
            context.client,
            context.session_factory,
            context.keyring,
            message_id,
            code,
            user.staff_id,
            context.settings.task_queue,
        )
    except ReplyRefused as refused:
        return redirect(request, back, Flash("error", str(refused)))
    log.info("dashboard inbox reply", message_id=message_id, code=code.value)
    return redirect(request, back, Flash("ok", f"Reply sent: “{REPLY_LABELS[code]}”."))
