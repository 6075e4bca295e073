"""Referral lists: newest first, filtered, a page at a time — for the API and the dashboard.

Codes, dates and flags only: no client's name, contact or free text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from infra.database import as_utc
from models.referral import Stage, Urgency
from models.tables import ReferralRow
from readmodel.cursors import read_referral_cursor, referral_cursor


class ReferralSummary(BaseModel):
    """One row of the read model: stage, dates, flags and codes. No personal data."""

    ref: str
    stage: Stage
    urgency: Urgency
    referrer_organisation: str
    received_at: datetime
    accepted_at: datetime | None
    waiting_since: datetime | None
    first_session_at: datetime | None
    discharged_at: datetime | None
    practitioner_id: str | None
    episode_number: int
    breach: bool
    in_validation_queue: bool
    withdrawal_pending: bool
    closed_reason: str | None
    decline_reason: str | None
    updated_at: datetime


@dataclass(frozen=True)
class ReferralFilters:
    """Which referrals a list shows; None means any. ``organisation`` and ``practitioner``
    also carry what a referrer's or a practitioner's key may see."""

    stage: Stage | None = None
    practitioner: str | None = None
    organisation: str | None = None
    breach: bool | None = None

    def where(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.stage is not None:
            clauses.append(ReferralRow.stage == self.stage.value)
        if self.practitioner is not None:
            clauses.append(ReferralRow.practitioner_id == self.practitioner)
        if self.organisation is not None:
            clauses.append(ReferralRow.referrer_organisation == self.organisation)
        if self.breach is not None:
            clauses.append(ReferralRow.breach.is_(self.breach))
        return clauses


@dataclass(frozen=True)
class ReferralList:
    """A page of referrals, newest first, and where the next page starts (None at the end)."""

    items: list[ReferralSummary]
    next_cursor: str | None


_NEWEST_FIRST = (ReferralRow.received_at.desc(), ReferralRow.ref.desc())


async def referral_list(
    session: AsyncSession,
    filters: ReferralFilters,
    *,
    limit: int,
    cursor: str | None = None,
    offset: int = 0,
) -> ReferralList:
    """Referrals newest first, after ``cursor`` (keyset) or from ``offset``."""
    query = select(ReferralRow).where(*filters.where())
    if cursor is not None:
        after_at, after_ref = _decode_cursor(cursor)
        query = query.where(
            tuple_(ReferralRow.received_at, ReferralRow.ref) < (after_at, after_ref)
        )
    query = query.order_by(*_NEWEST_FIRST).offset(offset).limit(limit + 1)
    rows = (await session.scalars(query)).all()
    items = [_summary(row) for row in rows[:limit]]
    more = len(rows) > limit
    return ReferralList(
        items=items,
        next_cursor=_encode_cursor(items[-1].received_at, items[-1].ref) if more else None,
    )


async def count_referrals(session: AsyncSession, filters: ReferralFilters) -> int:
    """How many referrals the filters let through."""
    query = select(func.count()).select_from(ReferralRow).where(*filters.where())
    return int((await session.execute(query)).scalar_one())


async def referral_exists(session: AsyncSession, ref: str) -> bool:
    """Whether the read model knows ``ref``."""
    found = await session.execute(select(ReferralRow.ref).where(ReferralRow.ref == ref))
    return found.scalar_one_or_none() is not None


async def referral_summary(session: AsyncSession, ref: str) -> ReferralSummary | None:
    """One referral's row, or None when the read model does not know it (yet)."""
    row = await session.get(ReferralRow, ref)
    return None if row is None else _summary(row)


async def referral_summaries(session: AsyncSession, refs: list[str]) -> list[ReferralSummary]:
    """The summaries of ``refs``, in the order given (refs unknown to the read model left out)."""
    if not refs:
        return []
    rows = (await session.execute(select(ReferralRow).where(ReferralRow.ref.in_(refs)))).scalars()
    by_ref = {row.ref: _summary(row) for row in rows}
    return [by_ref[ref] for ref in refs if ref in by_ref]


def _summary(row: ReferralRow) -> ReferralSummary:
    def utc(value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    return ReferralSummary(
        ref=row.ref,
        stage=Stage(row.stage),
        urgency=Urgency(row.urgency),
        referrer_organisation=row.referrer_organisation,
        received_at=as_utc(row.received_at),
        accepted_at=utc(row.accepted_at),
        waiting_since=utc(row.waiting_since),
        first_session_at=utc(row.first_session_at),
        discharged_at=utc(row.discharged_at),
        practitioner_id=row.practitioner_id,
        episode_number=row.episode_number,
        breach=row.breach,
        in_validation_queue=row.in_validation_queue,
        withdrawal_pending=row.withdrawal_pending,
        closed_reason=row.closed_reason,
        decline_reason=row.decline_reason,
        updated_at=as_utc(row.updated_at),
    )


def _encode_cursor(received_at: datetime, ref: str) -> str:
    return referral_cursor(received_at, ref)


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    return read_referral_cursor(cursor)
