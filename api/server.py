"""Serving the API with uvicorn inside a process that already runs an event loop.

``make run`` (``devstack``) and ``python -m api`` use ``ApiServer``: uvicorn's
``Server.serve()`` as a task on the running loop, its socket bound here (so a busy port is an
ordinary ``OSError``, not uvicorn's ``sys.exit``), and no signal handling of its own — the host
process decides when to stop, then ``stop()`` lets requests in flight finish.

uvicorn's own access log is always off (it writes query strings verbatim): the access log is
``api.access_log``'s, which logs route templates only.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from api.access_log import AccessLog

STOP_TIMEOUT_SECONDS = 10.0
START_TIMEOUT_SECONDS = 10.0


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers (they would replace the host's)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port); raises ``OSError``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0 (socket.create_server's): asyncio turns Nagle off (TCP_NODELAY)
    # only on sockets that say they are TCP, and with Nagle on every response waits ~40 ms
    # for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class ApiServer:
    """One uvicorn server for ``app`` on ``host:port``, started and stopped as a task."""

    def __init__(self, app: FastAPI, host: str, port: int, *, access_log: bool = True) -> None:
        self._socket = bind(host, port)
        self.host = host
        self.port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(
            AccessLog(app) if access_log else app,
            log_config=None,  # our logging (infra.logging) renders uvicorn's records too
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=STOP_TIMEOUT_SECONDS,
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8000``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The serving task (done when the server stopped or failed)."""
        return self._task

    async def start(self) -> None:
        """Start serving; returns once the server accepts connections."""
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]), name="api")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raise why it stopped
                raise RuntimeError("the API server stopped while starting")
            if loop.time() > deadline:
                raise TimeoutError("the API server did not start in time")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish (bounded), release the port."""
        if self._task is not None and not self._task.done():
            self._server.should_exit = True
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_SECONDS + 5)
            except TimeoutError:
                self._server.force_exit = True
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        self._socket.close()
