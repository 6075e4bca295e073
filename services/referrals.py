"""Referral actions: submit, act (updates), read (query)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from models.policy import ServicePolicy
from models.referral import ReferralInput, ReferralSubmission, ReferralView, Stage
from models.search_attributes import REFERRAL_STAGE
from workflows.referral import ReferralWorkflow, workflow_id

# Crockford base32 without I, L, O, U: unambiguous when read out on the phone.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CONTINUE_AS_NEW_RETRIES = 5


class ActionRejected(Exception):
    """The workflow rejected an action; ``reason`` says why (no personal data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(Exception):
    """No referral with that reference."""


# A staff action: one update of the referral's workflow, e.g. ``ReferralWorkflow.triage``.
Action = Callable[..., Any]

# The staff actions by the names the API, the pages and the CLI use: the one place where a
# name becomes an update of the workflow.
ACTIONS: dict[str, Action] = {
    "triage": ReferralWorkflow.triage,
    "answer_information": ReferralWorkflow.answer_information,
    "keep_on_waiting_list": ReferralWorkflow.keep_on_waiting_list,
    "allocate": ReferralWorkflow.allocate,
    "hold": ReferralWorkflow.hold,
    "release_hold": ReferralWorkflow.release_hold,
    "remove_from_waiting_list": ReferralWorkflow.remove_from_waiting_list,
    "book_session": ReferralWorkflow.book_session,
    "record_session": ReferralWorkflow.record_session,
    "record_reqol": ReferralWorkflow.record_reqol,
    "extend": ReferralWorkflow.extend,
    "discharge": ReferralWorkflow.discharge,
    "close": ReferralWorkflow.close,
    "confirm_withdrawal": ReferralWorkflow.confirm_withdrawal,
}


def action_named(name: str) -> Action:
    """The workflow update of the staff action called ``name``; ``ActionRejected`` names the
    actions there are when there is none of that name."""
    try:
        return ACTIONS[name]
    except KeyError:
        raise ActionRejected(
            f"there is no action {name!r}; the actions are: {', '.join(sorted(ACTIONS))}"
        ) from None


def new_reference() -> str:
    """An opaque referral reference, e.g. ``R7K2M9QX4PT``: no meaning, no personal data."""
    return "R" + "".join(secrets.choice(_ALPHABET) for _ in range(10))


def derived_reference(key: bytes, seed: str) -> str:
    """A reference derived from ``seed`` under ``key`` (same seed, same reference; opaque
    without the key): a form posted twice starts one referral."""
    digest = hmac.new(key, b"harbour.reference:" + seed.encode(), hashlib.sha256).digest()
    return "R" + "".join(_ALPHABET[byte % len(_ALPHABET)] for byte in digest[:10])


async def submit(
    client: Client,
    submission: ReferralSubmission,
    policy: ServicePolicy,
    *,
    task_queue: str,
    ref: str | None = None,
) -> str:
    """Start the referral's workflow (durable once this returns) and give back its reference."""
    ref = ref or new_reference()
    await client.start_workflow(
        ReferralWorkflow.run,
        ReferralInput(ref=ref, submission=submission, policy=policy),
        id=workflow_id(ref),
        task_queue=task_queue,
        # A reference names one referral for ever: starting it again (a retried submission)
        # must fail with WorkflowAlreadyStartedError, never begin a second life of a closed one.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(REFERRAL_STAGE, Stage.RECEIVED.value)]
        ),
    )
    return ref


async def act(client: Client, ref: str, action: Action | str, arg: BaseModel | str) -> ReferralView:
    """Run a staff action and return the new state. ``action`` is the workflow's update
    (``ReferralWorkflow.triage``) or its name in ``ACTIONS``."""
    update = action_named(action) if isinstance(action, str) else action
    handle = client.get_workflow_handle(workflow_id(ref))
    for attempt in range(CONTINUE_AS_NEW_RETRIES + 1):
        try:
            view: ReferralView = await handle.execute_update(update, arg)
            return view
        except WorkflowUpdateFailedError as failed:
            cause: Any = failed.cause
            if isinstance(cause, ApplicationError):
                raise ActionRejected(cause.message) from None
            raise
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            # An update that races a continue-as-new can find the old run closed: if the
            # referral still runs, try again on its new run.
            status = await _status(client, ref)
            if status is None:
                raise NotFound(ref) from None
            if status != WorkflowExecutionStatus.RUNNING:
                raise ActionRejected("the referral is closed: no action can change it") from None
            if attempt == CONTINUE_AS_NEW_RETRIES:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    raise NotFound(ref)


async def _status(client: Client, ref: str) -> WorkflowExecutionStatus | None:
    try:
        description = await client.get_workflow_handle(workflow_id(ref)).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return description.status


async def exists(client: Client, ref: str) -> bool:
    """Whether Temporal has the referral's workflow: one server-side lookup, which no worker
    takes part in (so it costs about the same whether the answer is yes or no)."""
    return await _status(client, ref) is not None


async def open_question(client: Client, ref: str) -> str | None:
    """The question a coordinator asked the referrer at triage, while it waits for an answer
    (free text: for the referrer's own view, never a log or a letter)."""
    handle = client.get_workflow_handle(workflow_id(ref))
    try:
        question: str | None = await handle.query(ReferralWorkflow.open_question)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(ref) from None
        raise
    return question


async def signposting(client: Client, ref: str) -> str | None:
    """The services a coordinator suggested with a decline (free text: for the referrer's own
    view of the decision, never a log)."""
    handle = client.get_workflow_handle(workflow_id(ref))
    try:
        suggested: str | None = await handle.query(ReferralWorkflow.signposting)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(ref) from None
        raise
    return suggested


async def read(client: Client, ref: str) -> ReferralView:
    """The referral's state as its workflow reports it (works after it has closed, too)."""
    handle = client.get_workflow_handle(workflow_id(ref))
    try:
        return await handle.query(ReferralWorkflow.state)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(ref) from None
        raise
