"""``/healthz`` (the process is up) and ``/readyz`` (the database and Temporal answer)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from api.context import ApiContext, get_context
from api.schemas import Health, Readiness

router = APIRouter(tags=["health"])
log = structlog.get_logger("harbour.api")

CHECK_TIMEOUT_SECONDS = 3.0


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    """Answers as long as the process serves requests (no dependency is checked)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="The database and Temporal are reachable",
    responses={503: {"model": Readiness, "description": "a dependency does not answer"}},
)
async def readyz(context: Annotated[ApiContext, Depends(get_context)]) -> JSONResponse:
    """200 when both the database and Temporal answer within a few seconds, else 503."""
    database, temporal = await asyncio.gather(_database_ok(context), _temporal_ok(context))
    ready = database and temporal
    body = Readiness(
        status="ready" if ready else "unavailable", database=database, temporal=temporal
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


async def _database_ok(context: ApiContext) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            async with context.session_factory() as session:
                await session.execute(text("SELECT 1"))
        return True
    except Exception as error:
        log.warning("readiness: database", error_type=type(error).__name__)
        return False


async def _temporal_ok(context: ApiContext) -> bool:
    try:
        await context.client.workflow_service.get_system_info(
            GetSystemInfoRequest(), timeout=timedelta(seconds=CHECK_TIMEOUT_SECONDS)
        )
        return True
    except Exception as error:
        log.warning("readiness: temporal", error_type=type(error).__name__)
        return False
