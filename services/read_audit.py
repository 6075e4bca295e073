"""Read access is audited: every view of a referral — the API's ``GET /v1/referrals/{ref}``,
the dashboard's referral page, the CLI's ``state`` — is recorded here, through one function.

It records who (an API key's id and staff id, or the CLI's staff id: never a key), when (the
wall clock), which referral and through what. It is called once the caller may see the
referral and before anything is shown: a view that cannot be recorded is not shown.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.database import write_transaction
from models.practitioner import ID_PATTERN
from models.read_audit import AccessChannel
from readmodel.read_audit import insert_access
from services.api_keys import KEY_PREFIX, Principal

log = structlog.get_logger(__name__)

_STAFF_ID = re.compile(ID_PATTERN)


class InvalidStaffId(ValueError):
    """A staff id that is not an opaque id (or looks like an API key)."""


def check_staff_id(staff_id: str) -> str:
    """``staff_id`` if it is an opaque id; ``InvalidStaffId`` says what is wrong (without
    repeating it: it could be a pasted key or a name)."""
    if not _STAFF_ID.match(staff_id):
        raise InvalidStaffId("a staff id is 1-64 letters, digits, '.', '_' or '-' (an id)")
    if staff_id.lower().startswith(f"{KEY_PREFIX}_"):
        raise InvalidStaffId("that is an API key, not a staff id: the key is never recorded")
    return staff_id


async def record_access(
    session_factory: async_sessionmaker[AsyncSession],
    ref: str,
    through: AccessChannel,
    who: Principal | str,
    *,
    at: datetime | None = None,
) -> None:
    """Record that ``who`` (an API caller or dashboard user's principal, or the CLI's staff id)
    looked at ``ref`` through ``through``, now (or ``at``)."""
    if isinstance(who, Principal):
        actor, key_id, role = who.staff_id, who.key_id, who.role
    else:
        actor, key_id, role = check_staff_id(who), None, None
    async with write_transaction(session_factory) as session:
        await insert_access(
            session,
            ref=ref,
            at=at or datetime.now(UTC),
            through=through,
            actor=actor,
            key_id=key_id,
            role=role,
        )
    log.info("referral viewed", ref=ref, through=through.value, key_id=key_id)
