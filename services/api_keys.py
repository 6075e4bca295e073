"""API keys and roles: create, list, revoke and authenticate (the API's dependency, the CLI's
``apikey`` commands and the dev stack's callback key all use these).

A key looks like ``hbk_<id>_<secret>``: ``id`` finds the row, the secret is 256 random bits.
Only the SHA-256 of the whole key is stored (a fast hash is right for a high-entropy secret:
nothing to brute-force), compared in constant time. The key is printed once, by
``starter.py apikey create``; a lost key is revoked and replaced, never recovered.

Each key has one role: a **referrer** (bound to its organisation), a **coordinator**, a
**practitioner** (bound to their practitioner id) or a **gateway** (the SMS/email gateway that
calls the inbound-message webhook).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel
from pydantic_core import PydanticCustomError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.database import as_utc, write_transaction
from models.practitioner import ID_PATTERN
from models.roles import Role
from models.tables import ApiKeyRow
from models.text import one_line
from readmodel.dashboard_sessions import end_key_sessions

KEY_PREFIX = "hbk"
_KEY = re.compile(r"^hbk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_ORGANISATION_MAX = 200
_ID = re.compile(ID_PATTERN)

SessionFactory = async_sessionmaker[AsyncSession]

__all__ = [
    "KEY_PREFIX",
    "ApiKeyInfo",
    "Principal",
    "Role",
    "authenticate",
    "create_api_key",
    "hash_key",
    "list_api_keys",
    "revoke_api_key",
]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, role and what the role is bound to."""

    key_id: str
    role: Role
    organisation: str | None = None
    practitioner_id: str | None = None
    label: str | None = None

    @property
    def staff_id(self) -> str:
        """The id recorded as the actor of a staff action (opaque: a label or the key id)."""
        return self.label or f"key-{self.key_id}"


class ApiKeyInfo(BaseModel):
    """An API key as listed: never the key itself, nor its hash."""

    id: str
    role: Role
    organisation: str | None
    practitioner_id: str | None
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    """SHA-256 (hex) of a presented key."""
    return hashlib.sha256(key.encode()).hexdigest()


def _check_binding(role: Role, organisation: str | None, practitioner_id: str | None) -> None:
    if role == Role.REFERRER:
        if not organisation or not organisation.strip():
            raise ValueError("a referrer key needs --organisation")
        if len(organisation) > _ORGANISATION_MAX:
            raise ValueError(f"an organisation is at most {_ORGANISATION_MAX} characters")
        try:
            one_line(organisation)
        except PydanticCustomError as refused:
            raise ValueError(f"an organisation {refused.message()}") from None
    elif organisation is not None:
        raise ValueError("only a referrer key is bound to an organisation")
    if role == Role.PRACTITIONER:
        if not practitioner_id or not _ID.match(practitioner_id):
            raise ValueError("a practitioner key needs --practitioner <practitioner id>")
    elif practitioner_id is not None:
        raise ValueError("only a practitioner key is bound to a practitioner")


async def create_api_key(
    session_factory: SessionFactory,
    role: Role | str,
    *,
    organisation: str | None = None,
    practitioner_id: str | None = None,
    label: str | None = None,
) -> tuple[ApiKeyInfo, str]:
    """Create a key; returns its description and the key itself (shown once, never stored)."""
    role = Role(role)
    organisation = organisation.strip() if organisation else organisation
    _check_binding(role, organisation, practitioner_id)
    if label is not None and not _ID.match(label):
        raise ValueError("a label is 1-64 letters, digits, '.', '_' or '-' (an id, not a name)")
    key_id = secrets.token_hex(8)
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = ApiKeyRow(
        id=key_id,
        key_hash=hash_key(key),
        role=role.value,
        organisation=organisation,
        practitioner_id=practitioner_id,
        label=label,
        created_at=datetime.now(UTC),
        revoked_at=None,
    )
    async with write_transaction(session_factory) as session:
        session.add(row)
    return _info(row), key


async def list_api_keys(session_factory: SessionFactory) -> list[ApiKeyInfo]:
    """Every key, oldest first, revoked ones included."""
    async with session_factory() as session:
        rows = (
            await session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id))
        ).all()
    return [_info(row) for row in rows]


async def revoke_api_key(session_factory: SessionFactory, key_id: str) -> bool:
    """Revoke a key at once (the first revocation time stays), and end its dashboard sessions
    in the same transaction. False: no such key."""
    async with write_transaction(session_factory) as session:
        row = await session.get(ApiKeyRow, key_id)
        if row is None:
            return False
        now = datetime.now(UTC)
        await session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        await end_key_sessions(session, key_id=key_id, at=now)
    return True


async def authenticate(session_factory: SessionFactory, presented: str) -> Principal | None:
    """The principal of a presented key, or None (malformed, unknown, revoked or wrong)."""
    match = _KEY.match(presented)
    if match is None:
        return None
    async with session_factory() as session:
        row = await session.get(ApiKeyRow, match.group(1))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, hash_key(presented)):
        return None
    return Principal(
        key_id=row.id,
        role=Role(row.role),
        organisation=row.organisation,
        practitioner_id=row.practitioner_id,
        label=row.label,
    )


def _info(row: ApiKeyRow) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        role=Role(row.role),
        organisation=row.organisation,
        practitioner_id=row.practitioner_id,
        label=row.label,
        created_at=as_utc(row.created_at),
        revoked_at=None if row.revoked_at is None else as_utc(row.revoked_at),
    )
