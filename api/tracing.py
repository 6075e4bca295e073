"""One span per HTTP request, the parent of what the request asks of Temporal.

A small ASGI middleware rather than opentelemetry-instrumentation-fastapi: that package records
the URL path and query (``url.full``, ``http.target``), which hold references and typed text.
This span is named and labelled by the method and the route's *template* only
(``POST /v1/referrals/{ref}/triage``), with the response status — no path, query, header or
body. The Temporal client's tracing interceptor (``infra.tracing``) makes the update and its
activities children of this span. Off unless ``HARBOUR_TRACING`` is set.
"""

from __future__ import annotations

from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestTracing:
    """Pure ASGI middleware: a server span around each HTTP request."""

    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", ""))
        with self.tracer.start_as_current_span(
            f"HTTP {method}", kind=SpanKind.SERVER, attributes={"http.request.method": method}
        ) as span:
            status = 500

            async def recording_send(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                await send(message)

            try:
                await self.app(scope, receive, recording_send)
            finally:
                route = scope.get("route")
                template = getattr(route, "path", None) if isinstance(route, BaseRoute) else None
                if isinstance(template, str):
                    span.update_name(f"{method} {template}")
                    span.set_attribute("http.route", template)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
