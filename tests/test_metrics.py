"""``/metrics`` on the API and on the worker: every figure docs/observability.md promises is
there, with the values the read model holds, and no label carries personal data — driven with
a referral whose client, referrer and reference are known, then scraped.

Also the pieces: the closed label sets, the Temporal SDK buffer's totals, the read model's
snapshot, and who may scrape the API.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    BUFFERED_METRIC_KIND_HISTOGRAM,
    BufferedMetricKind,
)

from api.app import create_app
from bootstrap import Telemetry
from infra.database import make_engine, make_session_factory, write_transaction
from infra.temporal import data_converter
from infra.temporal_metrics import MetricTotals, TemporalMetrics
from models import metric_labels
from models.tables import InboundMessageRow, OutboxRow, ReferralRow
from readmodel.metrics import metrics_snapshot
from readmodel.practitioners import add_practitioner
from services.metrics import METRIC_NAMES, HarbourMetrics
from tests.factories import (
    CLIENT_EMAIL,
    CLIENT_NAME,
    CLIENT_PHONE,
    CLINICAL_MARKER,
    REFERRER_EMAIL,
)
from tests.fixtures.api import ORG_A, Api, api_settings, running_api
from tests.fixtures.temporal import TEST_KEYRING, TEST_PSEUDONYM_KEY, Harness
from tests.helpers import eventually
from worker import MetricsPortTaken, serve

# Everything personal a scrape could leak: the client's, the referrer's, the practitioner's.
PRACTITIONER_NAME = "Ana Lowry"
PERSONAL = [
    CLIENT_NAME,
    CLIENT_EMAIL,
    CLIENT_PHONE,
    CLIENT_PHONE.removeprefix("+"),
    "07700900461",
    "9434765919",  # the NHS number
    ORG_A,
    "Dr Sam Patel",
    REFERRER_EMAIL,
    CLINICAL_MARKER,
    PRACTITIONER_NAME,
    "p-ana",
    "end it all",
]

HARBOUR_METRICS = METRIC_NAMES
# The label values each of Harbour's labels may take (``action``: a route's name, checked
# against the application's routes).
CLOSED = {
    "stage": metric_labels.STAGES,
    "channel": metric_labels.CHANNELS | {metric_labels.OTHER},
    "status": metric_labels.OUTBOX_STATUSES | {metric_labels.OTHER},
    "delivery": metric_labels.DELIVERY_STATUSES | {metric_labels.OTHER},
}


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _value(families: dict[str, Any], name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` (``x_total``, ``x_count``…) with ``labels``."""
    return sum(
        sample.value
        for family in families.values()
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def _assert_nothing_personal(text: str, refs: list[str]) -> None:
    lowered = text.lower()
    for value in [*PERSONAL, *refs]:
        assert value.lower() not in lowered, f"the scrape holds {value!r}"


def _assert_closed_labels(families: dict[str, Any], actions: set[str]) -> None:
    for name, family in families.items():
        if not name.startswith("harbour_"):
            continue
        for sample in family.samples:
            for label, value in sample.labels.items():
                if label == "le":
                    continue
                allowed = actions if label == "action" else CLOSED[label]
                assert value in allowed, (name, label, value)


def _route_names(routes: Any) -> set[str]:
    """The names of every route, through included routers."""
    names: set[str] = set()
    for route in routes:
        if hasattr(route, "original_router"):
            names |= _route_names(route.original_router.routes)
        elif isinstance(getattr(route, "name", None), str):
            names.add(route.name)
    return names


async def _drive_a_referral(api: Api) -> str:
    """Refer, accept and send a crisis text from the client's registered number; return the
    reference once the read model shows the referral waiting and the crisis open."""
    coordinator = await api.key("coordinator")
    referrer = await api.key("referrer", organisation=ORG_A)
    gateway = await api.key("gateway")
    ref = await api.refer(referrer)
    accepted = await api.post(
        f"/v1/referrals/{ref}/triage", coordinator, json={"outcome": "accept"}
    )
    assert accepted.status_code == 200, accepted.text
    crisis = await api.post(
        "/v1/messages/inbound",
        gateway,
        json={
            "id": str(uuid.uuid4()),
            "source_number": CLIENT_PHONE.removeprefix("+"),
            "destination_number": "07700900000",
            "message": "I want to end it all tonight",
            "date_received": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        },
    )
    assert crisis.status_code == 202, crisis.text
    return ref


# --- the API's /metrics -------------------------------------------------------------------


async def test_api_metrics_show_every_figure_and_no_personal_data(harness: Harness) -> None:
    metrics = HarbourMetrics(harness.session_factory, max_age=0)
    async with running_api(harness, metrics=metrics) as api, harness.worker():
        await add_practitioner(
            harness.session_factory, "p-ana", PRACTITIONER_NAME, "ana@harbour.example", capacity=5
        )
        ref = await _drive_a_referral(api)

        async def scraped_when_caught_up() -> dict[str, Any] | None:
            response = await api.get("/metrics")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            families = _families(response.text)
            caught_up = (
                _value(families, "harbour_referrals", stage="waiting") == 1
                and _value(families, "harbour_crisis_alerts_unacknowledged") == 1
            )
            return {"text": response.text, "families": families} if caught_up else None

        scrape = await eventually(scraped_when_caught_up)

    families = scrape["families"]
    assert set(families) >= HARBOUR_METRICS
    assert _value(families, "harbour_waiting_list_length") == 1
    assert _value(families, "harbour_referrals", stage="closed") == 0  # every stage listed
    assert {s.labels["stage"] for s in families["harbour_referrals"].samples} == (
        metric_labels.STAGES
    )
    assert _value(families, "harbour_readmodel_snapshot_ok") == 1
    # The staff action, by its name; the intake and the webhook by theirs.
    timed = {
        s.labels["action"]
        for s in families["harbour_action_seconds"].samples
        if s.name == "harbour_action_seconds_count"
    }
    assert {"triage"} <= timed
    assert _value(families, "harbour_action_seconds_count", action="triage") == 1
    # Letters went out (acknowledgements, the crisis reply): counted by channel and status.
    assert _value(families, "harbour_notifications") >= 1
    assert "process_resident_memory_bytes" in families or "process_cpu_seconds" in families

    _assert_nothing_personal(scrape["text"], [ref])
    _assert_closed_labels(families, _route_names(api.app.routes))


async def test_api_metrics_are_for_loopback_or_the_token_holder(harness: Harness) -> None:
    async with running_api(harness, client_address=("203.0.113.7", 40000)) as api:
        refused = await api.get("/metrics")
        assert refused.status_code == 403
        assert "HARBOUR_API_METRICS_TOKEN" in refused.json()["detail"]
        assert "harbour_" not in refused.text

    settings = api_settings(metrics_token="scrape-me-0123456789")
    async with running_api(harness, settings, client_address=("203.0.113.7", 40000)) as api:
        assert (await api.get("/metrics")).status_code == 401
        wrong = await api.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        # An API key is not the metrics token either.
        key = await api.key("coordinator")
        assert (await api.get("/metrics", key)).status_code == 401
        right = await api.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"})
        assert right.status_code == 200
        assert "harbour_referrals" in right.text

    async with running_api(harness, settings) as api:  # with a token, loopback needs it too
        assert (await api.get("/metrics")).status_code == 401


async def test_metrics_are_not_in_the_openapi_document(api: Api) -> None:
    schema = (await api.get("/openapi.json")).json()
    assert "/metrics" not in schema["paths"]


# --- the worker's /metrics ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_worker_metrics_show_the_sdk_and_harbour_and_no_personal_data(
    harness: Harness,
) -> None:
    """A real worker (``worker.serve``) on the time-skipping server, its client recording the
    SDK's metrics; the referral is driven through the API, the worker's endpoint scraped."""
    temporal = TemporalMetrics()
    client = await Client.connect(
        harness.client.service_client.config.target_host,
        namespace=harness.client.namespace,
        data_converter=data_converter(TEST_KEYRING),
        runtime=temporal.runtime,
    )
    port = _free_port()
    settings = harness.settings.model_copy(
        update={
            "task_queue": harness.task_queue,
            "worker_metrics_host": "127.0.0.1",
            "worker_metrics_port": port,
            "pseudonym_key": _b64(TEST_PSEUDONYM_KEY),
            "metrics_snapshot_seconds": 0,
        }
    )
    worker = asyncio.create_task(serve(settings, client, telemetry=Telemetry(temporal)))
    try:
        async with running_api(harness) as api, httpx.AsyncClient() as http:
            ref = await _drive_a_referral(api)

            async def scraped_when_caught_up() -> dict[str, Any] | None:
                assert not worker.done(), worker
                try:
                    response = await http.get(f"http://127.0.0.1:{port}/metrics")
                except httpx.TransportError:
                    return None  # not listening yet
                families = _families(response.text)
                ready = (
                    _value(families, "harbour_referrals", stage="waiting") == 1
                    and "temporal_activity_execution_latency" in families
                    and "temporal_workflow_task_execution_latency" in families
                )
                return {"text": response.text, "families": families} if ready else None

            scrape = await eventually(scraped_when_caught_up, timeout=30, interval=0.2)
            await harness.settle()
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        temporal.close()

    families = scrape["families"]
    assert set(families) >= HARBOUR_METRICS - {"harbour_action_seconds"}
    temporal_names = {name for name in families if name.startswith("temporal_")}
    assert {
        "temporal_request",
        "temporal_num_pollers",
        "temporal_activity_execution_latency",
        "temporal_workflow_completed",
    } & temporal_names
    # The SDK labels by type and queue, never by workflow id.
    for name in temporal_names:
        for sample in families[name].samples:
            assert "workflow_id" not in sample.labels and "run_id" not in sample.labels
    _assert_nothing_personal(scrape["text"], [ref])
    _assert_closed_labels(families, set())
    # The port is released once the worker stops.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


