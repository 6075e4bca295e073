"""Every query parameter of the API is given once: a repeated one is a 422 naming it.

The API has no list-valued query parameter, and FastAPI would quietly keep the last of several
values (``?referrer_organisation=A&referrer_organisation=B`` filters by B), so a request that
repeats one is refused as invalid instead of half-read. A pure ASGI middleware, inside
authentication: an unauthenticated caller still gets the 401 first.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import FieldError, problem_response

# A name is echoed only when it looks like one of ours: what was sent is never repeated back.
_NAME = re.compile(r"[a-z_]{1,40}")


def repeated_parameters(query_string: bytes) -> list[str]:
    """The names that occur more than once in a query string, in order of first appearance."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    counts = Counter(name for name, _ in pairs)
    return [name for name, count in counts.items() if count > 1]


class QueryParametersOnce:
    """Answer 422 to an API request (``/v1/…``) that gives a query parameter more than once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            repeated = repeated_parameters(scope.get("query_string", b""))
            if repeated:
                errors = [
                    FieldError(
                        loc=["query", name] if _NAME.fullmatch(name) else ["query"],
                        msg="given more than once: give it once",
                        type="repeated",
                    )
                    for name in repeated
                ]
                response = problem_response(
                    422, "validation", "the request is not valid: see errors", errors=errors
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
