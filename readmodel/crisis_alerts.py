"""Crisis alerts as coordinators see them: messages that suggest crisis or risk whose alert no
person has acknowledged yet. They flag their referral on every list, head the overview and
banner the referral's page (with the message, opened from its seal) until acknowledged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.database import as_utc, write_transaction
from infra.keys import KeyRing
from models.tables import InboundMessageRow
from readmodel.sealed_text import open_text, seal_text

# The overview lists at most this many (the inbox has them all).
OVERVIEW_ALERTS = 20


class CrisisAlert(BaseModel):
    """An unacknowledged crisis message: what was written, when, about which referral."""

    message_id: str
    ref: str | None
    channel: str
    received_at: datetime
    body: str


_OPEN = (InboundMessageRow.crisis.is_(True), InboundMessageRow.crisis_acknowledged_at.is_(None))


async def refs_in_crisis(session: AsyncSession, refs: Iterable[str]) -> set[str]:
    """Which of ``refs`` have a crisis alert nobody has acknowledged."""
    wanted = list(set(refs))
    if not wanted:
        return set()
    rows = await session.execute(
        select(InboundMessageRow.ref).where(*_OPEN, InboundMessageRow.ref.in_(wanted)).distinct()
    )
    return {ref for (ref,) in rows if ref is not None}


async def open_alerts(
    session: AsyncSession, keyring: KeyRing, ref: str | None = None, limit: int = OVERVIEW_ALERTS
) -> list[CrisisAlert]:
    """Unacknowledged crisis alerts, oldest first (of one referral, with ``ref``)."""
    query = select(InboundMessageRow).where(*_OPEN)
    if ref is not None:
        query = query.where(InboundMessageRow.ref == ref)
    rows = (
        await session.execute(query.order_by(InboundMessageRow.received_at).limit(limit))
    ).scalars()
    return [
        CrisisAlert(
            message_id=row.id,
            ref=row.ref,
            channel=row.channel,
            received_at=as_utc(row.received_at),
            body=open_text(keyring, row.body),
        )
        for row in rows
    ]


async def count_open_alerts(session: AsyncSession) -> int:
    """How many crisis alerts wait for a person."""
    return int(
        (
            await session.execute(select(func.count()).select_from(InboundMessageRow).where(*_OPEN))
        ).scalar_one()
    )


async def keep_acknowledgement_note(
    session_factory: async_sessionmaker[AsyncSession], keyring: KeyRing, message_id: str, note: str
) -> None:
    """Keep (sealed) what the coordinator who acknowledged a crisis alert wrote."""
    async with write_transaction(session_factory) as session:
        await session.execute(
            update(InboundMessageRow)
            .where(InboundMessageRow.id == message_id)
            .values(crisis_acknowledgement_note=seal_text(keyring, note))
        )
