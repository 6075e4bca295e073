"""Everything a fault scenario runs against, started together and always stopped together.

The real Temporal dev server (a child process, its data in a file), Harbour's worker (a child
process running ``worker.py``), a real SMTP server that can be broken (``FaultySmtpServer``),
the local GOV.UK Notify stand-in (``infra.notify_standin``, which can be taken down and brought
back on the same port with the texts it had), and the read model on SQLite or PostgreSQL. The
test process holds a Temporal client and a database engine of its own, as the API would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from infra.database import make_engine, make_session_factory, migrate
from infra.notify_standin import (
    DEV_API_KEY,
    DEV_SMS_TEMPLATE_ID,
    NotifyStandin,
    NotifyStandinServer,
)
from infra.temporal import connect
from services import practitioners
from tests.faults.processes import (
    TemporalAddress,
    TemporalDevServer,
    WorkerProcess,
    free_port,
)
from tests.faults.smtp_server import FaultySmtpServer
from tests.fixtures.temporal import TEST_KEYRING, TEST_PSEUDONYM_KEY

PRACTITIONER = "p-faults"


class NotifyGateway:
    """The Notify stand-in on a fixed port, which a scenario can take down and bring back."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.server: NotifyStandinServer | None = None
        self.outages = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def up(self) -> None:
        """Listen (again); the texts it took before are read back from its folder."""
        if self.server is None:
            server = NotifyStandinServer(
                NotifyStandin(
                    api_key=DEV_API_KEY,
                    sms_template_id=DEV_SMS_TEMPLATE_ID,
                    folder=self.folder,
                    delivery_delay_seconds=0.05,
                ),
                host="127.0.0.1",
                port=self.port,
            )
            await asyncio.to_thread(server.start)
            self.server = server

    async def down(self) -> None:
        """Stop listening: connections are refused until ``up``."""
        if self.server is not None:
            server, self.server = self.server, None
            await asyncio.to_thread(server.stop)
            self.outages += 1

    def _up(self) -> NotifyStandinServer:
        assert self.server is not None, "the Notify stand-in is down"
        return self.server

    async def fail_next(self, status: int, count: int) -> None:
        """The next ``count`` sends answer ``status`` (429 or 500)."""
        await asyncio.to_thread(self._up().fail_next, status, count)

    async def pending_failures(self) -> int:
        """Forced failures not yet answered."""
        answer = await asyncio.to_thread(
            self._up()._control,
            "POST",
            "fail-next",
            json={
                "status": 500,
                "count": 0,
            },
        )
        return len(answer["pending"])

    async def clear_failures(self) -> None:
        """Answer every send normally again."""
        await asyncio.to_thread(self._up().reset)

    async def texts(self) -> list[dict[str, Any]]:
        """Every text it accepted (across restarts), oldest first."""
        return await asyncio.to_thread(self._up().sent_texts)


@dataclass
class FaultStack:
    """What a scenario drives and breaks."""

    folder: Path
    database_url: str
    backend: str
    temporal: TemporalDevServer
    smtp: FaultySmtpServer
    notify: NotifyGateway
    worker: WorkerProcess
    client: Client
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    task_queue: str

    def activity_failures(self) -> int:
        """Activity attempts that failed, as the worker logged them (each is retried)."""
        text = self.worker.log_path.read_text(errors="replace")
        return text.count('"Completing activity as failed')

    def diagnostics(self) -> str:
        """The end of each child's log, for a failure message."""
        return (
            f"--- worker log ---\n{self.worker.tail()}\n"
            f"--- temporal log ---\n{self.temporal.tail(1500)}"
        )


