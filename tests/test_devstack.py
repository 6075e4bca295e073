"""Smoke test of `make run`: `python -m devstack --check` starts everything and stops it.

Runs the real thing in a subprocess — the Temporal dev server, migrations, the SMTP sink, the
worker and the HTTP API — on free ports and a temporary data folder, so it never collides with a
developer's own `make run`. Takes some tens of seconds.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

# A tier of `make check` (and CI), not of `make test`: the whole dev stack in a subprocess.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains ``text`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry.name))
    return found


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_devstack_check_starts_everything_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    temporal_port, ui_port, smtp_port, api_port, notify_port = _free_ports(5)
    env = {key: value for key, value in os.environ.items() if not key.startswith("HARBOUR_")}
    env.update(
        HARBOUR_CONFIG_FILE=str(tmp_path / "absent.env"),
        HARBOUR_DATA_DIR=str(data_dir),
        HARBOUR_TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
        HARBOUR_TEMPORAL_UI_URL=f"http://127.0.0.1:{ui_port}",
        HARBOUR_SMTP_HOST="127.0.0.1",
        HARBOUR_SMTP_PORT=str(smtp_port),
        HARBOUR_API_HOST="127.0.0.1",
        HARBOUR_API_PORT=str(api_port),
        HARBOUR_TASK_QUEUE=f"devstack-smoke-{os.getpid()}",
        HARBOUR_DEVSTACK_READY_TIMEOUT_SECONDS="90",
        HARBOUR_DEVSTACK_NOTIFY_STANDIN_PORT=str(notify_port),
    )
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--check"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = process.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        for pid in _processes_mentioning(str(data_dir)):
            os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"devstack --check did not finish in 180 s:\n{output}") from None
    elapsed = time.monotonic() - started

    temporal_log = data_dir / "temporal.log"
    log_tail = temporal_log.read_text()[-2000:] if temporal_log.exists() else "(no temporal.log)"
    assert process.returncode == 0, f"{output}\n--- temporal.log ---\n{log_tail}"
    assert "Temporal UI" in output and f"http://127.0.0.1:{ui_port}" in output
    assert "HTTP API" in output and f"http://127.0.0.1:{api_port}" in output
    assert (data_dir / "temporal.db").is_file()
    assert (data_dir / "harbour.db").is_file()
    assert (data_dir / "keys.json").is_file()
    assert (data_dir / "mailbox").is_dir()
    assert "Texts" in output and f"http://127.0.0.1:{notify_port}" in output
    # The stand-in's callbacks carry a gateway key of their own, kept private.
    assert (data_dir / "notify-callback.key").stat().st_mode & 0o077 == 0

    # Nothing left behind: no Temporal server on our data folder, every port released.
    leftovers = _processes_mentioning(str(data_dir))
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    assert leftovers == [], f"processes left running: {leftovers}"
    ports = (temporal_port, ui_port, smtp_port, api_port, notify_port)
    assert all(_port_is_free(port) for port in ports)
    assert elapsed < 120
