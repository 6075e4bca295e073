"""The read audit's queries: record one look at a referral, and list who has looked.

Written by ``services.read_audit.record_access`` (the one door the API, the dashboard and the
CLI share); listed for coordinators (``GET /v1/referrals/{ref}/views``, the referral page).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from infra.database import as_utc
from models.read_audit import AccessChannel, ReferralAccess, ReferralAccessLog
from models.roles import Role
from models.tables import ReadAuditRow


async def insert_access(
    session: AsyncSession,
    *,
    ref: str,
    at: datetime,
    through: AccessChannel,
    actor: str,
    key_id: str | None,
    role: Role | None,
) -> None:
    """Add one look at ``ref`` (the caller commits)."""
    await session.execute(
        insert(ReadAuditRow).values(
            ref=ref,
            at=as_utc(at),
            through=through.value,
            actor=actor,
            key_id=key_id,
            role=None if role is None else role.value,
        )
    )


async def accesses(session: AsyncSession, ref: str, *, limit: int = 100) -> ReferralAccessLog:
    """Who has looked at ``ref``, newest first (at most ``limit``), and how many looks in all
    (``ix_read_audit_ref_at``)."""
    rows = (
        await session.execute(
            select(
                ReadAuditRow.at,
                ReadAuditRow.through,
                ReadAuditRow.actor,
                ReadAuditRow.key_id,
                ReadAuditRow.role,
            )
            .where(ReadAuditRow.ref == ref)
            .order_by(ReadAuditRow.at.desc(), ReadAuditRow.id.desc())
            .limit(limit)
        )
    ).all()
    total = await session.scalar(select(func.count()).where(ReadAuditRow.ref == ref))
    return ReferralAccessLog(
        ref=ref,
        total=int(total or 0),
        items=[
            ReferralAccess(
                at=as_utc(r.at),
                through=AccessChannel(r.through),
                actor=r.actor,
                key_id=r.key_id,
                role=None if r.role is None else Role(r.role),
            )
            for r in rows
        ],
    )
