"""OpenTelemetry tracing, off unless ``HARBOUR_TRACING`` says where spans go.

``off`` (the default) makes no tracer at all: no span is created, nothing is exported, and the
Temporal client gets no tracing interceptor. ``console`` writes finished spans to standard
output (a developer's look at one request); ``otlp`` sends them over OTLP/HTTP to the
collector that the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` names (default
http://localhost:4318).

With a tracer, ``temporalio.contrib.opentelemetry.TracingInterceptor`` on the Temporal client
carries the trace from an HTTP request (``api.tracing``) through the workflow update into the
activities it runs — the worker gets the interceptor from its client.
"""

from __future__ import annotations

from typing import Literal

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Tracer
from temporalio.contrib.opentelemetry import TracingInterceptor

TracingMode = Literal["off", "console", "otlp"]
TRACER_NAME = "harbour"


def tracer_provider(mode: TracingMode, service_name: str) -> TracerProvider | None:
    """A provider exporting to ``mode``'s destination; ``None`` when tracing is off.
    Shut it down at exit (``provider.shutdown()``) so the last spans are sent."""
    if mode == "off":
        return None
    exporter: SpanExporter
    if mode == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def tracer(provider: TracerProvider) -> Tracer:
    """Harbour's tracer from ``provider``."""
    return provider.get_tracer(TRACER_NAME)


def temporal_tracing(tracer: Tracer) -> TracingInterceptor:
    """The Temporal client (and worker) interceptor that carries traces through workflows."""
    return TracingInterceptor(tracer)
