"""API keys as the HTTP API checks them: before anything else, then the role dependencies.

``AuthenticateFirst`` (a pure ASGI middleware) checks the bearer key of every ``/v1/`` request
from its headers alone, before any route runs and so before any body is read: a request
without a valid key is answered 401 having cost a header parse and one indexed lookup, however
large a body it announces. The one exception is the webhook's signed email shape, whose
signature covers the body: it goes on to the route with the body cap in force. The
``principal`` dependencies then read what the middleware found.

A key is accepted in the ``Authorization`` header only. One in a URL (a query parameter)
would be written to access logs, proxies and browser history, so such a request is refused
(400) whatever its path, without echoing it.

Keys themselves (their format, hashing, roles, creation and revocation) are
``services.api_keys``: the CLI and the dev stack manage them there too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.context import ApiContext
from api.problems import ProblemError, problem_response
from services.api_keys import KEY_PREFIX, Principal, Role, authenticate

# Principal and Role are re-exported: the routes name them through this module.
__all__ = [
    "UNAUTHENTICATED",
    "AuthenticateFirst",
    "Principal",
    "Role",
    "authenticate",
    "bearer",
    "optional_principal",
    "principal",
    "require",
]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key (`hbk_…`) created with `starter.py apikey create`.",
)

UNAUTHENTICATED = ProblemError(
    401,
    "unauthenticated",
    "a valid API key is required (Authorization: Bearer <key>)",
    headers={"WWW-Authenticate": "Bearer"},
)


# Where AuthenticateFirst leaves its finding in the request's scope.
_CHECKED = "harbour.authenticated"
_PRINCIPAL = "harbour.principal"
# Query parameter names that can only mean a credential; any value with the key prefix too.
_CREDENTIAL_NAMES = frozenset(
    {"api_key", "apikey", "api-key", "key", "token", "access_token", "authorization", "bearer"}
)
_KEY_IN_TEXT = re.compile(rf"{KEY_PREFIX}_[0-9a-f]{{8}}", re.IGNORECASE)


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | None:
    """The caller, if they presented a key; a presented key that is not valid is a 401.

    ``AuthenticateFirst`` has already checked the key of every ``/v1/`` request; this reads
    its finding (``credentials`` is declared for the OpenAPI document's security scheme)."""
    if _CHECKED in request.scope:
        principal: Principal | None = request.scope.get(_PRINCIPAL)
        return principal
    raise UNAUTHENTICATED  # a route outside /v1/ that asked for a key: none was checked


async def principal(
    caller: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The caller; no key is a 401."""
    if caller is None:
        raise UNAUTHENTICATED
    return caller


def require(*roles: Role) -> Any:
    """A dependency: the caller, who must hold one of ``roles`` (else 403)."""
    allowed = frozenset(roles)
    names = ", ".join(sorted(r.value for r in allowed))

    async def dependency(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if caller.role not in allowed:
            raise ProblemError(403, "forbidden", f"this needs an API key of role: {names}")
        return caller

    return Depends(dependency)


class AuthenticateFirst:
    """Authenticate every ``/v1/`` request's bearer key from its headers, before the app reads
    anything else; refuse a credential in any URL.

    ``signed`` maps the paths that also take a body signature instead of a key to the
    signature's header: with that header and no key, the request goes on to the route, which
    checks the signature (over a body no larger than the cap).
    """

    def __init__(self, app: ASGIApp, signed: Mapping[str, str] | None = None) -> None:
        self.app = app
        self.signed = {path: header.lower() for path, header in (signed or {}).items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _credential_in_query(scope.get("query_string", b"")):
            refusal = problem_response(
                400,
                "credentials_in_url",
                "API keys are never accepted in a URL, where logs and browser history would "
                "keep them: send the key as 'Authorization: Bearer <key>' (and replace a key "
                "that has been sent in a URL)",
            )
            await refusal(scope, receive, send)
            return
        path: str = scope["path"]
        if not path.startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        authorization = headers.get("authorization")
        principal: Principal | None = None
        if authorization:
            scheme, _, key = authorization.partition(" ")
            if scheme.lower() == "bearer" and key.strip():
                context: ApiContext = scope["app"].state.harbour
                principal = await authenticate(context.session_factory, key.strip())
            if principal is None:
                await _unauthenticated(scope, receive, send)
                return
        elif path not in self.signed or headers.get(self.signed[path]) is None:
            await _unauthenticated(scope, receive, send)
            return
        scope[_CHECKED] = True
        scope[_PRINCIPAL] = principal
        await self.app(scope, receive, send)


async def _unauthenticated(scope: Scope, receive: Receive, send: Send) -> None:
    error = UNAUTHENTICATED
    await problem_response(error.status, error.code, error.detail, headers=error.headers)(
        scope, receive, send
    )


def _credential_in_query(query_string: bytes) -> bool:
    """Whether a query string carries something that can only be a credential."""
    if not query_string:
        return False
    text = query_string.decode("latin-1")
    pairs = parse_qsl(text, keep_blank_values=True)
    if any(name.strip().lower() in _CREDENTIAL_NAMES for name, _ in pairs):
        return True
    return any(_KEY_IN_TEXT.search(part) for pair in pairs for part in pair) or bool(
        _KEY_IN_TEXT.search(text)
    )
