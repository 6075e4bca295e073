"""`make run`: `python -m devstack --check` starts everything and stops it; a dev stack that
dies, even by `kill -9`, takes its Temporal server with it, and the next start comes up
without anyone cleaning up — also after a stack that left its server behind.

Runs the real thing in a subprocess — the Temporal dev server, migrations, the SMTP sink, the
worker and the HTTP API — on free ports and a temporary data folder, so it never collides with a
developer's own `make run`. Takes some tens of seconds each (the slow tier); the rules for
recognising a server left behind are checked without Temporal (the fast tier).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import devstack
from infra.temporal import temporal_binary

ROOT = Path(__file__).resolve().parent.parent
# Bounds, not expectations: the whole stack starts in some seconds on a busy 2-core machine.
START_TIMEOUT = 150.0
GONE_TIMEOUT = 30.0


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


# A tier of `make check` (and CI), not of `make test`: the whole dev stack in a subprocess.
@pytest.mark.slow
def test_devstack_check_starts_everything_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    temporal_port, ui_port, smtp_port, api_port, notify_port, metrics_port = _free_ports(6)
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
        HARBOUR_WORKER_METRICS_PORT=str(metrics_port),
    )
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

    temporal_log = data_dir / "temporal.log"
    log_tail = temporal_log.read_text()[-2000:] if temporal_log.exists() else "(no temporal.log)"
    assert process.returncode == 0, f"{output}\n--- temporal.log ---\n{log_tail}"
    assert "Temporal UI" in output and f"http://127.0.0.1:{ui_port}" in output
    assert "HTTP API" in output and f"http://127.0.0.1:{api_port}" in output
    assert f"http://127.0.0.1:{api_port}/metrics (API)" in output
    assert f"http://127.0.0.1:{metrics_port}/metrics (worker)" in output
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
    ports = (temporal_port, ui_port, smtp_port, api_port, notify_port, metrics_port)
    assert all(_port_is_free(port) for port in ports)
    # How long it took is not asserted (a loaded machine is slow, not wrong): the 180 s bound
    # above only stops a hang.


# ------------------------------------------------------------------ a stack that recovers


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie, which holds nothing, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def _wait_for(condition: object, what: str, timeout: float = START_TIMEOUT) -> None:
    """Poll ``condition()`` (a callable) until true; fail after ``timeout`` seconds."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f}s"
        time.sleep(0.05)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return str(response.read().decode())


def _stack_env(tmp_path: Path) -> tuple[dict[str, str], list[int]]:
    """The dev stack's environment on free ports and ``tmp_path/data``; and its ports
    (Temporal, UI, SMTP, API, Notify stand-in, worker metrics)."""
    ports = _free_ports(6)
    temporal_port, ui_port, smtp_port, api_port, notify_port, metrics_port = ports
    env = {key: value for key, value in os.environ.items() if not key.startswith("HARBOUR_")}
    env.update(
        HARBOUR_CONFIG_FILE=str(tmp_path / "absent.env"),
        HARBOUR_DATA_DIR=str(tmp_path / "data"),
        HARBOUR_TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
        HARBOUR_TEMPORAL_UI_URL=f"http://127.0.0.1:{ui_port}",
        HARBOUR_SMTP_HOST="127.0.0.1",
        HARBOUR_SMTP_PORT=str(smtp_port),
        HARBOUR_API_HOST="127.0.0.1",
        HARBOUR_API_PORT=str(api_port),
        HARBOUR_TASK_QUEUE=f"devstack-recovery-{os.getpid()}",
        HARBOUR_DEVSTACK_READY_TIMEOUT_SECONDS="90",
        HARBOUR_DEVSTACK_NOTIFY_STANDIN_PORT=str(notify_port),
        HARBOUR_WORKER_METRICS_PORT=str(metrics_port),
    )
    return env, ports


def _check(env: dict[str, str], data_dir: Path) -> str:
    """Run ``python -m devstack --check``; its output, after asserting it exited 0."""
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--check"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = process.communicate(timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"devstack --check did not finish:\n{output}") from None
    temporal_log = data_dir / "temporal.log"
    log_tail = temporal_log.read_text()[-2000:] if temporal_log.exists() else "(no temporal.log)"
    assert process.returncode == 0, f"{output}\n--- temporal.log ---\n{log_tail}"
    return output