async def test_a_taken_worker_metrics_port_is_named(harness: Harness) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        settings = harness.settings.model_copy(
            update={"task_queue": harness.task_queue, "worker_metrics_port": port}
        )
        with pytest.raises(MetricsPortTaken, match="HARBOUR_WORKER_METRICS_PORT"):
            await serve(settings, harness.client)


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


# --- the pieces ---------------------------------------------------------------------------


def test_label_values_outside_their_closed_set_become_other() -> None:
    assert metric_labels.closed("sent", metric_labels.OUTBOX_STATUSES) == "sent"
    assert metric_labels.closed(None, metric_labels.DELIVERY_STATUSES) == "none"
    assert metric_labels.closed("Robin Quill", metric_labels.OUTBOX_STATUSES) == "other"
    assert metric_labels.closed("", metric_labels.CHANNELS) == "other"


@dataclass
class _Metric:
    name: str
    kind: BufferedMetricKind
    description: str | None = "a metric"
    unit: str | None = None


@dataclass
class _Update:
    metric: _Metric
    value: float
    attributes: dict[str, str | int | float | bool]


def test_sdk_buffer_updates_fold_into_prometheus_totals() -> None:
    requests = _Metric("temporal_request", BUFFERED_METRIC_KIND_COUNTER)
    slots = _Metric("temporal_worker_task_slots_available", BUFFERED_METRIC_KIND_GAUGE)
    latency = _Metric("temporal_activity_execution_latency", BUFFERED_METRIC_KIND_HISTOGRAM)
    queue = {"task_queue": "harbour", "namespace": "default"}
    totals = MetricTotals()
    totals.apply(
        [
            _Update(requests, 1, {**queue, "operation": "PollWorkflowTaskQueue"}),
            _Update(requests, 2, {**queue, "operation": "PollWorkflowTaskQueue"}),
            _Update(requests, 1, {**queue, "operation": "StartWorkflowExecution"}),
            _Update(slots, 100, queue),
            _Update(slots, 97, queue),
            _Update(latency, 0.003, {**queue, "activity_type": "record_transition"}),
            _Update(latency, 0.2, {**queue, "activity_type": "record_transition"}),
        ]
    )
    totals.apply([_Update(requests, 4, {**queue, "operation": "PollWorkflowTaskQueue"})])

    class _Registered:
        def collect(self) -> Iterator[Any]:
            return totals.metrics()

    registry = CollectorRegistry()
    registry.register(_Registered())  # type: ignore[arg-type]
    families = _families(generate_latest(registry).decode())
    assert _value(families, "temporal_request_total", operation="PollWorkflowTaskQueue") == 7
    assert _value(families, "temporal_request_total", operation="StartWorkflowExecution") == 1
    assert _value(families, "temporal_worker_task_slots_available") == 97  # the last value
    record = {"activity_type": "record_transition"}
    assert _value(families, "temporal_activity_execution_latency_count", **record) == 2
    assert _value(families, "temporal_activity_execution_latency_bucket", le="0.005") == 1
    assert _value(families, "temporal_activity_execution_latency_bucket", le="0.25") == 2
    assert _value(families, "temporal_activity_execution_latency_bucket", le="+Inf") == 2
    assert _value(families, "temporal_activity_execution_latency_sum", **record) == pytest.approx(
        0.203
    )


