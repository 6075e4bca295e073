"""Practitioners: who they are, their capacity, and how many clients each has now."""

from __future__ import annotations

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.database import insert_for, write_transaction
from models.records import Practitioner
from models.tables import PractitionerRow
from readmodel.caseloads import active_caseloads

log = structlog.get_logger(__name__)

SessionFactory = async_sessionmaker[AsyncSession]


async def add_practitioner(
    session_factory: SessionFactory,
    id: str,
    name: str,
    email: str,
    capacity: int,
    active: bool = True,
) -> Practitioner:
    """Add a practitioner, or update one with this id (name, email, capacity, active)."""
    if capacity < 0:
        raise ValueError("capacity cannot be negative")
    values = {"id": id, "name": name, "email": email, "capacity": capacity, "active": active}
    async with write_transaction(session_factory) as session:
        stmt = insert_for(session, PractitionerRow).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[PractitionerRow.id],
            set_={key: stmt.excluded[key] for key in values if key != "id"},
        )
        await session.execute(stmt)
    log.info("practitioner saved", practitioner_id=id, capacity=capacity, active=active)
    found = await list_practitioners(session_factory, ids=[id])
    return found[0]


async def list_practitioners(
    session_factory: SessionFactory,
    *,
    active_only: bool = False,
    ids: list[str] | None = None,
) -> list[Practitioner]:
    """Practitioners by id, each with the number of episodes now on their caseload."""
    query = select(PractitionerRow).order_by(PractitionerRow.id)
    if active_only:
        query = query.where(PractitionerRow.active.is_(True))
    if ids is not None:
        query = query.where(PractitionerRow.id.in_(ids))
    async with session_factory() as session:
        rows = (await session.scalars(query)).all()
        counts = await active_caseloads(session)
    return [
        Practitioner(
            id=row.id,
            name=row.name,
            email=row.email,
            capacity=row.capacity,
            active=row.active,
            caseload=counts.get(row.id, 0),
        )
        for row in rows
    ]