def worker_environment(
    *,
    folder: Path,
    temporal: str,
    database_url: str,
    task_queue: str,
    smtp: FaultySmtpServer,
    notify: NotifyGateway,
) -> dict[str, str]:
    """The ``HARBOUR_*`` settings of the worker process: our servers, the test keys."""
    key = base64.b64encode(TEST_KEYRING.active_key).decode()
    return {
        "HARBOUR_CONFIG_FILE": str(folder / "absent.env"),
        "HARBOUR_DATA_DIR": str(folder / "data"),
        "HARBOUR_DATABASE_URL": database_url,
        "HARBOUR_TEMPORAL_ADDRESS": temporal,
        "HARBOUR_TEMPORAL_CONNECT_SECONDS": "60",
        "HARBOUR_TASK_QUEUE": task_queue,
        "HARBOUR_SMTP_HOST": smtp.host,
        "HARBOUR_SMTP_PORT": str(smtp.port),
        "HARBOUR_SMTP_USE_TLS": "false",
        "HARBOUR_NOTIFY_API_KEY": DEV_API_KEY,
        "HARBOUR_NOTIFY_BASE_URL": notify.url,
        "HARBOUR_NOTIFY_SMS_TEMPLATE_ID": DEV_SMS_TEMPLATE_ID,
        "HARBOUR_NOTIFY_POLL_SECONDS": "0",
        "HARBOUR_ENCRYPTION_KEYS": f"{TEST_KEYRING.active_key_id}:{key}",
        "HARBOUR_PSEUDONYM_KEY": base64.b64encode(TEST_PSEUDONYM_KEY).decode(),
        # Check-ins come every few seconds here: the hourly limit per number is not under test.
        "HARBOUR_POLICY__TEXTS_PER_NUMBER_PER_HOUR": "100000",
        "HARBOUR_LOG_FORMAT": "json",
        "HARBOUR_LOG_LEVEL": "INFO",
    }


@contextlib.asynccontextmanager
async def postgres_schema(base_url: str) -> AsyncIterator[str]:
    """A fresh schema on the PostgreSQL at ``base_url``, dropped afterwards; yields its URL."""
    base = make_url(base_url)
    schema = f"f_{secrets.token_hex(6)}"
    admin = make_engine(base)
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield base.update_query_dict({"search_path": schema}).render_as_string(
                hide_password=False
            )
        finally:
            with contextlib.suppress(Exception):  # a server gone by now drops it anyway
                async with admin.begin() as connection:
                    await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await admin.dispose()


@contextlib.asynccontextmanager
async def open_stack(
    folder: Path, database_url: str, *, capacity: int
) -> AsyncIterator[FaultStack]:
    """Start everything (a practitioner with ``capacity`` places registered), yield the stack,
    and stop every server and child process whatever happened."""
    backend = make_url(database_url).get_backend_name()
    await migrate(database_url)
    temporal = TemporalDevServer(folder, TEST_KEYRING)
    smtp = FaultySmtpServer()
    notify = NotifyGateway(folder / "sms")
    task_queue = f"faults-{uuid.uuid4()}"
    worker = WorkerProcess(
        folder,
        worker_environment(
            folder=folder,
            temporal=temporal.address,
            database_url=database_url,
            task_queue=task_queue,
            smtp=smtp,
            notify=notify,
        ),
    )
    # The test's own reads ping first: a restarted database must not fail the observer.
    engine = make_engine(database_url, pool_pre_ping=True)
    try:
        smtp.up()
        await notify.up()
        await temporal.start()
        client = await connect(TemporalAddress(temporal.address), TEST_KEYRING, timeout=30)
        sessions = make_session_factory(engine)
        await practitioners.save(
            None,
            sessions,
            task_queue=task_queue,
            id=PRACTITIONER,
            name="Pat Faults",
            email="pat.faults@harbour.example",
            capacity=capacity,
        )
        worker.start()
        yield FaultStack(
            folder=folder,
            database_url=database_url,
            backend=backend,
            temporal=temporal,
            smtp=smtp,
            notify=notify,
            worker=worker,
            client=client,
            engine=engine,
            sessions=sessions,
            task_queue=task_queue,
        )
    finally:
        # Children first (the worker before the server it talks to), then the servers.
        worker.stop()
        temporal.stop()
        smtp.release(accept=False)
        smtp.down()
        await notify.down()
        await engine.dispose()
