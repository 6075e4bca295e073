"""Dashboard sessions on the server: signing in opens one, signing out (or revoking the key)
ends it, and every request checks that its session is still open.

The signed cookie carries only the key's id, an expiry and the session's id (256 random bits);
the database keeps the SHA-256 of that id, the key, when it started, when it expires and when it
ended. So a copied cookie stops working the moment its session is ended, on every API process
that shares the database, instead of living on until its expiry.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.database import write_transaction
from models.roles import Role
from readmodel.dashboard_sessions import (
    active_session_key,
    end_session,
    insert_session,
)
from services.api_keys import Principal

SessionFactory = async_sessionmaker[AsyncSession]
# secrets.token_urlsafe(32): 43 characters.
SESSION_ID_LENGTH = 43


# The roles that may sign in to the dashboard: coordinators, and practitioners (their workspace).
DASHBOARD_ROLES = frozenset({Role.COORDINATOR, Role.PRACTITIONER})


@dataclass(frozen=True)
class OpenedSession:
    """A session just opened: its id (for the cookie only) and when it expires."""

    id: str
    expires_at: datetime


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def open_session(
    session_factory: SessionFactory, key_id: str, lifetime: timedelta
) -> OpenedSession:
    """Open a session for ``key_id`` lasting ``lifetime`` from now."""
    session_id = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    # Whole seconds: the cookie carries the expiry as a Unix time.
    expires_at = (now + lifetime).replace(microsecond=0)
    async with write_transaction(session_factory) as session:
        await insert_session(
            session, id_hash=_hash(session_id), key_id=key_id, at=now, expires_at=expires_at
        )
    return OpenedSession(id=session_id, expires_at=expires_at)


async def session_principal(
    session_factory: SessionFactory, session_id: str, key_id: str, *, referrer: bool = False
) -> Principal | None:
    """The coordinator or practitioner whose open session this is — or, with ``referrer``, the
    referrer (the referrers' own pages) — else None: the session ended (signed out, key
    revoked), expired, belongs to another key, or the key's role is not one of those (a
    practitioner's with their practitioner id, a referrer's with its organisation)."""
    if len(session_id) != SESSION_ID_LENGTH:
        return None
    async with session_factory() as session:
        row = await active_session_key(
            session, id_hash=_hash(session_id), key_id=key_id, now=datetime.now(UTC)
        )
    if row is None:
        return None
    if referrer:
        if row.role == Role.REFERRER.value and row.organisation:
            return Principal(
                key_id=row.id, role=Role.REFERRER, organisation=row.organisation, label=row.label
            )
        return None
    if row.role == Role.COORDINATOR.value:
        return Principal(key_id=row.id, role=Role.COORDINATOR, label=row.label)
    if row.role == Role.PRACTITIONER.value and row.practitioner_id:
        return Principal(
            key_id=row.id,
            role=Role.PRACTITIONER,
            practitioner_id=row.practitioner_id,
            label=row.label,
        )
    return None


async def close_session(session_factory: SessionFactory, session_id: str) -> bool:
    """End a session now (signing out); False when it was not open."""
    async with write_transaction(session_factory) as session:
        return await end_session(session, id_hash=_hash(session_id), at=datetime.now(UTC))
