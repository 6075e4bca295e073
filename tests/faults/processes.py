"""The child processes a fault scenario starts, stops and kills: the Temporal dev server (with
its data in a file, so it can be restarted on the same data) and Harbour's worker (``worker.py``
itself, configured by ``HARBOUR_*`` variables, so ``kill -9`` hits the real thing).

Every child is started from the test's main thread with ``devstack.die_with_parent``: if the
test process dies, even by ``kill -9``, its children die with it. ``stop`` and the fixtures'
``finally`` blocks end them in the ordinary case.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from devstack import die_with_parent
from infra.keys import KeyRing
from infra.temporal import TemporalUnreachable, connect, ensure_search_attributes, temporal_binary
from models import search_attributes

ROOT = Path(__file__).resolve().parents[2]

# Bounds, not expectations: a busy 2-core machine may take this long; a broken one fails here.
START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Child:
    """One child process with its output in a log file; ``kill`` and ``stop`` wait for it."""

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    def _spawn(self, command: list[str], env: Mapping[str, str] | None = None) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self._log = self.log_path.open("ab")
        self._log.write(f"\n--- start {self.starts + 1}: {time.strftime('%H:%M:%S')}\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        self.starts += 1

    @property
    def running(self) -> bool:
        """Whether the process was started and has not ended."""
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """``kill -9``, then reap it."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not ended within ``STOP_TIMEOUT``."""
        self._end(signal.SIGTERM)

    def _end(self, signum: int) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            try:
                process.send_signal(signum)
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, characters: int = 3000) -> str:
        """The end of the process's output, for a failure message."""
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return "(no log)"


class TemporalDevServer(_Child):
    """``temporal server start-dev`` on a free port, its state in ``<folder>/temporal.db``."""

    def __init__(self, folder: Path, keyring: KeyRing) -> None:
        super().__init__("temporal", folder / "temporal.log")
        self.folder = folder
        self.port = free_port()
        self.database = folder / "temporal.db"
        self._keyring = keyring

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The dev server's command line: the same port and database file on every start."""
        return [
            temporal_binary(),
            "server",
            "start-dev",
            "--db-filename",
            str(self.database),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--headless",
            "--search-attribute",
            "ReferralStage=Keyword",
            "--log-level",
            "error",
        ]

    async def start(self) -> None:
        """Start the server and return once it answers with the search attribute registered."""
        self._spawn(self.command())
        await self.wait_ready()

    async def restart(self, *, crash: bool) -> float:
        """Stop the server (``kill -9`` when ``crash``, else SIGTERM) and start it on the same
        port and data. Returns how long it was unavailable, in seconds."""
        down = time.monotonic()
        if crash:
            self.kill()
        else:
            self.stop()
        await self.start()
        return time.monotonic() - down

    async def wait_ready(self) -> None:
        """Poll until a client connects and the search attributes are in place."""
        deadline = time.monotonic() + START_TIMEOUT
        last: BaseException | None = None
        settings = TemporalAddress(self.address)
        while time.monotonic() < deadline:
            if not self.running:
                raise AssertionError(f"the Temporal dev server exited:\n{self.tail()}")
            try:
                client = await connect(settings, self._keyring, timeout=5)
                await asyncio.wait_for(
                    ensure_search_attributes(client, "default", search_attributes.ALL), 10
                )
                return
            except (TemporalUnreachable, TimeoutError, RuntimeError) as error:
                last = error
            await asyncio.sleep(0.2)
        raise AssertionError(f"Temporal not ready in {START_TIMEOUT}s ({last!r}):\n{self.tail()}")


class TemporalAddress:
    """The two settings ``infra.temporal.connect`` reads, for a server of our own."""

    def __init__(self, address: str) -> None:
        self.temporal_address = address
        self.temporal_namespace = "default"


class WorkerProcess(_Child):
    """Harbour's worker as production runs it: ``python worker.py`` with ``HARBOUR_*`` settings."""

    def __init__(self, folder: Path, settings_env: Mapping[str, str]) -> None:
        super().__init__("worker", folder / "worker.log")
        # The parent's environment minus any HARBOUR_ variable a developer has set, plus ours.
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("HARBOUR_")}
        # No metrics endpoint: the default port is the one a developer's `make run` holds.
        self._env["HARBOUR_WORKER_METRICS_PORT"] = "0"
        self._env.update(settings_env)
        self.kills = 0

    def start(self) -> None:
        """Start a worker (it connects, registers and polls on its own)."""
        self._spawn([sys.executable, str(ROOT / "worker.py")], self._env)

    def kill(self) -> None:
        """``kill -9`` the worker, counting it."""
        if self.running:
            self.kills += 1
        super().kill()
