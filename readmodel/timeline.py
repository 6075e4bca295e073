"""A referral's timeline: every recorded event, in order."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.database import as_utc
from models.referral import TimelineEvent
from models.tables import TimelineEventRow

SessionFactory = async_sessionmaker[AsyncSession]


async def get_timeline(session_factory: SessionFactory, ref: str) -> list[TimelineEvent]:
    """Every recorded event of a referral, in order (the workflow keeps only recent ones)."""
    async with session_factory() as session:
        rows = (
            (
                await session.execute(
                    select(TimelineEventRow)
                    .where(TimelineEventRow.ref == ref)
                    .order_by(TimelineEventRow.seq)
                )
            )
            .scalars()
            .all()
        )
    return [
        TimelineEvent(
            seq=row.seq, at=as_utc(row.at), kind=row.kind, stage=row.stage, detail=row.detail
        )
        for row in rows
    ]
