"""Practitioners and their caseloads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.auth import Principal, Role, require
from api.context import ApiContext, get_context
from api.problems import not_found, responses
from api.schemas import ID_PATTERN, PractitionerBody
from models.records import Practitioner
from readmodel.caseloads import CaseloadEntry, caseload_entries
from readmodel.practitioners import list_practitioners
from services import practitioners as registry

router = APIRouter(prefix="/v1/practitioners", tags=["practitioners"])

PractitionerPath = Annotated[str, Path(pattern=ID_PATTERN, description="e.g. p-ana")]
Context = Annotated[ApiContext, Depends(get_context)]


@router.get(
    "",
    response_model=list[Practitioner],
    summary="Practitioners and how full their caseloads are (coordinators)",
    responses=responses(401, 403),
)
async def practitioners(
    context: Context, caller: Annotated[Principal, require(Role.COORDINATOR)]
) -> list[Practitioner]:
    """Every practitioner with the number of active episodes on their caseload."""
    return await list_practitioners(context.session_factory)


@router.put(
    "/{practitioner_id}",
    response_model=Practitioner,
    summary="Add or update a practitioner (coordinators)",
    responses=responses(401, 403, 422),
)
async def put_practitioner(
    practitioner_id: PractitionerPath,
    body: PractitionerBody,
    context: Context,
    caller: Annotated[Principal, require(Role.COORDINATOR)],
) -> Practitioner:
    """Name, email, caseload capacity and whether they are active (false: on leave). A
    change that frees room wakes the allocator."""
    settings = context.settings
    return await registry.save(
        context.client,
        context.session_factory,
        task_queue=settings.task_queue,
        id=practitioner_id,
        name=body.name,
        email=str(body.email),
        capacity=body.capacity,
        active=body.active,
        auto_allocate=settings.effective_policy().auto_allocate,
        sweep_every=settings.allocator_sweep_every,
    )


@router.get(
    "/{practitioner_id}/caseload",
    response_model=list[CaseloadEntry],
    summary="Active episodes on a practitioner's caseload (coordinators, or that practitioner)",
    responses=responses(401, 403, 404, 422),
)
async def caseload(
    practitioner_id: PractitionerPath,
    context: Context,
    caller: Annotated[Principal, require(Role.COORDINATOR, Role.PRACTITIONER)],
) -> list[CaseloadEntry]:
    """The episodes now on the caseload, oldest first. A practitioner sees only their own."""
    if caller.role == Role.PRACTITIONER and caller.practitioner_id != practitioner_id:
        raise not_found("practitioner")
    known = await list_practitioners(context.session_factory, ids=[practitioner_id])
    if not known:
        raise not_found("practitioner")
    async with context.session_factory() as session:
        return await caseload_entries(session, practitioner_id)
