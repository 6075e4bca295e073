"""The API's access log: one line per request, with nothing anyone typed in it.

uvicorn's own access log writes the raw request line, query string included: typed search
text (a name, a phone number) and anything else in a URL would be logged verbatim. This one
logs the method, the route's template (``/v1/referrals/{ref}``, never the raw path, which can
hold typed text too), the referral reference when the route has one and it is well formed (an
opaque id), the status and the time taken. A request that matched no route is logged as such.
"""

from __future__ import annotations

import re
import time

import structlog
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.referral import REFERENCE_PATTERN

log = structlog.get_logger("harbour.access")

_REFERENCE = re.compile(REFERENCE_PATTERN)


class AccessLog:
    """Log each HTTP request once it is answered (``harbour.access``, INFO)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500  # what the server answers if the app fails before a response starts

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            fields: dict[str, object] = {
                "method": scope.get("method"),
                "route": route.path
                if isinstance(route, BaseRoute) and hasattr(route, "path")
                else "(no route)",
                "status": status,
                "ms": round((time.perf_counter() - began) * 1000, 1),
            }
            ref = (scope.get("path_params") or {}).get("ref")
            if isinstance(ref, str) and _REFERENCE.match(ref):
                fields["ref"] = ref
            log.info("request", **fields)
