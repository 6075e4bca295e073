"""Times every action over HTTP (any POST, PUT, PATCH or DELETE that reached a route) into
``harbour_action_seconds``, labelled by the route's *name* — a name in the code, such as
``triage`` or ``record_session``, never the path, which holds a reference, nor anything typed.

A request that matched no route (404, 405) is not timed: its label could only be the path.
"""

from __future__ import annotations

import time

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from services.metrics import HarbourMetrics

ACTION_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ActionTiming:
    """Pure ASGI middleware: observes the time from the request to the end of the response."""

    def __init__(self, app: ASGIApp, metrics: HarbourMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ACTION_METHODS:
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            # The router put the matched route in this same scope.
            route = scope.get("route")
            name = getattr(route, "name", None) if isinstance(route, BaseRoute) else None
            if isinstance(name, str) and name:
                self.metrics.observe_action(name, time.perf_counter() - began)