@pytest.fixture
def leftovers(tmp_path: Path) -> Iterator[None]:
    """Whatever a test leaves running on its folder is killed at the end, pass or fail."""
    yield
    for pid in _processes_mentioning(str(tmp_path)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_killed_devstack_takes_temporal_with_it_and_the_next_start_succeeds(
    tmp_path: Path, leftovers: None
) -> None:
    """Issue 10: after `kill -9` of the dev stack its Temporal server lived on, holding its
    port, and `make run` refused to start until someone found and killed it."""
    data_dir = tmp_path / "data"
    env, ports = _stack_env(tmp_path)
    output = tmp_path / "devstack.out"
    with output.open("w") as out:
        stack = subprocess.Popen(
            [sys.executable, "-m", "devstack"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        _wait_for(
            lambda: (
                stack.poll() is not None or "Harbour dev stack is running" in output.read_text()
            ),
            "the dev stack running",
        )
        assert stack.poll() is None, f"the dev stack exited:\n{output.read_text()}"
        # /metrics answers on the dev stack: the API's and the worker's, with the SDK's.
        api_metrics = _get(f"http://127.0.0.1:{ports[3]}/metrics")
        assert "harbour_referrals" in api_metrics and "temporal_request" in api_metrics
        worker_metrics = _get(f"http://127.0.0.1:{ports[5]}/metrics")
        assert "harbour_waiting_list_length" in worker_metrics
        assert "temporal_num_pollers" in worker_metrics
        temporal = int((data_dir / devstack.PID_FILE_NAME).read_text())
        assert _alive(temporal) and _parent_of(temporal) == stack.pid
    finally:
        stack.send_signal(signal.SIGKILL)
        stack.wait()

    _wait_for(lambda: not _alive(temporal), "the Temporal server gone", GONE_TIMEOUT)
    # The next start comes up as if nothing had happened: same folder, same ports.
    second = _check(env, data_dir)
    assert "Harbour dev stack is running" in second
    assert _processes_mentioning(str(data_dir)) == []
    assert all(_port_is_free(port) for port in ports)


@pytest.mark.slow
def test_the_next_start_replaces_a_temporal_server_a_dead_stack_left_behind(
    tmp_path: Path, leftovers: None
) -> None:
    """A stack that died without taking its server along (a system without Linux's parent
    death signal, or a stack from before it) left its server's pid in the data folder: the
    next start recognises its own server by it and replaces it."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env, ports = _stack_env(tmp_path)
    orphan = subprocess.Popen(
        [
            temporal_binary(),
            "server",
            "start-dev",
            "--db-filename",
            str((data_dir / "temporal.db").resolve()),
            "--ip",
            "127.0.0.1",
            "--port",
            str(ports[0]),
            "--headless",
            "--log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        devstack.write_pid_file(data_dir / devstack.PID_FILE_NAME, orphan.pid)
        _wait_for(
            lambda: orphan.poll() is not None or not _port_is_free(ports[0]),
            "the left-behind server listening",
        )
        assert orphan.poll() is None, "the left-behind server did not start"

        output = _check(env, data_dir)

        assert "replacing a Temporal server left running" in output
        assert orphan.wait(GONE_TIMEOUT) is not None
        assert not (data_dir / devstack.PID_FILE_NAME).exists()
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


def _lookalike(database: Path, parent_args: list[str]) -> tuple[subprocess.Popen[str], int]:
    """A process with ``parent_args`` whose child looks like a Temporal dev server on
    ``database`` (its command line says so; it only sleeps). Returns (parent, child pid)."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', "
            f"'server', 'start-dev', '--db-filename', {str(database)!r}])\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(60)",
            *parent_args,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    # Popen returns once the child has begun to exec; its command line follows a moment later.
    _wait_for(
        lambda: "start-dev" in Path(f"/proc/{child}/cmdline").read_text(),
        "the look-alike's command line",
        GONE_TIMEOUT,
    )
    return parent, child


def test_a_server_of_a_running_stack_is_left_alone(tmp_path: Path, leftovers: None) -> None:
    """Two dev stacks on one data folder: the second one says so and stops nothing."""
    database = tmp_path / "temporal.db"
    parent, child = _lookalike(database, ["-m", "devstack"])
    try:
        pid_file = tmp_path / devstack.PID_FILE_NAME
        devstack.write_pid_file(pid_file, child)
        with pytest.raises(devstack.DevstackError, match="another dev stack"):
            devstack.replace_stale_server(pid_file, database)
        assert _alive(child)
    finally:
        parent.kill()
        parent.wait()


def test_a_server_whose_stack_is_gone_is_stopped(tmp_path: Path, leftovers: None) -> None:
    """Its parent is not a dev stack (here: a plain script; after a crash: init)."""
    database = tmp_path / "temporal.db"
    parent, child = _lookalike(database, [])
    try:
        pid_file = tmp_path / devstack.PID_FILE_NAME
        devstack.write_pid_file(pid_file, child)
        assert devstack.replace_stale_server(pid_file, database) == child
        assert not _alive(child) and not pid_file.exists()
    finally:
        parent.kill()
        parent.wait()


def test_a_pid_file_naming_another_program_is_not_acted_on(tmp_path: Path) -> None:
    """A pid may be reused by anything once its server is gone: only a Temporal dev server on
    this data folder's database is ever stopped."""
    pid_file = tmp_path / devstack.PID_FILE_NAME
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        devstack.write_pid_file(pid_file, other.pid)
        assert devstack.replace_stale_server(pid_file, tmp_path / "temporal.db") is None
        assert other.poll() is None
        assert not pid_file.exists()
    finally:
        other.kill()
        other.wait()
