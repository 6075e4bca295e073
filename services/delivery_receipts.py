"""Delivery receipts from GOV.UK Notify: what became of each text.

Notify posts a receipt for every text (and retries the post every 5 minutes up to 5 times, so
the same receipt can arrive more than once: a receipt already recorded changes nothing). The
receipt is matched to its outbox row by ``reference`` (Harbour's outbox key). A permanent
failure marks that number unreachable — later letters skip it — and starts the redelivery of
this letter by the client's next permitted channel, which also alerts coordinators.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from infra.database import as_utc, write_transaction
from models.notifications import Redelivery
from models.tables import OutboxRow
from readmodel.unreachable_contacts import mark_unreachable
from workflows.redelivery import RedeliveryWorkflow, redelivery_id

log = structlog.get_logger()

PERMANENT_FAILURE = "permanent-failure"
RECEIPT_STATUSES = frozenset(
    {"delivered", PERMANENT_FAILURE, "temporary-failure", "technical-failure", "sending", "sent"}
)


async def record_receipt(
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    notification_id: str,
    reference: str | None,
    status: str,
    completed_at: datetime | None,
    task_queue: str = "harbour",
) -> str:
    """Record a receipt on its outbox row. Returns what it did: ``recorded``, ``duplicate``
    (already recorded: nothing changes) or ``unknown`` (no text of ours has that reference)."""
    async with write_transaction(session_factory) as session:
        row = await session.get(OutboxRow, reference) if reference else None
        if row is None or (row.provider_id not in (None, notification_id)):
            log.warning("delivery receipt unknown", notification_id=notification_id)
            return "unknown"
        key, ref = row.key, row.ref
        duplicate = row.delivery_status == status
        if duplicate:
            # Recorded before. If the redelivery could not be started then (Temporal away),
            # Notify's retry of the receipt starts it now (starting twice changes nothing).
            failed_for_good = status == PERMANENT_FAILURE
        else:
            failed_for_good = await _record(session, row, notification_id, status, completed_at)
    log.info("delivery receipt", ref=ref, key=key, status=status, duplicate=duplicate)
    if failed_for_good:
        await _redeliver(client, key, task_queue)
    return "duplicate" if duplicate else "recorded"


async def _record(
    session: AsyncSession,
    row: OutboxRow,
    notification_id: str,
    status: str,
    completed_at: datetime | None,
) -> bool:
    """Write the receipt on the row; True when it reports a permanent failure for the first
    time (the number is then marked unreachable)."""
    failed_for_good = status == PERMANENT_FAILURE and row.delivery_status != PERMANENT_FAILURE
    await session.execute(
        update(OutboxRow)
        .where(OutboxRow.key == row.key)
        .values(
            delivery_status=status,
            provider_id=notification_id,
            delivered_at=as_utc(completed_at or datetime.now(UTC))
            if status == "delivered"
            else row.delivered_at,
        )
    )
    if failed_for_good and row.recipient_key:
        await mark_unreachable(session, row.recipient_key, row.channel, row.ref)
    return failed_for_good


async def _redeliver(client: Client, key: str, task_queue: str) -> None:
    """Start the letter's redelivery once (a retried receipt finds it started)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    try:
        await client.start_workflow(
            RedeliveryWorkflow.run,
            Redelivery(key=key),
            id=redelivery_id(digest),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        pass
