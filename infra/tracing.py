"""OpenTelemetry tracing, off unless ``HARBOUR_TRACING`` says where spans go.

``off`` (the default) makes no tracer at all: no span is created, nothing is exported, and the
Temporal client gets no tracing interceptor. ``console`` writes finished spans to standard
output (a developer's look at one request); ``otlp`` sends them over OTLP/HTTP to the
collector that the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` names (default
http://localhost:4318).

Through Temporal, ``temporalio.contrib.opentelemetry.OpenTelemetryInterceptor`` (on the client;
the worker takes it from its client) carries the trace from an HTTP request (``api.tracing``)
into the workflow: the update's handler, the activities it starts and their runs are children
of the request that asked for it — one trace per request. The older ``TracingInterceptor``
of the same package hangs every span of a workflow under the request that *started* it and
only links later requests, so one referral would be one trace years long
(docs/observability.md). The new interceptor reads the process's global tracer provider,
which must be replay-safe (``create_tracer_provider``): ``tracer_provider`` sets it.
"""

from __future__ import annotations

import logging
from typing import Literal

import opentelemetry.trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Tracer, TracerProvider
from temporalio.contrib.opentelemetry import (
    OpenTelemetryInterceptor,
    ReplaySafeTracerProvider,
    create_tracer_provider,
)

TracingMode = Literal["off", "console", "otlp"]
TRACER_NAME = "harbour"


class SpuriousDetachFilter(logging.Filter):
    """Drops OpenTelemetry's "Failed to detach context" error when a workflow's coroutine is
    closed in another context (an evicted or garbage-collected run): the span has ended, only
    the token's reset fails, and the SDK logs a traceback each time (temporalio/sdk-python
    issues 441 and PR 1596). Every other record of that logger passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() != "Failed to detach context" or record.exc_info is None:
            return True
        error = record.exc_info[1]
        return not (
            isinstance(error, ValueError) and "was created in a different Context" in str(error)
        )


_DETACH_FILTER = SpuriousDetachFilter()


def quiet_spurious_detach() -> None:
    """Install ``SpuriousDetachFilter`` on the ``opentelemetry.context`` logger (once)."""
    logger = logging.getLogger("opentelemetry.context")
    if _DETACH_FILTER not in logger.filters:
        logger.addFilter(_DETACH_FILTER)


def tracer_provider(mode: TracingMode, service_name: str) -> ReplaySafeTracerProvider | None:
    """The process's replay-safe tracer provider, exporting to ``mode``'s destination and set
    as the global one; ``None`` when tracing is off. OpenTelemetry allows one global provider
    per process: when the process already has a replay-safe one, that one is returned (and
    exports where it was told to). Shut it down at exit so the last spans are sent."""
    if mode == "off":
        return None
    quiet_spurious_detach()
    current = opentelemetry.trace.get_tracer_provider()
    if isinstance(current, ReplaySafeTracerProvider):
        return current
    exporter: SpanExporter
    if mode == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = create_tracer_provider(
        resource=Resource.create({"service.name": service_name}), shutdown_on_exit=False
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    opentelemetry.trace.set_tracer_provider(provider)
    return provider


def tracer(provider: TracerProvider) -> Tracer:
    """Harbour's tracer from ``provider``."""
    return provider.get_tracer(TRACER_NAME)


def temporal_tracing() -> OpenTelemetryInterceptor:
    """The Temporal client (and worker) interceptor that carries traces into workflows, with
    a span for each Temporal step (start, update, activity)."""
    return OpenTelemetryInterceptor(add_temporal_spans=True)
