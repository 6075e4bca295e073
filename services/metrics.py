"""Harbour's Prometheus metrics: what the API's and the worker's ``/metrics`` serve.

One ``HarbourMetrics`` per process holds a ``prometheus_client`` registry (its own, not the
library's global one, so that tests can make as many as they like) with:

- the read model's gauges (``readmodel.metrics``), computed when scraped: a snapshot is taken
  at most every ``max_age`` seconds and within ``timeout`` seconds; a slow or failed snapshot
  leaves the last figures and says so in ``harbour_readmodel_snapshot_ok``;
- ``harbour_action_seconds``, the latency of actions over HTTP (staff actions above all), by
  the route's name;
- the Temporal SDK's metrics, when the process's ``Runtime`` records them
  (``infra.temporal_metrics``);
- the process's CPU, memory and file descriptors.

Every label value comes from a closed set (``models.metric_labels``): no personal data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.metric_labels import STAGES
from readmodel.metrics import MetricsSnapshot, metrics_snapshot

__all__ = ["ACTION_BUCKETS", "CONTENT_TYPE_LATEST", "METRIC_NAMES", "HarbourMetrics"]

log = structlog.get_logger("harbour.metrics")

# Seconds: a staff action's goal is p95 <= 100 ms (issue 13); the tail reaches Temporal's
# update timeout.
ACTION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Every metric of Harbour's own (the dashboard and docs/observability.md name these).
METRIC_NAMES = frozenset(
    {
        "harbour_referrals",
        "harbour_waiting_list_length",
        "harbour_waiting_list_held",
        "harbour_validation_queue_length",
        "harbour_waiting_time_breaches",
        "harbour_crisis_alerts_unacknowledged",
        "harbour_inbox_open",
        "harbour_notifications",
        "harbour_action_seconds",
        "harbour_readmodel_snapshot_ok",
        "harbour_readmodel_snapshot_seconds",
    }
)
SNAPSHOT_MAX_AGE_SECONDS = 10.0
SNAPSHOT_TIMEOUT_SECONDS = 5.0


class _ReadModelGauges(Collector):
    """The last snapshot as gauges (Prometheus reads them from ``collect``)."""

    def __init__(self) -> None:
        self.snapshot: MetricsSnapshot | None = None
        self.ok = False
        self.taken_at = 0.0  # time.monotonic() of the last good snapshot
        self.seconds = 0.0  # how long the last attempt took

    def collect(self) -> Iterator[Metric]:
        ok = GaugeMetricFamily(
            "harbour_readmodel_snapshot_ok",
            "1 when the last read-model snapshot succeeded in time, else 0 (figures are older)",
        )
        ok.add_metric([], 1.0 if self.ok else 0.0)
        yield ok
        took = GaugeMetricFamily(
            "harbour_readmodel_snapshot_seconds", "How long the last read-model snapshot took"
        )
        took.add_metric([], self.seconds)
        yield took
        snapshot = self.snapshot
        if snapshot is None:
            return
        stages = GaugeMetricFamily(
            "harbour_referrals", "Referrals at each stage of the pathway", labels=["stage"]
        )
        for stage in sorted(STAGES):
            stages.add_metric([stage], snapshot.referrals_by_stage.get(stage, 0))
        yield stages
        for name, help_text, value in (
            (
                "harbour_waiting_list_length",
                "Referrals on the waiting list (stage waiting, held ones included)",
                snapshot.waiting_list_length,
            ),
            (
                "harbour_waiting_list_held",
                "Waiting referrals held back from automatic allocation",
                snapshot.waiting_held,
            ),
            (
                "harbour_validation_queue_length",
                "Waiting referrals in the coordinators' validation queue",
                snapshot.validation_queue,
            ),
            (
                "harbour_waiting_time_breaches",
                "Referrals past the waiting standard whose wait is still running",
                snapshot.breaches_open,
            ),
            (
                "harbour_crisis_alerts_unacknowledged",
                "Messages flagged as a possible crisis that nobody has acknowledged yet",
                snapshot.crisis_unacknowledged,
            ),
            (
                "harbour_inbox_open",
                "Clients' messages waiting in the inbox for a person",
                snapshot.inbox_open,
            ),
        ):
            gauge = GaugeMetricFamily(name, help_text)
            gauge.add_metric([], value)
            yield gauge
        outbox = GaugeMetricFamily(
            "harbour_notifications",
            "Letters (email) and texts (sms) in the outbox, by status and delivery receipt",
            labels=["channel", "status", "delivery"],
        )
        for (channel, status, delivery), count in sorted(snapshot.notifications.items()):
            outbox.add_metric([channel, status, delivery], count)
        yield outbox


class HarbourMetrics:
    """A process's metrics registry, and ``render`` for its ``/metrics``."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        temporal: Collector | None = None,
        max_age: float = SNAPSHOT_MAX_AGE_SECONDS,
        timeout: float = SNAPSHOT_TIMEOUT_SECONDS,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._session_factory = session_factory
        self._max_age = max_age
        self._timeout = timeout
        self._gauges = _ReadModelGauges()
        self._refreshing = asyncio.Lock()
        self.registry.register(self._gauges)
        self.action_seconds = Histogram(
            "harbour_action_seconds",
            "Time to answer an action over HTTP (staff actions, intake, webhooks), by route name",
            ["action"],
            buckets=ACTION_BUCKETS,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        if temporal is not None:
            self.registry.register(temporal)

    def observe_action(self, action: str, seconds: float) -> None:
        """Record one action over HTTP; ``action`` must be a route's name (code, a closed set)."""
        self.action_seconds.labels(action=action).observe(seconds)

    async def refresh(self) -> None:
        """Take a read-model snapshot unless a recent one is fresh enough; never raises."""
        async with self._refreshing:  # concurrent scrapes share one snapshot
            if self._gauges.ok and time.monotonic() - self._gauges.taken_at < self._max_age:
                return
            started = time.monotonic()
            try:
                async with asyncio.timeout(self._timeout):
                    async with self._session_factory() as session:
                        snapshot = await metrics_snapshot(session)
            except Exception as error:  # a metrics scrape must never take the process down
                self._gauges.ok = False
                log.warning("metrics.snapshot_failed", error=type(error).__name__)
            else:
                self._gauges.snapshot = snapshot
                self._gauges.ok = True
                self._gauges.taken_at = time.monotonic()
            self._gauges.seconds = time.monotonic() - started

    async def render(self) -> bytes:
        """The exposition text (``CONTENT_TYPE_LATEST``), with a fresh enough snapshot."""
        await self.refresh()
        return generate_latest(self.registry)
