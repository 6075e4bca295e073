"""Tracing: one trace from a staff action's HTTP request through the workflow update to the
activities it runs, with nothing personal in any span; and off unless asked for."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bootstrap import Telemetry, make_telemetry
from models.settings import Settings
from tests.factories import CLIENT_EMAIL, CLIENT_NAME, CLIENT_PHONE, CLINICAL_MARKER
from tests.fixtures.api import ORG_A, running_api
from tests.fixtures.temporal import Harness
from tests.helpers import eventually

TRIAGE = "POST /v1/referrals/{ref}/triage"


@pytest.fixture
def spans() -> Iterator[tuple[Telemetry, InMemorySpanExporter]]:
    """Tracing on, as ``HARBOUR_TRACING=console`` turns it on, with the spans also kept in
    memory. The provider is the process's global one and stays (OpenTelemetry allows one)."""
    settings = Settings(_env_file=None, tracing="console")  # type: ignore[call-arg]
    telemetry = make_telemetry(settings, "harbour-test", temporal_metrics=False)
    assert telemetry.provider is not None
    exporter = InMemorySpanExporter()
    telemetry.provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield telemetry, exporter
    telemetry.provider.force_flush()
    exporter.shutdown()


async def test_one_trace_spans_http_update_and_activity(
    harness: Harness, spans: tuple[Telemetry, InMemorySpanExporter]
) -> None:
    telemetry, exporter = spans
    async with running_api(harness, tracer=telemetry.tracer) as api:
        # The worker traces too (in production it takes the interceptor from its client).
        async with harness.worker(interceptors=telemetry.client_interceptors()):
            coordinator = await api.key("coordinator")
            referrer = await api.key("referrer", organisation=ORG_A)
            ref = await api.refer(referrer)
            accepted = await api.post(
                f"/v1/referrals/{ref}/triage", coordinator, json={"outcome": "accept"}
            )
            assert accepted.status_code == 200, accepted.text

            def triage_trace() -> list[ReadableSpan] | None:
                finished = list(exporter.get_finished_spans())
                http = [s for s in finished if s.name == TRIAGE]
                if not http:
                    return None
                trace_id = http[0].context.trace_id
                trace = [s for s in finished if s.context.trace_id == trace_id]
                done = any(s.name.startswith("RunActivity:") for s in trace)
                return trace if done else None

            trace = await eventually(triage_trace)
            await harness.settle()

    names = {s.name for s in trace}
    assert TRIAGE in names
    assert "StartWorkflowUpdate:triage" in names
    assert "HandleUpdate:triage" in names
    assert any(n.startswith("RunActivity:") for n in names), names
    by_id = {s.context.span_id: s for s in trace}
    # Each span hangs from the one before it: HTTP -> update -> ... -> activity.
    http = next(s for s in trace if s.name == TRIAGE)
    assert http.attributes is not None
    assert http.attributes["http.route"] == "/v1/referrals/{ref}/triage"
    assert http.attributes["http.response.status_code"] == 200
    activity = next(s for s in trace if s.name.startswith("RunActivity:"))
    ancestors = []
    span: ReadableSpan | None = activity
    while span is not None and span.parent is not None:
        span = by_id.get(span.parent.span_id)
        if span is not None:
            ancestors.append(span.name)
    assert "HandleUpdate:triage" in ancestors, ancestors
    assert ancestors[-1] == TRIAGE, ancestors

    # Nothing personal in any span: names, attributes, events (references are opaque ids).
    every = list(exporter.get_finished_spans())
    text = repr([(s.name, dict(s.attributes or {}), s.events) for s in every]).lower()
    for personal in (CLIENT_NAME, CLIENT_EMAIL, CLIENT_PHONE, CLINICAL_MARKER, ORG_A):
        assert personal.lower() not in text, personal
    # The intake was traced too, and its span names the route, not the path.
    assert any(s.name == "POST /v1/referrals" for s in every)


def test_tracing_is_off_by_default() -> None:
    default = Settings(_env_file=None)  # type: ignore[call-arg]
    assert default.tracing == "off"
    off = make_telemetry(default, "harbour-test", temporal_metrics=False)
    assert off.provider is None and off.tracer is None and off.client_interceptors() == []


def test_an_unknown_tracing_setting_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="tracing"):
        Settings(_env_file=None, tracing="jaeger")  # type: ignore[call-arg]


def test_only_the_spurious_detach_error_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    """A token reset from another context (a workflow closed after eviction) is the SDK's
    known noise and is dropped; any other error of OpenTelemetry's context logger is kept."""
    import contextvars
    import logging

    from opentelemetry import context as otel_context

    from infra.tracing import quiet_spurious_detach

    quiet_spurious_detach()
    quiet_spurious_detach()  # idempotent
    logger = logging.getLogger("opentelemetry.context")
    assert len([f for f in logger.filters if type(f).__name__ == "SpuriousDetachFilter"]) == 1

    # The real failure: detach a token from a context other than the one that attached it.
    token = otel_context.attach(otel_context.set_value("k", "v"))
    with caplog.at_level(logging.ERROR, logger="opentelemetry.context"):
        contextvars.copy_context().run(otel_context.detach, token)
        assert "Failed to detach context" not in caplog.text
        try:
            raise ValueError("something else went wrong")
        except ValueError:
            logger.exception("Failed to detach context")
        assert "something else went wrong" in caplog.text
    otel_context.detach(token)
