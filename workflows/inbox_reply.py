"""InboxReplyWorkflow: a coordinator's coded reply to a message, sent once.

Started from the inbox page (id ``reply-<message id>``, opaque; never the number). It records
the reply on the message (which code, who, when; the first reply stays) and sends the code's
fixed wording to the sender's own number or address, on the channel the message came by,
through the same idempotent outbox as every letter (Notify for texts, SMTP for email, the
hourly cap per number). A double submit finds the workflow started and sends nothing more.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from models.correspondence import Letter, Occasion, addressees
    from models.inbox_replies import RECORD_INBOX_REPLY, InboxReply, ReplyTarget
    from models.notifications import (
        SEND_NOTIFICATIONS,
        ContactChannel,
        Notification,
        Route,
        SendResult,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Nothing is lost: retries are unlimited, backing off (the hourly cap may hold a text back).
ACTIVITY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))


def inbox_reply_id(message_id: str) -> str:
    """Workflow ids carry the message's opaque id only."""
    return f"reply-{message_id}"


@workflow.defn
class InboxReplyWorkflow:
    """Record a coded reply on its message, then send it to the sender."""

    @workflow.run
    async def run(self, reply: InboxReply) -> list[SendResult]:
        """Record (the first reply stays), then send the letter; nothing when the message
        already had another reply or has nobody to reply to."""
        if reply.at is None:
            reply = reply.model_copy(update={"at": workflow.now()})
        target: ReplyTarget = await workflow.execute_activity(
            RECORD_INBOX_REPLY,
            reply,
            result_type=ReplyTarget,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        if not target.recorded or target.channel is None or target.address is None:
            workflow.logger.info("inbox reply not sent", extra={"message_id": reply.message_id})
            return []
        route = Route(channel=ContactChannel(target.channel), address=target.address)
        letters = [
            Notification(
                # Fixed by the message and the code: a retry or a rerun never sends twice.
                key=(
                    f"reply:{reply.message_id}:{reply.code.value}:{entry.kind.value}:"
                    f"{entry.to.value}"
                ),
                ref=target.ref or "",
                kind=entry.kind,
                recipient=entry.to,
                routes=[route],
                discreet=target.discreet,
                context={"ref": target.ref, "reply_code": reply.code.value},
            )
            for entry in addressees(Occasion.INBOX_REPLY)
            if isinstance(entry, Letter)
        ]
        try:
            return await workflow.execute_activity(
                SEND_NOTIFICATIONS,
                letters,
                result_type=list[SendResult],
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
        except ActivityError:
            # Undeliverable for good: the outbox row says why; the reply stays recorded.
            workflow.logger.warning(
                "inbox reply undeliverable", extra={"message_id": reply.message_id}
            )
            return []
