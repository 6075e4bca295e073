"""The FastAPI application: ``create_app`` wires the routes to a Temporal client and a database.

OpenAPI is served at ``/openapi.json`` and browsable at ``/docs`` (``api.docs``, no CDN). Every
error is ``application/problem+json`` (``api.problems``), and the published schema says so.

Before any route, in this order: the catch-all for unexpected errors, the request's span
(``api.tracing``, when tracing is on) and its timing (``api.action_timing``), the trusted hosts,
the security headers (``api.security_headers``), the body cap (``api.body_limit``) and the
bearer key (``api.auth.AuthenticateFirst``) — so a request without a valid key, or with a body
over the cap, is answered before a byte of its body is held in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from limits.aio.storage import Storage
from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.middleware.trustedhost import TrustedHostMiddleware
from temporalio.client import Client

from api import docs, links, problems
from api.action_timing import ActionTiming
from api.auth import AuthenticateFirst
from api.body_limit import BodyLimit
from api.client_links import router as client_links_router
from api.context import ApiContext
from api.dashboard import router as dashboard_router
from api.portal import router as portal_router
from api.problems import CatchAll, FieldError, ProblemError
from api.query_once import QueryParametersOnce
from api.routes import (
    health,
    inbound_messages,
    inbox,
    practitioners,
    referrals,
    reports,
    waiting_list,
)
from api.routes import metrics as metrics_route
from api.security_headers import SecurityHeaders
from api.self_referral import router as self_referral_router
from api.settings import ApiSettings
from api.tracing import RequestTracing
from models.settings import Settings
from services import received_texts
from services.metrics import HarbourMetrics

DESCRIPTION = """\
Harbour's referral pathway over HTTP: referrers refer, coordinators triage, allocate and
watch the waiting list, practitioners record episodes, gateways deliver clients' messages.

Authenticate with `Authorization: Bearer <API key>` (keys are created with
`starter.py apikey create`). Each key has one role; a referral a key may not see answers 404.
Errors are `application/problem+json`. See docs/api.md.
"""


def create_app(
    settings: Settings,
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
    pseudonym_key: bytes,
    *,
    api_settings: ApiSettings | None = None,
    limits_storage: Storage | None = None,
    metrics: HarbourMetrics | None = None,
    tracer: Tracer | None = None,
) -> FastAPI:
    """The API application over ``client`` (Temporal) and ``session_factory`` (read model).

    ``pseudonym_key`` keys the hashes of contacts (message matching) and of idempotent
    submissions; it must be the worker's. ``limits_storage`` is where the rate limits count
    (default: the storage ``api_settings.rate_limit_storage`` names). ``metrics``: the
    process's registry, with the Temporal SDK's metrics when the process records them
    (default: read-model figures and HTTP timings only). ``tracer``: a span per request
    (``api.tracing``); None, the default, traces nothing.
    """

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The safety net for inbound texts whose callback never came (off without Notify).
        poller = asyncio.create_task(
            received_texts.poll_forever(client, session_factory, pseudonym_key, settings)
        )
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller

    app = FastAPI(
        lifespan=lifespan,
        title="Harbour API",
        version="1",
        description=DESCRIPTION,
        docs_url=None,  # api.docs serves it, from an installed package
        redoc_url=None,
        openapi_url=docs.OPENAPI_PATH,
        dependencies=[Depends(_no_unknown_query_parameters)],
    )
    api_settings = api_settings or ApiSettings()
    app.state.harbour = ApiContext(
        settings=settings,
        api_settings=api_settings,
        client=client,
        session_factory=session_factory,
        pseudonym_key=pseudonym_key,
        metrics=metrics
        or HarbourMetrics(session_factory, max_age=settings.metrics_snapshot_seconds),
        limits_storage=limits_storage,
    )
    problems.install(app)
    # Added innermost first: the last one added sees a request first.
    app.add_middleware(QueryParametersOnce)
    app.add_middleware(
        AuthenticateFirst,
        signed={"/v1/messages/inbound": inbound_messages.SIGNATURE_HEADER},
    )
    app.add_middleware(BodyLimit, max_bytes=api_settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        TrustedHostMiddleware, allowed_hosts=api_settings.trusted_hosts(), www_redirect=False
    )
    # Outside the checks above: the time measured and the span are the whole request's.
    app.add_middleware(ActionTiming, metrics=app.state.harbour.metrics)
    if tracer is not None:
        app.add_middleware(RequestTracing, tracer=tracer)
    app.add_middleware(CatchAll)
    for module in (
        health,
        metrics_route,
        referrals,
        waiting_list,
        practitioners,
        inbox,
        inbound_messages,
        reports,
    ):
        app.include_router(module.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.include_router(docs.router)
    app.include_router(dashboard_router)
    app.include_router(client_links_router, include_in_schema=False)
    app.include_router(portal_router, include_in_schema=False)
    app.include_router(self_referral_router, include_in_schema=False)
    return app


_QUERY_NAMES: dict[int, frozenset[str]] = {}


async def _no_unknown_query_parameters(request: Request) -> None:
    """Refuse query parameters a route does not know, or given twice (422), as bodies refuse
    unknown fields: a mistyped filter (``?stag=waiting``) must not silently return everything,
    and ``?stage=a&stage=b`` must not silently mean ``b``."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    known = _QUERY_NAMES.get(id(route))
    if known is None:
        known = _QUERY_NAMES[id(route)] = frozenset(_query_names(route.dependant))
    if any(name not in known for name in request.query_params):
        # The unknown names are not echoed back: they are text someone typed.
        raise ProblemError(
            422,
            "validation",
            "the request is not valid: see errors",
            errors=[
                FieldError(loc=["query"], msg="unknown query parameter", type="extra_forbidden")
            ],
        )


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with errors as problem+json, the webhook's two body shapes and the
    pathway's links (``api.links``)."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in inbound_messages.SCHEMAS:
        components[model.__name__] = model.model_json_schema(
            by_alias=True, ref_template="#/components/schemas/{model}"
        )
    # FastAPI's default 422 model is never used: ours is a Problem.
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content") or {}
                ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
                if status.isdigit() and int(status) >= 400 and ref.endswith("/Problem"):
                    content[problems.PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    links.add_links(schema)
    return schema