async def test_the_snapshot_counts_by_closed_sets(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """On SQLite and PostgreSQL: stages, the list, breaches, the outbox by status (an unknown
    status counted as ``other``, never echoed) and unacknowledged crises."""
    now = datetime.now(UTC)

    def referral(ref: str, stage: str, **fields: Any) -> ReferralRow:
        return ReferralRow(
            ref=ref,
            stage=stage,
            urgency="routine",
            referrer_organisation=ORG_A,
            received_at=now,
            updated_at=now,
            **fields,
        )

    def letter(key: str, channel: str, status: str, delivery: str | None = None) -> OutboxRow:
        return OutboxRow(
            key=key,
            ref="R1",
            kind="acknowledgement",
            recipient_role="client",
            channel=channel,
            subject="s",
            message_id=key,
            status=status,
            delivery_status=delivery,
            created_at=now,
        )

    def message(id: str, *, crisis: bool, acknowledged: bool, in_inbox: bool) -> InboundMessageRow:
        return InboundMessageRow(
            id=id,
            channel="sms",
            sender_key="k",
            received_at=now,
            body="sealed",
            status="in_inbox",
            crisis=crisis,
            in_inbox=in_inbox,
            crisis_acknowledged_at=now if acknowledged else None,
        )

    async with write_transaction(session_factory) as session:
        session.add_all(
            [
                referral("R1", "waiting", breach=True),
                referral("R2", "waiting", held=True),
                referral("R3", "waiting", in_validation_queue=True),
                referral("R4", "in_episode", breach=True),  # first session came: not open
                referral("R5", "triage", breach=True),
                referral("R6", "closed"),
                letter("a", "email", "sent"),
                letter("b", "email", "sent"),
                letter("c", "sms", "sent", "delivered"),
                letter("d", "sms", "sent", "permanent-failure"),
                letter("e", "sms", "Call Robin on 07700900461"),  # not a status we know
                message("m1", crisis=True, acknowledged=False, in_inbox=True),
                message("m2", crisis=True, acknowledged=True, in_inbox=True),
                message("m3", crisis=True, acknowledged=False, in_inbox=False),
                message("m4", crisis=False, acknowledged=False, in_inbox=True),
            ]
        )
    async with session_factory() as session:
        snapshot = await metrics_snapshot(session)
    assert snapshot.referrals_by_stage["waiting"] == 3
    assert snapshot.referrals_by_stage["received"] == 0
    assert set(snapshot.referrals_by_stage) == metric_labels.STAGES
    assert snapshot.waiting_list_length == 3
    assert snapshot.waiting_held == 1
    assert snapshot.validation_queue == 1
    assert snapshot.breaches_open == 2  # R1 waiting, R5 in triage
    assert snapshot.notifications == {
        ("email", "sent", "none"): 2,
        ("sms", "sent", "delivered"): 1,
        ("sms", "sent", "permanent-failure"): 1,
        ("sms", "other", "none"): 1,
    }
    assert snapshot.crisis_unacknowledged == 2
    assert snapshot.inbox_open == 3


async def test_a_failing_snapshot_keeps_the_last_figures_and_says_so(harness: Harness) -> None:
    metrics = HarbourMetrics(harness.session_factory, max_age=0)
    first = _families((await metrics.render()).decode())
    assert _value(first, "harbour_readmodel_snapshot_ok") == 1
    # A database that cannot answer: the scrape still answers, flagged, with the last figures.
    engine = make_engine("sqlite+aiosqlite:////nonexistent/harbour.db")
    try:
        metrics._session_factory = make_session_factory(engine)
        second = _families((await metrics.render()).decode())
    finally:
        await engine.dispose()
    assert _value(second, "harbour_readmodel_snapshot_ok") == 0
    assert "harbour_referrals" in second


def test_create_app_makes_its_own_metrics_by_default(harness: Harness) -> None:
    app = create_app(harness.settings, harness.client, harness.session_factory, TEST_PSEUDONYM_KEY)
    assert isinstance(app.state.harbour.metrics, HarbourMetrics)
