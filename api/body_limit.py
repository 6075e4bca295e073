"""A cap on every request body: a 413 problem, and never more than the cap held in memory.

``BodyLimit`` is a pure ASGI middleware, so it sees a request before any route reads it. A
declared ``Content-Length`` over the cap is answered at once, without reading a byte of the
body; a body sent in chunks (no length declared) is counted as it streams in, and reading
stops at the first chunk past the cap. Routes that read the body themselves (the webhook) can
keep a lower cap of their own.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the cap: FastAPI lets an
    ``HTTPException`` out of its body reading as it is, so the app answers 413."""

    def __init__(self) -> None:
        super().__init__(413, "the request body is too large")


def too_large(limit: int) -> str:
    """The 413's detail, naming the cap (a number of ours, never anything that was sent)."""
    return f"the request body is larger than this API accepts ({limit} bytes at most)"


class BodyLimit:
    """Answer 413 to a body larger than ``max_bytes``, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            # Answered before the body is read: the server discards what follows.
            await problem_response(413, "too_large", too_large(limit))(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        await self.app(scope, counting_receive, send)
