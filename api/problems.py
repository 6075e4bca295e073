"""Errors as ``application/problem+json`` (RFC 9457), with a clear ``detail`` and nothing else.

A problem never echoes what was sent: no personal data, no free text, no input values. A 422
lists each invalid field by location with pydantic's message (which names the rule, not the
value); pydantic's ``input`` and ``ctx`` are dropped. Unexpected exceptions become a plain 500
whose log line names the exception type only (its message could quote personal data).
"""

from __future__ import annotations

import http
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from services.referrals import ActionRejected, NotFound
from services.worker_presence import WorkerUnavailable

log = structlog.get_logger("harbour.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
# A location component longer than this is cut (a JSON key is still something someone typed).
_MAX_LOC_PART = 64


class FieldError(BaseModel):
    """One invalid field: where it is, and which rule it broke."""

    loc: list[str | int] = Field(description='e.g. ["body", "client", "email"]')
    msg: str
    type: str


class Problem(BaseModel):
    """An error (RFC 9457). ``code`` is a stable machine-readable name for the problem."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raise to answer with a problem; ``headers`` e.g. ``Retry-After`` or ``WWW-Authenticate``."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.errors = errors


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    errors: list[FieldError] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body = Problem(
        title=http.HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        code=code,
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_MEDIA_TYPE,
    )


def not_found(what: str = "referral") -> ProblemError:
    """The same answer whether the thing is missing or belongs to someone else."""
    return ProblemError(404, "not_found", f"no such {what}")


def field_errors(errors: Sequence[Any]) -> list[FieldError]:
    """pydantic / FastAPI errors reduced to location, message and type: never the input."""
    cleaned = []
    for error in errors:
        loc = [
            part if isinstance(part, int) else str(part)[:_MAX_LOC_PART]
            for part in error.get("loc", ())
        ]
        kind = str(error.get("type", "value_error"))
        message = str(error.get("msg", "invalid value"))
        if kind == "value_error":
            # Our validators' messages are plain rules, but a library's (email_validator) may
            # quote part of the value after a colon: keep only the rule.
            message = message.split(": ", 1)[0]
        cleaned.append(FieldError(loc=loc, msg=message, type=kind))
    return cleaned


_STATUS_CODES = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_media_type",
}


async def _problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, ProblemError)
    return problem_response(
        error.status, error.code, error.detail, headers=error.headers, errors=error.errors
    )


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    status = error.status_code
    if status == 400:
        # FastAPI's "error parsing the body" (undecodable bytes): invalid input, like bad JSON.
        return problem_response(
            422,
            "validation",
            "the request is not valid: see errors",
            errors=[
                FieldError(loc=["body"], msg="the body could not be read as JSON", type="body")
            ],
        )
    headers = dict(error.headers or {})
    if status == 405:
        # Starlette names the methods of the first route that matched the path only: every
        # route of the path counts (GET and POST /v1/referrals, POST and DELETE …/hold).
        headers["Allow"] = _allowed_methods(request)
    detail = {
        404: "no such resource",
        405: "this method is not allowed here",
        413: "the request body is larger than this API accepts",
    }.get(status, http.HTTPStatus(status).phrase.lower())
    return problem_response(
        status, _STATUS_CODES.get(status, "http_error"), detail, headers=headers
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method some route of the request's path answers, for a 405's ``Allow``: each
    method is tried against the routes (included routers match for their own routes)."""
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]
    return ", ".join(allowed)


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError | ValidationError)
    return problem_response(
        422,
        "validation",
        "the request is not valid: see errors",
        errors=field_errors(error.errors()),
    )


async def _action_rejected(request: Request, error: Exception) -> Response:
    assert isinstance(error, ActionRejected)
    # The workflow's reasons name stages, rules and ids — never personal data (pathway.py).
    return problem_response(409, "action_rejected", error.reason)


async def _not_found(request: Request, error: Exception) -> Response:
    return problem_response(404, "not_found", "no such referral")


async def _temporal_unavailable(request: Request, error: Exception) -> Response:
    log.warning("temporal unavailable", error_type=type(error).__name__, path=request.url.path)
    return problem_response(
        503,
        "unavailable",
        "the workflow service is unavailable; try again shortly",
        headers={"Retry-After": "5"},
    )


async def _worker_unavailable(request: Request, error: Exception) -> Response:
    log.warning("no worker answered", path=request.url.path)
    return problem_response(
        503,
        "unavailable",
        "no Harbour worker is running to carry this out now; it may still be carried out "
        "when one starts, so check the referral's state before repeating it",
        headers={"Retry-After": "30"},
    )


def install(app: FastAPI) -> None:
    """Answer every error of ``app``'s routes as problem+json (add ``CatchAll`` as the
    outermost middleware for what escapes them)."""
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ValidationError, _validation_error)
    app.add_exception_handler(ActionRejected, _action_rejected)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(RPCError, _temporal_unavailable)
    app.add_exception_handler(WorkerUnavailable, _worker_unavailable)
    app.add_exception_handler(WorkflowUpdateRPCTimeoutOrCancelledError, _temporal_unavailable)


class CatchAll:
    """Outermost safety net: an unexpected exception is a plain 500 problem, logged by type.

    Starlette's own handler for ``Exception`` re-raises after answering; this one does not,
    so a server never prints a traceback whose message could hold personal data.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            log.error(
                "unhandled error in request",
                error_type=type(error).__name__,
                path=scope.get("path"),
                method=scope.get("method"),
            )
            if started:
                raise
            response = problem_response(500, "internal", "something went wrong on our side")
            await response(scope, receive, send)


_DESCRIPTIONS = {
    401: "No API key, or not a valid one",
    403: "The API key's role may not do this",
    404: "No such resource — or one this key may not see",
    409: "The referral's workflow rejected the action; `detail` says why",
    413: "The request body is too large",
    422: "The request is not valid; `errors` lists each field",
    429: "Too many requests with this key; retry after `Retry-After` seconds",
    503: "Temporal (or the database) is unavailable; retry after `Retry-After` seconds",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the problems a route can answer with."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": Problem, "description": _DESCRIPTIONS[status]}
        if status in (429, 503):
            entry["headers"] = _RETRY_AFTER
        documented[status] = entry
    return documented


def invalid_cursor() -> ProblemError:
    """The 422 for a ``cursor`` query parameter this API did not give out."""
    return ProblemError(
        422,
        "validation",
        "the cursor is not one this API gave out",
        errors=[FieldError(loc=["query", "cursor"], msg="invalid cursor", type="cursor")],
    )
