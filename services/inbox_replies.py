"""A coordinator's coded reply to a message in the inbox (``models.inbox_replies``).

Checked here (the message is still there, has someone to reply to, has had no reply), then
handed to ``InboxReplyWorkflow``, which records it on the message and sends it through the
outbox. The workflow's id is the message's, so a double submit starts nothing more; a reply
started while no worker runs waits, durable, and goes when one starts.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from infra.keys import KeyRing
from models.inbox_replies import InboxReply, ReplyCode
from readmodel.inbox import ReplyRefused, check_reply_possible
from workflows.inbox_reply import InboxReplyWorkflow, inbox_reply_id

__all__ = ["ReplyRefused", "send_reply"]


async def send_reply(
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
    keyring: KeyRing,
    message_id: str,
    code: ReplyCode,
    coordinator: str,
    task_queue: str = "harbour",
) -> None:
    """Send ``code`` to the sender of ``message_id``, once. Raises ``ReplyRefused`` (its
    message says why, in a coordinator's words) when it cannot or already did."""
    await check_reply_possible(session_factory, keyring, message_id)
    try:
        await client.start_workflow(
            InboxReplyWorkflow.run,
            InboxReply(message_id=message_id, code=code, coordinator=coordinator),
            id=inbox_reply_id(message_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        raise ReplyRefused("That message already had a reply.") from None
