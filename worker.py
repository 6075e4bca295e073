"""Run a Harbour worker: the referral workflow and its activities on one task queue.

python worker.py            # uses HARBOUR_* settings (see README)
"""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import functools
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Interceptor, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import workflows
from activities.allocation import AllocationActivities
from activities.notifications import NotificationActivities
from activities.records import RecordActivities
from api.metrics_app import metrics_server
from bootstrap import Telemetry, configure_logging, load_settings, make_telemetry, open_runtime
from infra.database import make_session_factory
from infra.keys import KeyRing, load_keyring
from infra.logging import get_logger
from infra.temporal import ensure_search_attributes
from models import search_attributes
from models.settings import Settings
from services.metrics import HarbourMetrics
from workflows.allocator import AllocatorWorkflow
from workflows.inbox_reply import InboxReplyWorkflow
from workflows.message_follow_up import MessageFollowUpWorkflow
from workflows.redelivery import RedeliveryWorkflow
from workflows.referral import ReferralWorkflow

log = get_logger("harbour.worker")

WORKFLOWS = [
    ReferralWorkflow,
    AllocatorWorkflow,
    MessageFollowUpWorkflow,
    RedeliveryWorkflow,
    InboxReplyWorkflow,
]


@functools.cache
def _compile_workflow_modules() -> None:
    """Write the bytecode of ``workflows/`` once.

    The sandbox re-imports the workflow modules for every workflow run. With
    PYTHONDONTWRITEBYTECODE set (our Dockerfile, these machines) no ``.pyc`` is ever written
    by importing, so each run compiled ``workflows/referral.py`` from source again: 9% of the
    worker's CPU at load (bench/referral_throughput.py under py-spy). A read-only install
    (which pip has already compiled) is left as it is.
    """
    with contextlib.suppress(OSError):
        compileall.compile_dir(Path(workflows.__file__).parent, quiet=2)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox every worker and Replayer uses.

    Pure-Python validation libraries that pydantic loads lazily (EmailStr) pass through: loaded
    once, outside the sandbox, instead of re-imported for every workflow run. So do the ones
    ``ClientDetails`` validates with (``models.client_numbers``): phonenumbers loads a
    country's metadata on first use, and inside the sandbox that import would be refused
    (its module-level ``threading.Lock``) and fail the workflow task. OpenTelemetry passes
    through for the tracing interceptor (``infra.tracing``), which keeps its spans outside.
    """
    _compile_workflow_modules()
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "email_validator", "idna", "dns", "phonenumbers", "nhs_number", "opentelemetry"
        )
    )


def build_worker(
    client: Client,
    settings: Settings,
    engine: AsyncEngine,
    pseudonym_key: bytes,
    *,
    task_queue: str | None = None,
    interceptors: list[Interceptor] | None = None,
    keyring: KeyRing | None = None,
) -> Worker:
    """A worker with every workflow and activity, wired to the database, SMTP and Notify
    settings. ``keyring`` seals letters kept in the outbox and free text in the read model
    (default: the settings' keys)."""
    session_factory = make_session_factory(engine)
    queue = task_queue or settings.task_queue
    keyring = keyring or load_keyring(settings)
    records = RecordActivities(session_factory, pseudonym_key, keyring)
    allocation = AllocationActivities(
        session_factory, client, queue, sweep_every=settings.allocator_sweep_every
    )
    notifications = NotificationActivities(settings, session_factory, pseudonym_key, keyring)
    return Worker(
        client,
        task_queue=queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=[
            records.record_transition,
            records.record_session,
            records.record_outcome,
            records.reserve_caseload,
            records.release_caseload,
            records.waiting_position,
            records.record_message_handling,
            records.record_crisis_acknowledgement,
            records.record_inbox_reply,
            notifications.send_notifications,
            notifications.redeliver_notification,
            allocation.plan_allocations,
            allocation.wake_allocator,
        ],
        activity_executor=ThreadPoolExecutor(max_workers=4),
        interceptors=interceptors or [],
        max_cached_workflows=settings.worker_max_cached_workflows,
    )


class MetricsPortTaken(OSError):
    """The worker's metrics port is not available."""


async def serve(settings: Settings, client: Client, *, telemetry: Telemetry | None = None) -> None:
    """Run the worker until cancelled (used by ``make run`` and by ``main``), with its
    ``/metrics`` on ``settings.worker_metrics_port`` unless that is 0. ``telemetry``: what
    ``client`` was connected with; its Temporal SDK metrics are served too."""
    async with (
        open_runtime(settings, client=client, telemetry=telemetry) as runtime,
        # The port first: a taken one fails before a worker is registered with the client.
        _metrics_endpoint(settings, runtime.session_factory, telemetry),
    ):
        worker = build_worker(
            client, settings, runtime.engine, runtime.pseudonym_key, keyring=runtime.keyring
        )
        await worker.run()


@contextlib.asynccontextmanager
async def _metrics_endpoint(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    telemetry: Telemetry | None,
) -> AsyncIterator[None]:
    if settings.worker_metrics_port == 0:
        yield
        return
    temporal = telemetry.temporal_metrics if telemetry else None
    metrics = HarbourMetrics(
        session_factory, temporal=temporal, max_age=settings.metrics_snapshot_seconds
    )
    try:
        server = metrics_server(metrics, settings.worker_metrics_host, settings.worker_metrics_port)
    except OSError as error:
        raise MetricsPortTaken(
            f"the worker's metrics port (HARBOUR_WORKER_METRICS_PORT) "
            f"{settings.worker_metrics_host}:{settings.worker_metrics_port} is not available "
            f"({error.strerror}); choose another, or 0 to turn the endpoint off"
        ) from None
    await server.start()
    log.info("worker metrics listening", url=f"{server.url}/metrics")
    try:
        yield
    finally:
        await server.stop()


async def main() -> None:
    """Run a worker against the configured Temporal (search attributes registered first)."""
    settings = load_settings()
    configure_logging(settings)
    telemetry = make_telemetry(
        settings, "harbour-worker", temporal_metrics=settings.worker_metrics_port != 0
    )
    try:
        async with open_runtime(settings, telemetry=telemetry) as runtime:
            client = await runtime.client()
            await ensure_search_attributes(
                client, settings.temporal_namespace, search_attributes.ALL
            )
            await serve(settings, client, telemetry=telemetry)
    finally:
        telemetry.close()


if __name__ == "__main__":
    asyncio.run(main())
