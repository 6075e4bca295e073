"""Caseloads: each practitioner's places, how many are taken, and who waits for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from infra.database import as_utc
from models.allocation import PractitionerRoom
from models.referral import Stage
from models.tables import CaseloadRow, PractitionerRow, ReferralRow
from readmodel.waiting_list import returning_waiting

# An episode holds a place from its reservation until it ends (discharge, a declined offer).
ACTIVE_EPISODE = CaseloadRow.ended_at.is_(None)


async def active_caseloads(session: AsyncSession) -> dict[str, int]:
    """Active episodes per practitioner (those with none are absent)."""
    rows = await session.execute(
        select(CaseloadRow.practitioner_id, func.count())
        .where(ACTIVE_EPISODE)
        .group_by(CaseloadRow.practitioner_id)
    )
    return {practitioner: int(n) for practitioner, n in rows.all()}


async def practitioner_rooms(
    session: AsyncSession, *, lock: bool = False
) -> list[PractitionerRoom]:
    """Every practitioner with their capacity and active caseload — locked (PostgreSQL's
    ``FOR UPDATE``) when the caller is deciding allocations in this transaction."""
    query = select(PractitionerRow).order_by(PractitionerRow.id)
    if lock and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    practitioners = (await session.scalars(query)).all()
    counts = await active_caseloads(session)
    return [
        PractitionerRoom(
            id=p.id, capacity=p.capacity, caseload=counts.get(p.id, 0), active=p.active
        )
        for p in practitioners
    ]


class CaseloadEntry(BaseModel):
    """An episode on a practitioner's caseload."""

    ref: str
    episode: int
    started_at: datetime
    stage: Stage | None


async def caseload_entries(session: AsyncSession, practitioner_id: str) -> list[CaseloadEntry]:
    """The episodes now on a practitioner's caseload, oldest first."""
    rows = await session.execute(
        select(CaseloadRow, ReferralRow.stage)
        .outerjoin(ReferralRow, ReferralRow.ref == CaseloadRow.ref)
        .where(CaseloadRow.practitioner_id == practitioner_id, ACTIVE_EPISODE)
        .order_by(CaseloadRow.started_at, CaseloadRow.ref)
    )
    return [
        CaseloadEntry(
            ref=row.ref,
            episode=row.episode,
            started_at=as_utc(row.started_at),
            stage=None if stage is None else Stage(stage),
        )
        for row, stage in rows.all()
    ]


@dataclass(frozen=True)
class CaseloadLine:
    """A practitioner's caseload as the Caseloads page shows it."""

    id: str
    name: str
    capacity: int
    active: bool
    caseload: int
    returning_waiting: int

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.caseload) if self.active else 0


async def caseload_lines(session: AsyncSession) -> list[CaseloadLine]:
    """Every practitioner's caseload, with the returning clients waiting for them."""
    rooms = await practitioner_rooms(session)
    names = dict((await session.execute(select(PractitionerRow.id, PractitionerRow.name))).all())
    returning = await returning_waiting(session)
    return [
        CaseloadLine(
            id=room.id,
            name=names[room.id],
            capacity=room.capacity,
            active=room.active,
            caseload=room.caseload,
            returning_waiting=returning.get(room.id, 0),
        )
        for room in rooms
    ]
