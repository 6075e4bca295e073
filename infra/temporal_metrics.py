"""The Temporal SDK's own metrics (``temporal_*``), served by Harbour's ``/metrics``.

The SDK's Rust core records its metrics (workflow and activity task latencies, pollers, sticky
cache, request failures…) into a ``MetricBuffer`` of the process's one ``temporalio.runtime.
Runtime``; ``TemporalMetrics`` drains that buffer and keeps the totals, and is a
``prometheus_client`` collector, so the same scrape that shows Harbour's metrics shows these.

Why not the SDK's ``PrometheusConfig``: that serves a second HTTP endpoint from Rust, on its
own port, with no way to add Harbour's metrics to it; one ``/metrics`` per process is simpler
to scrape, to protect and to document (docs/observability.md).

Labels are the SDK's own attributes: namespace, task queue, workflow and activity *types*,
operation, poller and worker types — never a workflow id, run id or payload.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    BufferedMetricUpdate,
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
)

# Durations arrive in seconds (MetricBufferDurationFormat.SECONDS); the buckets span a local
# activity's milliseconds to a long poll's minute.
BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Updates held between drains; far more than a busy worker records between two (see drain
# below). When full, the core drops updates and logs it.
BUFFER_SIZE = 200_000
DRAIN_EVERY_SECONDS = 5.0

_Labels = tuple[tuple[str, str], ...]


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, value)] += 1
        self.total += value


@dataclass
class _Family:
    kind: str  # "counter" | "gauge" | "histogram"
    help: str
    values: dict[_Labels, float] = field(default_factory=dict)
    histograms: dict[_Labels, _Histogram] = field(default_factory=dict)


class MetricTotals:
    """Buffered updates folded into totals: counters add, gauges keep the last value,
    histograms count into ``BUCKETS``. Thread-safe (a scrape may come from any thread)."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}
        self._lock = threading.Lock()

    def apply(self, updates: Iterable[BufferedMetricUpdate]) -> None:
        """Fold ``updates`` (from ``MetricBuffer.retrieve_updates``) into the totals."""
        with self._lock:
            for update in updates:
                metric = update.metric
                if metric.kind == BUFFERED_METRIC_KIND_COUNTER:
                    kind = "counter"
                elif metric.kind == BUFFERED_METRIC_KIND_GAUGE:
                    kind = "gauge"
                else:
                    kind = "histogram"
                family = self._families.get(metric.name)
                if family is None:
                    family = self._families[metric.name] = _Family(
                        kind, metric.description or metric.name
                    )
                labels = tuple(sorted((str(k), str(v)) for k, v in update.attributes.items()))
                if kind == "counter":
                    family.values[labels] = family.values.get(labels, 0.0) + update.value
                elif kind == "gauge":
                    family.values[labels] = float(update.value)
                else:
                    family.histograms.setdefault(labels, _Histogram()).observe(float(update.value))

    def metrics(self) -> Iterator[Metric]:
        """The totals as Prometheus metric families."""
        with self._lock:
            for name, family in sorted(self._families.items()):
                metric = Metric(name.removesuffix("_total"), family.help, family.kind)
                if family.kind == "histogram":
                    for labels, histogram in family.histograms.items():
                        base = dict(labels)
                        cumulative = 0
                        for bound, count in zip(
                            (*BUCKETS, float("inf")), histogram.counts, strict=True
                        ):
                            cumulative += count
                            le = "+Inf" if bound == float("inf") else repr(bound)
                            metric.add_sample(
                                f"{metric.name}_bucket", {**base, "le": le}, cumulative
                            )
                        metric.add_sample(f"{metric.name}_count", base, cumulative)
                        metric.add_sample(f"{metric.name}_sum", base, histogram.total)
                else:
                    suffix = "_total" if family.kind == "counter" else ""
                    for labels, value in family.values.items():
                        metric.add_sample(f"{metric.name}{suffix}", dict(labels), value)
                yield metric


class TemporalMetrics(Collector):
    """The process's Temporal ``Runtime``, recording into a buffer that is drained into totals.

    Give ``runtime`` to ``Client.connect`` (every worker of that client records into it), and
    register this object in a ``prometheus_client.CollectorRegistry``. A daemon thread drains
    the buffer every ``drain_every`` seconds, so it never fills between scrapes; ``close``
    stops it.
    """

    def __init__(
        self, buffer_size: int = BUFFER_SIZE, drain_every: float = DRAIN_EVERY_SECONDS
    ) -> None:
        self._buffer = MetricBuffer(buffer_size, MetricBufferDurationFormat.SECONDS)
        self.runtime = Runtime(telemetry=TelemetryConfig(metrics=self._buffer))
        self._totals = MetricTotals()
        self._draining = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._drain_until_stopped,
            args=(drain_every,),
            name="temporal-metrics-drain",
            daemon=True,
        )
        self._thread.start()

    def drain(self) -> None:
        """Move what the core has recorded into the totals."""
        with self._draining:
            self._totals.apply(self._buffer.retrieve_updates())

    def _drain_until_stopped(self, every: float) -> None:
        while not self._stop.wait(every):
            self.drain()

    def close(self) -> None:
        """Stop draining in the background (scrapes still drain)."""
        self._stop.set()

    def collect(self) -> Iterator[Metric]:
        """Prometheus' collector protocol: drain, then the totals."""
        self.drain()
        yield from self._totals.metrics()
