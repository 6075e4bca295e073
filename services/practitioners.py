"""The practitioner registry as coordinators change it: every change that may free capacity
(a new practitioner, a raised capacity, a return from leave) wakes the allocator."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.allocation import wake_allocator
from models.practitioner import PractitionerChange
from models.records import Practitioner
from readmodel.practitioners import add_practitioner


async def save(
    client: Client | None,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    task_queue: str,
    id: str,
    name: str,
    email: str,
    capacity: int,
    active: bool = True,
    auto_allocate: bool = True,
    sweep_every: timedelta | None = None,
) -> Practitioner:
    """Add or change a practitioner; wake the allocator when they can take someone.

    Checked with ``PractitionerChange`` (the API's body and the CLI's check) before anything
    is stored: bad input raises pydantic's ``ValidationError`` naming the field."""
    change = PractitionerChange(id=id, name=name, email=email, capacity=capacity, active=active)
    practitioner = await add_practitioner(
        session_factory,
        change.id,
        change.name,
        str(change.email),
        capacity=change.capacity,
        active=change.active,
    )
    if client is not None and auto_allocate and active and practitioner.caseload < capacity:
        await wake_allocator(client, task_queue, "capacity_changed", sweep_every)
    return practitioner
