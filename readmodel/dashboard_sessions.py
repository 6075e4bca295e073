"""Dashboard sign-ins kept on the server (``dashboard_sessions``): start one, find an active one
with its API key, end one, end all of a key's.

A session is known by the SHA-256 of its id (the id itself travels only in the signed cookie),
so a copy of the database cannot be turned into a working cookie.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from infra.database import as_utc
from models.tables import ApiKeyRow, DashboardSessionRow


async def insert_session(
    session: AsyncSession, *, id_hash: str, key_id: str, at: datetime, expires_at: datetime
) -> None:
    """Add a session (the caller commits)."""
    await session.execute(
        insert(DashboardSessionRow).values(
            id=id_hash,
            key_id=key_id,
            created_at=as_utc(at),
            expires_at=as_utc(expires_at),
            ended_at=None,
        )
    )


async def active_session_key(
    session: AsyncSession, *, id_hash: str, key_id: str, now: datetime
) -> ApiKeyRow | None:
    """The API key of session ``id_hash`` if the session belongs to ``key_id``, has not ended
    or expired, and the key is not revoked; else None (one indexed query)."""
    found = await session.execute(
        select(ApiKeyRow)
        .join(DashboardSessionRow, DashboardSessionRow.key_id == ApiKeyRow.id)
        .where(
            DashboardSessionRow.id == id_hash,
            DashboardSessionRow.key_id == key_id,
            DashboardSessionRow.ended_at.is_(None),
            DashboardSessionRow.expires_at > as_utc(now),
            ApiKeyRow.revoked_at.is_(None),
        )
    )
    return found.scalar_one_or_none()


async def end_session(session: AsyncSession, *, id_hash: str, at: datetime) -> bool:
    """End one session (the first end time stays); False when no open session had that id."""
    ended = await session.execute(
        update(DashboardSessionRow)
        .where(DashboardSessionRow.id == id_hash, DashboardSessionRow.ended_at.is_(None))
        .values(ended_at=as_utc(at))
    )
    return bool(ended.rowcount)  # type: ignore[attr-defined]


async def end_key_sessions(session: AsyncSession, *, key_id: str, at: datetime) -> int:
    """End every open session of ``key_id`` (its key was revoked); how many were open."""
    ended = await session.execute(
        update(DashboardSessionRow)
        .where(DashboardSessionRow.key_id == key_id, DashboardSessionRow.ended_at.is_(None))
        .values(ended_at=as_utc(at))
    )
    return int(ended.rowcount)  # type: ignore[attr-defined]
