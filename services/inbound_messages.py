"""Client messages in: keep every one, read it once, match by registered contact only, then
signal — and make sure a person follows up whatever needs one.

The message is stored before anything else, so nothing is lost if Temporal is away (the
gateway's retry, or the poll of Notify's received texts, then finishes the work: every step
below is idempotent). It is read once, here (``models.messages.read_message``), and the
reading travels with the signal, so the referral's workflow acts on exactly what was read.

- A possible crisis — from anyone, registered or not — starts its follow-up at once: the
  coordinators' alert, the crisis contacts to the sender, escalation until acknowledged.
- A message from a registered contact goes to that referral's workflow, which acts only on an
  unambiguous reading and otherwise sends the holding reply.
- A message that cannot act on a live referral (unknown sender, closed referral) stays in the
  coordinators' inbox, and its follow-up sends the sender the holding reply.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from infra.keys import KeyRing
from models.client_numbers import normalise_phone
from models.follow_up import CrisisAcknowledgement, FollowUpInput, FollowUpView
from models.messages import Channel, ClientMessage, MessageReading, read_message
from models.notifications import ContactChannel, Route
from models.policy import ServicePolicy
from models.records import StoredMessage
from readmodel.contacts import contact_key
from readmodel.inbox import flag_crisis, move_to_inbox, resolve_inbox_item, store_inbound_message
from readmodel.unreachable_contacts import mark_reachable
from workflows.message_follow_up import MessageFollowUpWorkflow, follow_up_id
from workflows.referral import ReferralWorkflow, workflow_id

log = structlog.get_logger()


async def receive(
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
    pseudonym_key: bytes,
    keyring: KeyRing,
    *,
    channel: Channel,
    sender: str,
    body: str,
    received_at: datetime | None = None,
    gateway_id: str | None = None,
    policy: ServicePolicy | None = None,
    task_queue: str = "harbour",
) -> StoredMessage:
    """Store an inbound message, read it, follow up what needs a person, and hand a registered
    contact's message to that referral's workflow. Returns what was stored (and whether it
    was a duplicate). Safe to call again with the same gateway id: nothing is done twice.
    The body is kept sealed with ``keyring``; the workflow gets it in its (encrypted) signal."""
    received_at = received_at or datetime.now(UTC)
    stored = await store_inbound_message(
        session_factory,
        pseudonym_key,
        keyring,
        channel=channel.value,
        sender=sender,
        body=body,
        received_at=received_at,
        gateway_id=gateway_id,
    )
    reading = read_message(body)
    if channel == Channel.SMS:
        await _reachable_again(session_factory, pseudonym_key, sender)
    follow_up = FollowUpInput(
        message_id=stored.id,
        ref=stored.ref,
        crisis=reading.crisis,
        reply=_reply_route(channel, sender),
        discreet=stored.discreet,
        policy=policy or ServicePolicy(),
    )
    if reading.crisis:
        # First: the alert reaches a person whatever happens to the rest.
        await flag_crisis(session_factory, stored.id)
        await _start_follow_up(client, follow_up, task_queue)
    # A redelivery whose first delivery never reached the workflow (status still "matched")
    # is signalled again; the workflow ignores message ids it has already handled.
    if stored.ref is None or (stored.duplicate and stored.status != "matched"):
        if stored.ref is None and not reading.crisis:
            await _start_follow_up(client, follow_up, task_queue)  # the holding reply
        log.info(
            "inbound message",
            message_id=stored.id,
            matched=stored.ref is not None,
            duplicate=stored.duplicate,
            crisis=reading.crisis,
        )
        return stored
    if await _signal(client, stored, channel, received_at, body, reading):
        log.info("inbound message", message_id=stored.id, ref=stored.ref, crisis=reading.crisis)
        return stored
    # The referral's workflow has ended (e.g. closed): a person must look at it.
    await move_to_inbox(session_factory, stored.id)
    if not reading.crisis:
        await _start_follow_up(client, follow_up.model_copy(update={"ref": None}), task_queue)
    log.info("inbound message for a closed referral", message_id=stored.id, ref=stored.ref)
    return stored.model_copy(update={"ref": None})


async def _signal(
    client: Client,
    stored: StoredMessage,
    channel: Channel,
    received_at: datetime,
    body: str,
    reading: MessageReading,
) -> bool:
    """Hand the message and its reading to the referral's workflow; False if it has ended."""
    assert stored.ref is not None
    message = ClientMessage(
        message_id=stored.id,
        channel=channel,
        received_at=received_at,
        text=body,
        reading=reading,
    )
    try:
        await client.get_workflow_handle(workflow_id(stored.ref)).signal(
            ReferralWorkflow.client_message, message
        )
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return False
    return True


