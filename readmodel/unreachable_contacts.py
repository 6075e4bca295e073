"""Contacts a gateway reported as failing for good: later letters skip them until the person
writes to us from that contact again. Held as keyed hashes, never the contacts themselves."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from infra.database import insert_for
from models.tables import UnreachableContactRow


async def mark_unreachable(
    session: AsyncSession, contact_key: str, channel: str, ref: str | None
) -> None:
    """Record that ``contact_key`` failed for good (the first report stays)."""
    await session.execute(
        insert_for(session, UnreachableContactRow)
        .values(contact_key=contact_key, channel=channel, since=datetime.now(UTC), ref=ref)
        .on_conflict_do_nothing()
    )


async def mark_reachable(session: AsyncSession, contact_key: str) -> None:
    """The person wrote to us from this contact: it works again."""
    await session.execute(
        delete(UnreachableContactRow).where(UnreachableContactRow.contact_key == contact_key)
    )


async def unreachable_among(session: AsyncSession, contact_keys: Iterable[str]) -> set[str]:
    """Which of ``contact_keys`` are marked unreachable."""
    keys = await session.scalars(
        select(UnreachableContactRow.contact_key).where(
            UnreachableContactRow.contact_key.in_(sorted(set(contact_keys)))
        )
    )
    return set(keys)
