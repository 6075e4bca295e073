"""Shared set-up for the benchmarks: a real Temporal server, a fresh SQLite read model, a real
SMTP sink and Harbour's own worker — everything on 127.0.0.1, everything in a temporary folder.

``harbour_stack(time_skipping=False)`` is what ``make run`` runs: the dev server persisted to a
SQLite file, the read model migrated with Alembic, the file-writing SMTP sink of
``infra.smtp_sink`` (or an in-memory one that only counts), and ``worker.build_worker`` on a
fresh task queue. ``time_skipping=True`` swaps the dev server for the time-skipping test server.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import secrets
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Worker,
)

from infra.database import make_engine, make_session_factory, migrate
from infra.keys import KeyRing, encode_key, generate_key
from infra.logging import configure_logging
from infra.smtp_sink import start_sink
from infra.temporal import (
    data_converter,
    ensure_search_attributes,
    temporal_binary,
    test_server_binary,
)
from models import search_attributes
from models.policy import ServicePolicy
from models.referral import ReferralSubmission
from models.settings import Settings
from readmodel.practitioners import add_practitioner
from worker import build_worker

HOST = "127.0.0.1"
PRACTITIONER_ID = "p-bench"
SinkKind = Literal["files", "memory"]

# Fresh keys per run: nothing a benchmark writes is meant to be read again.
KEYRING = KeyRing(active_key_id="bench", keys={"bench": generate_key()})
# The same ring as a setting: the worker and the API load it from the settings.
ENCRYPTION_KEYS = f"bench:{encode_key(KEYRING.active_key)}"
PSEUDONYM_KEY = secrets.token_bytes(32)


def free_port(host: str = HOST) -> int:
    """A TCP port nobody is listening on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def submission(n: int = 0) -> ReferralSubmission:
    """A routine referral the client may be written to (so every letter really goes out).

    ``n`` makes the client's phone unique among 1 000 in a row, so a re-entry message matches
    one referral only: Ofcom's drama range 07700 900000–900999, numbers that reach nobody (the
    rest of 07700 9… is no valid number, and phone numbers are checked now).
    """
    return ReferralSubmission.model_validate(
        {
            "client": {
                "name": "Alex Benchmark",
                "email": f"client{n}@bench.example.org",
                "phone": f"+447700900{n % 1000:03d}",
            },
            "referrer": {
                "organisation": "Benchmark GP",
                "name": "Dr Bench",
                "email": "referrals@bench-gp.example.org",
            },
            "consent": True,
            "urgency": "routine",
            "reason": "benchmark referral",
        }
    )


class CountingSink:
    """aiosmtpd handler that accepts every message and only counts it (no disk)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.count += 1
        return "250 Message accepted for delivery"


@dataclass
class BenchStack:
    """Temporal, the read model, the SMTP sink and settings pointing at them."""

    env: WorkflowEnvironment
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    workdir: Path
    sink_kind: SinkKind
    counting: CountingSink | None
    policy: ServicePolicy = field(default_factory=ServicePolicy)

    @property
    def client(self) -> Client:
        return self.env.client

    def worker(
        self, task_queue: str | None = None, interceptors: list[Interceptor] | None = None
    ) -> Worker:
        """Harbour's production worker (``worker.build_worker``) on its own task queue."""
        return build_worker(
            self.client,
            self.settings,
            self.engine,
            PSEUDONYM_KEY,
            task_queue=task_queue or f"bench-{uuid.uuid4().hex[:8]}",
            interceptors=interceptors,
        )

    def mails_sent(self) -> int:
        """Messages the SMTP sink has accepted so far."""
        if self.counting is not None:
            return self.counting.count
        return sum(1 for _ in self.settings.mailbox_dir.glob("*.eml"))


@asynccontextmanager
async def harbour_stack(
    *,
    time_skipping: bool,
    sink: SinkKind = "files",
    log_level: str = "WARNING",
    workdir: Path | None = None,
) -> AsyncIterator[BenchStack]:
    """Start everything a Harbour worker needs; stop it all again on exit."""
    with tempfile.TemporaryDirectory(prefix="harbour-bench-", dir=workdir) as tmp:
        root = Path(tmp)
        smtp_port = free_port()
        database_url = f"sqlite+aiosqlite:///{root / 'harbour.db'}"
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]  # a developer's harbour.env must not leak in
            data_dir=root,
            database_url=database_url,
            smtp_host=HOST,
            smtp_port=smtp_port,
            smtp_username=None,
            smtp_password=None,
            smtp_use_tls=False,
            log_level=log_level,
            log_format="console",
            encryption_keys=ENCRYPTION_KEYS,
        )
        configure_logging(settings)
        await migrate(database_url)
        engine = make_engine(database_url)
        session_factory = make_session_factory(engine)
        await add_practitioner(
            session_factory, PRACTITIONER_ID, "Pat Bench", "pat@bench.example.org", capacity=1000
        )

        counting: CountingSink | None = None
        if sink == "memory":
            counting = CountingSink()
            controller = Controller(counting, hostname=HOST, port=smtp_port)
            controller.start()
        else:
            controller = start_sink(HOST, smtp_port, settings.mailbox_dir)

        env: WorkflowEnvironment | None = None
        try:
            if time_skipping:
                env = await WorkflowEnvironment.start_time_skipping(
                    test_server_existing_path=test_server_binary(),
                    data_converter=data_converter(KEYRING),
                )
            else:
                env = await WorkflowEnvironment.start_local(
                    dev_server_existing_path=temporal_binary(),
                    dev_server_database_filename=str(root / "temporal.db"),
                    search_attributes=search_attributes.ALL,
                    data_converter=data_converter(KEYRING),
                    ui=False,
                    dev_server_log_level="error",
                )
            await ensure_search_attributes(env.client, env.client.namespace, search_attributes.ALL)
            yield BenchStack(
                env=env,
                settings=settings,
                engine=engine,
                session_factory=session_factory,
                workdir=root,
                sink_kind=sink,
                counting=counting,
            )
        finally:
            if env is not None:
                await env.shutdown()
            controller.stop()
            await engine.dispose()
            # Let the SDK's client go while the loop still runs (sdk-python issue 300).
            env = None
            gc.collect()


