"""RedeliveryWorkflow: a text that failed for good goes again by the client's next channel.

Started by the delivery-receipt service (id ``redeliver-<hash of the outbox key>``) when GOV.UK
Notify reports a permanent failure: the activity sends the same letter by the next permitted
channel (the failed number is now marked unreachable) and alerts coordinators. Durable, so an
SMTP outage in between only delays it.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from models.notifications import REDELIVER_NOTIFICATION, Redelivery, SendResult


def redelivery_id(key_digest: str) -> str:
    """Workflow ids carry a digest of the outbox key only."""
    return f"redeliver-{key_digest}"


@workflow.defn
class RedeliveryWorkflow:
    """Send one failed letter again by another channel, and tell coordinators."""

    @workflow.run
    async def run(self, redelivery: Redelivery) -> list[SendResult]:
        """One activity, retried until it has done what it can."""
        try:
            return await workflow.execute_activity(
                REDELIVER_NOTIFICATION,
                redelivery,
                result_type=list[SendResult],
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            )
        except ActivityError:
            # No other channel: the outbox says "unreachable"; coordinators were alerted.
            workflow.logger.warning("no other channel for a failed letter")
            return []
