"""A PostgreSQL server of the scenario's own, to restart mid-transition.

Restarting the machine's shared cluster (``pg_ctlcluster ... restart``) would cut every other
test's connections — another developer's run on the same machine, or the rest of the suite in
CI. So the restart scenario runs the installed PostgreSQL binaries (``initdb``, ``postgres``) on
a fresh data folder and a free port: the same server software, restarted as ``pg_ctl restart -m
fast`` would (SIGINT: active transactions are aborted, connections cut), disturbing nobody.

PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` user (which the
Debian package creates); as anyone else it runs as that user, who needs no privilege at all.
``PostgresUnavailable`` says why it cannot run here (the test then skips, or fails on CI).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from devstack import die_with_parent
from tests.faults.processes import STOP_TIMEOUT, free_port

START_TIMEOUT = 60.0


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries or a user to run them as are missing."""


def _binaries() -> Path:
    """The folder of ``initdb`` and ``postgres``: on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # past a symlink into the server's own folder
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries (initdb) on PATH or under /usr/lib/postgresql; "
            "install them (Debian: apt-get install postgresql)"
        )
    return versions[-1].parent


class PostgresServer:
    """``postgres`` on 127.0.0.1 and a free port, trust auth, in a temporary folder."""

    def __init__(self) -> None:
        self.bin = _binaries()
        self.port = free_port()
        self._user: dict[str, Any] = {}
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root and there is no 'postgres' user to run PostgreSQL as"
                ) from None
            self._user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            owner: tuple[int, int] | None = (account.pw_uid, account.pw_gid)
        else:
            owner = None
        # Not under pytest's tmp_path: as root that folder is closed to the postgres user.
        self.folder = Path(tempfile.mkdtemp(prefix="harbour-faults-pg-"))
        if owner is not None:
            os.chown(self.folder, *owner)
        self.data = self.folder / "data"
        self.log_path = self.folder / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its ``postgres`` database."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """``initdb`` on first start, then the server; returns once it accepts connections."""
        if not self.data.exists():
            initdb = [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres"]
            self._run([*initdb, "--auth=trust", "--no-sync", "-E", "UTF8"])
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.folder}",
                    # A test database: durability across a power cut is not what is tested.
                    "-c",
                    "fsync=off",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # Runs after the switch to the postgres user, which would clear it otherwise.
                preexec_fn=die_with_parent(signal.SIGKILL),
                **self._user,
            )
        self._wait_ready()

    def restart(self) -> float:
        """A fast restart (``pg_ctl restart -m fast``): returns how long it was down (s)."""
        down = time.monotonic()
        self.halt()
        self.start()
        return time.monotonic() - down

    def halt(self) -> None:
        """A fast shutdown (``pg_ctl stop -m fast``): open transactions are aborted and every
        connection cut; ``start`` brings it back on the same data and port."""
        self._stop(signal.SIGINT)
        self.restarts += 1

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        try:
            self._stop(signal.SIGQUIT)  # immediate: nothing here needs keeping
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def tail(self, characters: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return "(no log)"

    def _stop(self, signum: int) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signum)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"PostgreSQL exited while starting:\n{self.tail()}")
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise AssertionError(f"PostgreSQL not ready within {START_TIMEOUT}s:\n{self.tail()}")

    def _run(self, command: list[str]) -> None:
        done = subprocess.run(command, capture_output=True, check=False, **self._user)
        if done.returncode != 0:
            raise AssertionError(
                f"{Path(command[0]).name} failed ({done.returncode}): "
                f"{done.stderr.decode(errors='replace')[-2000:]}"
            )
