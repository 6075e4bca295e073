"""Client messages in: keep every one, match by registered contact only, then signal.

The message is stored before anything else, so nothing is lost if Temporal is away; a
message that cannot act on a live referral (unknown sender, closed referral) stays in the
coordinators' inbox.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.registry import store_inbound_message
from models.messages import Channel, ClientMessage
from models.records import StoredMessage
from models.tables import InboundMessageRow
from workflows.referral import ReferralWorkflow, workflow_id

log = structlog.get_logger()


async def receive(
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
    pseudonym_key: bytes,
    *,
    channel: Channel,
    sender: str,
    body: str,
    received_at: datetime | None = None,
    gateway_id: str | None = None,
) -> StoredMessage:
    """Store an inbound message and, if it comes from a registered contact, hand it to
    that referral's workflow. Returns what was stored (and whether it was a duplicate)."""
    received_at = received_at or datetime.now(UTC)
    stored = await store_inbound_message(
        session_factory,
        pseudonym_key,
        channel=channel.value,
        sender=sender,
        body=body,
        received_at=received_at,
        gateway_id=gateway_id,
    )
    # A redelivery whose first delivery never reached the workflow (status still "matched")
    # is signalled again; the workflow ignores message ids it has already handled.
    if stored.ref is None or (stored.duplicate and stored.status != "matched"):
        log.info(
            "inbound message",
            message_id=stored.id,
            matched=stored.ref is not None,
            duplicate=stored.duplicate,
        )
        return stored
    message = ClientMessage(
        message_id=stored.id, channel=channel, received_at=received_at, text=body
    )
    try:
        await client.get_workflow_handle(workflow_id(stored.ref)).signal(
            ReferralWorkflow.client_message, message
        )
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        # The referral's workflow has ended (e.g. closed): a person must look at it.
        await _to_inbox(session_factory, stored.id)
        log.info("inbound message for a closed referral", message_id=stored.id, ref=stored.ref)
        return stored.model_copy(update={"ref": None})
    log.info("inbound message", message_id=stored.id, ref=stored.ref)
    return stored


async def _to_inbox(session_factory: async_sessionmaker[AsyncSession], message_id: str) -> None:
    async with session_factory.begin() as session:
        await session.execute(
            update(InboundMessageRow)
            .where(InboundMessageRow.id == message_id)
            .values(in_inbox=True, status="inbox")
        )