def run_main(main: Coroutine[Any, Any, int]) -> None:
    """``asyncio.run(main)``, then exit without interpreter finalisation.

    SIGTERM cancels ``main`` like Ctrl-C, so its ``finally`` blocks stop the worker and the
    Temporal server rather than leaving them running. Everything has been shut down by the
    time ``main`` returns; skipping finalisation (``os._exit``) avoids the
    ``PyGILState_Release`` abort some short Temporal scripts hit at exit (sdk-python issue 300).
    """

    async def guarded() -> int:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await main

    code = 0
    try:
        code = asyncio.run(guarded())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted", file=sys.stderr)
        code = 130
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


# ---------------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0–100), nearest-rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    """Seconds as a short millisecond figure."""
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


class Clock:
    """Accumulates wall time per category (``with clock("updates"): ...``)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def __call__(self, category: str) -> _Timed:
        return _Timed(self, category)

    def add(self, category: str, seconds: float) -> None:
        self.totals[category] = self.totals.get(category, 0.0) + seconds
        self.counts[category] = self.counts.get(category, 0) + 1


class _Timed:
    def __init__(self, clock: Clock, category: str) -> None:
        self._clock = clock
        self._category = category
        self._start = 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._clock.add(self._category, time.perf_counter() - self._start)


class ActivityTimer(Interceptor):
    """Worker interceptor: per activity type, how often it ran, for how long, and how long it
    waited between being scheduled and starting (queueing in the server and the worker)."""

    def __init__(self) -> None:
        self.runs: dict[str, list[float]] = {}
        self.waits: dict[str, list[float]] = {}

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        timer = self

        class _BenchInbound(ActivityInboundInterceptor):
            async def execute_activity(self, input: ExecuteActivityInput) -> Any:
                info = activity.info()
                started = time.perf_counter()
                waited = time.time() - info.current_attempt_scheduled_time.timestamp()
                try:
                    return await super().execute_activity(input)
                finally:
                    kind = info.activity_type
                    timer.runs.setdefault(kind, []).append(time.perf_counter() - started)
                    timer.waits.setdefault(kind, []).append(max(0.0, waited))

        return _BenchInbound(next)

    def table(self, show_waits: bool = True) -> list[str]:
        """One line per activity type: count, mean and p95 run time, mean wait to start.

        ``show_waits=False`` leaves the wait out (under time-skipping the schedule time is on the
        server's skipped clock, so the difference means nothing).
        """
        lines = [
            f"  {'activity':<24}{'count':>7}{'run mean':>11}{'run p95':>11}"
            f"{'run total':>11}{'sched->start' if show_waits else '':>14}"
        ]
        for kind in sorted(self.runs, key=lambda k: -sum(self.runs[k])):
            runs, queued = self.runs[kind], self.waits[kind]
            lines.append(
                f"  {kind:<24}{len(runs):>7}{ms(sum(runs) / len(runs)):>11}"
                f"{ms(percentile(runs, 95)):>11}{sum(runs):>10.2f}s"
                f"{ms(sum(queued) / len(queued)) if show_waits else '':>14}"
            )
        return lines


class SqlTimer:
    """Engine listeners: wall time of every statement by kind, as the event loop sees it.

    ``BEGIN IMMEDIATE`` is where a SQLite writer waits for the database's one write lock (the
    busy handler sleeps between retries), so its total is the time spent queueing to write.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.totals: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before)
        event.listen(sync, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started = conn.info["bench_started"].pop()
        words = statement.split(None, 2)
        kind = " ".join(words[:2]) if words[:1] == ["BEGIN"] else words[0] if words else "?"
        self.totals[kind] = self.totals.get(kind, 0.0) + time.perf_counter() - started
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def table(self) -> list[str]:
        lines = [f"  {'statement':<24}{'count':>7}{'mean':>11}{'total':>11}"]
        for kind in sorted(self.totals, key=lambda k: -self.totals[k]):
            total, count = self.totals[kind], self.counts[kind]
            lines.append(f"  {kind:<24}{count:>7}{ms(total / count):>11}{total:>10.1f}s")
        return lines


def child_pids() -> list[int]:
    """Ids of this process's child processes (the Temporal server, on Linux)."""
    pids: list[int] = []
    for task in Path("/proc/self/task").glob("*"):
        try:
            pids += [int(pid) for pid in (task / "children").read_text().split()]
        except OSError:
            continue
    return pids


def cpu_seconds() -> tuple[float, float]:
    """CPU time used so far by (this Python process, its child processes) — user + system."""
    children = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in child_pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return time.process_time(), children


def machine_line() -> str:
    """Cores and Python version, for the printed report."""
    return f"{len(os.sched_getaffinity(0))} cores, Python {sys.version.split()[0]}"


async def fresh_statistics(session_factory: async_sessionmaker[AsyncSession]) -> None:
    """Fresh planner statistics after loading a bench's rows (and, on PostgreSQL, the
    visibility map that index-only scans need), as autovacuum would have them on a database
    that has been running a while."""
    engine = session_factory.kw["bind"]
    async with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE"))
        else:
            await connection.execute(text("ANALYZE"))
            await connection.commit()
