"""What happened to one referral besides its timeline: letters sent, sessions, liaison.

A session's location is free text, kept sealed: ``sessions`` opens it for the coordinator
who reads the referral.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from infra.database import as_utc
from infra.keys import KeyRing
from models.tables import (
    LiaisonActionRow,
    OutboxRow,
    SessionRow,
)
from readmodel.sealed_text import open_text
from readmodel.sql import (
    run,
)


@dataclass
class SentLetter:
    """A letter or alert sent for a referral: what and to whom (a role), never the body."""

    kind: str
    recipient_role: str
    channel: str
    subject: str
    status: str
    created_at: datetime
    sent_at: datetime | None


@dataclass
class SessionLine:
    """A recorded session: when, how it went, and where (opened from its sealed form)."""

    episode: int
    session_id: str
    at: datetime
    outcome: str
    location: str


@dataclass
class LiaisonLine:
    episode: int
    session_id: str
    kind: str
    at: datetime


async def letters(session: AsyncSession, ref: str) -> list[SentLetter]:
    """The outbox rows of a referral, oldest first (``ix_outbox_ref``)."""
    rows = (
        await run(
            session,
            select(
                OutboxRow.kind,
                OutboxRow.recipient_role,
                OutboxRow.channel,
                OutboxRow.subject,
                OutboxRow.status,
                OutboxRow.created_at,
                OutboxRow.sent_at,
            )
            .where(OutboxRow.ref == ref)
            .order_by(OutboxRow.created_at, OutboxRow.key),
        )
    ).all()
    return [
        SentLetter(
            kind=r.kind,
            recipient_role=r.recipient_role,
            channel=r.channel,
            subject=r.subject,
            status=r.status,
            created_at=as_utc(r.created_at),
            sent_at=None if r.sent_at is None else as_utc(r.sent_at),
        )
        for r in rows
    ]


async def sessions(session: AsyncSession, keyring: KeyRing, ref: str) -> list[SessionLine]:
    """Recorded sessions of every episode, their locations opened with ``keyring``."""
    rows = (
        await run(
            session,
            select(
                SessionRow.episode,
                SessionRow.session_id,
                SessionRow.at,
                SessionRow.outcome,
                SessionRow.location,
            )
            .where(SessionRow.ref == ref)
            .order_by(SessionRow.episode, SessionRow.at),
        )
    ).all()
    return [
        SessionLine(
            episode=r.episode,
            session_id=r.session_id,
            at=as_utc(r.at),
            outcome=r.outcome,
            location=open_text(keyring, r.location),
        )
        for r in rows
    ]


async def liaison(session: AsyncSession, ref: str) -> list[LiaisonLine]:
    rows = (
        await run(
            session,
            select(
                LiaisonActionRow.episode,
                LiaisonActionRow.session_id,
                LiaisonActionRow.kind,
                LiaisonActionRow.at,
            )
            .where(LiaisonActionRow.ref == ref)
            .order_by(LiaisonActionRow.episode, LiaisonActionRow.at, LiaisonActionRow.kind),
        )
    ).all()
    return [
        LiaisonLine(episode=r.episode, session_id=r.session_id, kind=r.kind, at=as_utc(r.at))
        for r in rows
    ]
