"""API keys as the HTTP API checks them: the bearer scheme and the role dependencies.

Keys themselves (their format, hashing, roles, creation and revocation) are
``services.api_keys``: the CLI and the dev stack manage them there too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.context import get_context
from api.problems import ProblemError
from services.api_keys import Principal, Role, authenticate

# Principal and Role are re-exported: the routes name them through this module.
__all__ = [
    "UNAUTHENTICATED",
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


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | None:
    """The caller, if they presented a key; a presented key that is not valid is a 401."""
    if credentials is None:
        if request.headers.get("authorization"):
            raise UNAUTHENTICATED  # present, but not "Bearer <key>"
        return None
    principal = await authenticate(get_context(request).session_factory, credentials.credentials)
    if principal is None:
        raise UNAUTHENTICATED
    return principal


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
