"""The read model's figures that ``/metrics`` publishes: one snapshot, a few aggregate queries.

Every query here is an aggregate (``COUNT`` grouped by a column whose values form a closed set),
so a snapshot costs the same few round trips whatever the service's size, and its answer is a
handful of rows; the scans grow with the tables (measured in docs/observability.md), which is
why the caller (``services.metrics``) bounds each snapshot in time and reuses a recent one.
No row's content is read: only stages, channels, statuses and flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.metric_labels import CHANNELS, DELIVERY_STATUSES, OUTBOX_STATUSES, closed
from models.referral import Stage
from models.tables import OutboxRow, ReferralRow
from readmodel.crisis_alerts import count_open_alerts
from readmodel.inbox import inbox_counts
from readmodel.overview import stage_counts
from readmodel.sql import OPEN_BREACH, WAITING, run, sum_where


@dataclass
class MetricsSnapshot:
    """What the read model says now, with closed-set keys only (``models.metric_labels``)."""

    referrals_by_stage: dict[str, int]
    waiting_list_length: int
    waiting_held: int
    validation_queue: int
    breaches_open: int
    # (channel, outbox status, delivery receipt status) -> how many letters or texts
    notifications: dict[tuple[str, str, str], int] = field(default_factory=dict)
    crisis_unacknowledged: int = 0
    inbox_open: int = 0


async def metrics_snapshot(session: AsyncSession) -> MetricsSnapshot:
    """Stages, the waiting list, breaches, the outbox by status, crisis and inbox counts."""
    stages = await stage_counts(session)
    flags = (
        await run(
            session,
            select(
                sum_where(OPEN_BREACH),
                sum_where(and_(WAITING, ReferralRow.held.is_(True))),
                sum_where(and_(WAITING, ReferralRow.in_validation_queue.is_(True))),
            ),
        )
    ).one()
    notifications: dict[tuple[str, str, str], int] = {}
    grouped = select(
        OutboxRow.channel, OutboxRow.status, OutboxRow.delivery_status, func.count()
    ).group_by(OutboxRow.channel, OutboxRow.status, OutboxRow.delivery_status)
    for channel, status, delivery, count in await run(session, grouped):
        key = (
            closed(channel, CHANNELS),
            closed(status, OUTBOX_STATUSES),
            closed(delivery, DELIVERY_STATUSES),
        )
        notifications[key] = notifications.get(key, 0) + int(count)
    inbox_open, _ = await inbox_counts(session)
    return MetricsSnapshot(
        referrals_by_stage=stages,
        waiting_list_length=stages[Stage.WAITING.value],
        waiting_held=int(flags[1]),
        validation_queue=int(flags[2]),
        breaches_open=int(flags[0]),
        notifications=notifications,
        crisis_unacknowledged=await count_open_alerts(session),
        inbox_open=inbox_open,
    )