async def _start_follow_up(client: Client, follow_up: FollowUpInput, task_queue: str) -> None:
    """Start the message's follow-up once: a redelivery finds it started and changes nothing."""
    try:
        await client.start_workflow(
            MessageFollowUpWorkflow.run,
            follow_up,
            id=follow_up_id(follow_up.message_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        pass


def _reply_route(channel: Channel, sender: str) -> Route | None:
    """Where a reply to this message goes: back to the sender on the channel it came by."""
    if channel == Channel.SMS:
        try:
            return Route(channel=ContactChannel.SMS, address=normalise_phone(sender))
        except ValueError:
            return None  # not a number a text can go back to
    if channel == Channel.EMAIL and "@" in sender:
        return Route(channel=ContactChannel.EMAIL, address=sender.strip())
    return None  # typed in by staff (the CLI): nobody to reply to


async def _reachable_again(
    session_factory: async_sessionmaker[AsyncSession], pseudonym_key: bytes, number: str
) -> None:
    """A number a gateway once reported failing has just texted us: it works again."""
    async with session_factory.begin() as session:
        await mark_reachable(session, contact_key(pseudonym_key, number))


async def receive_by_link(
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    message_id: str,
    ref: str,
    body: str,
    reading: MessageReading,
    received_at: datetime,
    policy: ServicePolicy | None = None,
    task_queue: str = "harbour",
) -> bool:
    """Act on an answer a client gave through their secure link, already kept (and matched
    by the link, which names its referral) as message ``message_id``: the same path a text
    takes from there. A possible crisis starts its follow-up first (the coordinators' alert;
    no reply goes out, the page shows the crisis contacts); then the referral's workflow
    reads it. False: the referral's workflow has ended and the answer waits in the inbox.
    Safe to call again for the same message: the workflow ignores a message id it has seen.
    """
    if reading.crisis:
        await flag_crisis(session_factory, message_id)
        await _start_follow_up(
            client,
            FollowUpInput(
                message_id=message_id,
                ref=ref,
                crisis=True,
                reply=None,
                discreet=False,
                policy=policy or ServicePolicy(),
            ),
            task_queue,
        )
    stored = StoredMessage(id=message_id, ref=ref)
    if await _signal(client, stored, Channel.LINK, received_at, body, reading):
        log.info("link answer", message_id=message_id, ref=ref, crisis=reading.crisis)
        return True
    await move_to_inbox(session_factory, message_id)
    log.info("link answer for a closed referral", message_id=message_id, ref=ref)
    return False


class NotACrisisAlert(ValueError):
    """The message has no crisis alert to acknowledge (or it is already acknowledged)."""


async def acknowledge_crisis(client: Client, message_id: str, coordinator: str) -> FollowUpView:
    """A coordinator acknowledges a message's crisis alert: its escalation stops.

    Raises ``NotACrisisAlert`` when the message has no open crisis alert."""
    handle = client.get_workflow_handle(follow_up_id(message_id))
    try:
        return await handle.execute_update(
            MessageFollowUpWorkflow.acknowledge,
            CrisisAcknowledgement(coordinator=coordinator),
            result_type=FollowUpView,
        )
    except RPCError as error:
        if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise NotACrisisAlert("this message has no open crisis alert") from None
        raise
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        raise NotACrisisAlert(
            cause.message if isinstance(cause, ApplicationError) else "not acknowledged"
        ) from None


async def resolve(
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
    keyring: KeyRing,
    message_id: str,
    note: str,
    coordinator: str,
) -> bool:
    """Take a message out of the inbox with what was done; resolving a crisis message also
    acknowledges its alert (whoever resolves it has read it). False: no such message."""
    # Acknowledge first: if Temporal is away this fails, and the message stays in the inbox
    # rather than leaving it while its alert keeps escalating.
    with contextlib.suppress(NotACrisisAlert):
        await acknowledge_crisis(client, message_id, coordinator)
    return await resolve_inbox_item(session_factory, keyring, message_id, note)
