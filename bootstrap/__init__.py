"""One start-up for every entry point: settings, logging, keys, the Temporal client and the
database engine — the same for the worker, the HTTP API, the CLI and the dev stack.

    settings = load_settings()
    configure_logging(settings)
    async with open_runtime(settings) as runtime:
        client = await runtime.client()          # connected on first use, bounded in time
        sessions = runtime.session_factory       # the engine is made on first use
    # the engine is disposed here

Temporal and SQLAlchemy are imported when first used, not when this module is: a command
that needs neither (``starter.py --help``, ``texts``) starts without them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.keys import KeyRing, load_keyring, load_pseudonym_key
from infra.logging import configure_logging
from models.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
    from temporalio.client import Client, Interceptor
    from temporalio.contrib.opentelemetry import ReplaySafeTracerProvider

    from infra.temporal_metrics import TemporalMetrics

__all__ = [
    "DevstackSettings",
    "Runtime",
    "Telemetry",
    "configure_logging",
    "load_keys",
    "load_settings",
    "make_runtime",
    "make_telemetry",
    "open_runtime",
    "private_by_default",
]


class DevstackSettings(BaseSettings):
    """Settings that only the embedded dev stack reads (``HARBOUR_DEVSTACK_*``); the CLI's
    ``text`` reads the Notify stand-in's port from here too."""

    model_config = SettingsConfigDict(
        env_prefix="HARBOUR_DEVSTACK_",
        env_file=os.environ.get("HARBOUR_CONFIG_FILE", "harbour.env"),
        extra="ignore",
    )

    # How long Temporal may take to accept connections before we give up.
    ready_timeout_seconds: float = Field(default=60.0, gt=0)
    temporal_log_level: str = Field(default="warn", pattern="^(debug|info|warn|error)$")
    # No Web UI (the UI port is then not needed).
    headless: bool = False
    # The local stand-in for GOV.UK Notify (used unless HARBOUR_NOTIFY_API_KEY is set).
    notify_standin_port: int = Field(default=8026, ge=1, le=65535)


def load_settings() -> Settings:
    """The ``HARBOUR_*`` settings (environment, then ``harbour.env``); pydantic's
    ``ValidationError`` names a malformed one.

    Every entry point starts here, so this is also where the process's files become private:
    from now on whatever it creates — and whatever the Temporal dev server it starts creates
    (``temporal.db``, its log) — is readable by its own user only (umask 077)."""
    private_by_default()
    return Settings()


def private_by_default() -> None:
    """Files and folders this process creates from now on are its user's only (umask 077):
    the data folder holds personal data and the keys to it."""
    os.umask(0o077)


def load_keys(settings: Settings) -> tuple[KeyRing, bytes]:
    """The payload key ring and the pseudonym key (generated into ``<data_dir>/keys.json`` on
    a laptop's first run); ``KeyConfigError`` says what is wrong, never the key."""
    return load_keyring(settings), load_pseudonym_key(settings)


@dataclass
class Telemetry:
    """How a long-running process observes itself (docs/observability.md): the Temporal SDK's
    metrics, recorded for its ``/metrics``, and tracing when ``HARBOUR_TRACING`` is on."""

    temporal_metrics: TemporalMetrics | None = None
    provider: ReplaySafeTracerProvider | None = None

    @property
    def tracer(self) -> Tracer | None:
        """Harbour's tracer; ``None`` when tracing is off."""
        if self.provider is None:
            return None
        from infra.tracing import tracer

        return tracer(self.provider)

    def client_interceptors(self) -> list[Interceptor]:
        """Interceptors for the Temporal client (its workers use them too)."""
        if self.provider is None:
            return []
        from infra.tracing import temporal_tracing

        return [temporal_tracing()]

    def close(self) -> None:
        """Send the spans still buffered, then stop exporting; stop draining metrics."""
        if self.temporal_metrics is not None:
            self.temporal_metrics.close()
        if self.provider is not None:
            self.provider.shutdown()
            self.provider = None


def make_telemetry(
    settings: Settings, service_name: str, *, temporal_metrics: bool = True
) -> Telemetry:
    """The telemetry of a process named ``service_name`` (``harbour-worker``, ``harbour-api``).

    ``temporal_metrics``: record the SDK's metrics (a ``temporalio.runtime.Runtime`` of the
    process's own, for its clients); only for a process whose ``/metrics`` is scraped."""
    from infra.tracing import tracer_provider

    recorded = None
    if temporal_metrics:
        from infra.temporal_metrics import TemporalMetrics

        recorded = TemporalMetrics()
    return Telemetry(recorded, tracer_provider(settings.tracing, service_name))


@dataclass
class Runtime:
    """What a running process shares: settings, keys, a Temporal client and a database engine,
    the last two made on first use."""

    settings: Settings
    keyring: KeyRing
    pseudonym_key: bytes
    # Metrics and tracing for the client (none: the SDK's defaults, no tracing).
    telemetry: Telemetry | None = None
    _client: Client | None = None
    _engine: AsyncEngine | None = None
    _session_factory: async_sessionmaker[AsyncSession] | None = None

    async def client(self) -> Client:
        """The Temporal client, connected on first use; ``infra.temporal.TemporalUnreachable``
        when no server answers within ``settings.temporal_connect_seconds``."""
        if self._client is None:
            from infra.temporal import connect

            telemetry = self.telemetry or Telemetry()
            self._client = await connect(
                self.settings,
                self.keyring,
                timeout=self.settings.temporal_connect_seconds,
                runtime=telemetry.temporal_metrics.runtime if telemetry.temporal_metrics else None,
                interceptors=telemetry.client_interceptors(),
            )
        return self._client

    @property
    def engine(self) -> AsyncEngine:
        """The read model's engine (``settings.database_url``), made on first use."""
        if self._engine is None:
            from infra.database import make_engine

            self._engine = make_engine(self.settings.database_url)
        return self._engine

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]:
        """Sessions on ``engine``."""
        if self._session_factory is None:
            from infra.database import make_session_factory

            self._session_factory = make_session_factory(self.engine)
        return self._session_factory

    async def close(self) -> None:
        """Dispose of the engine and drop the client (the SDK's client has no close(): letting
        it go while the loop still runs avoids sdk-python issue 300 at interpreter exit)."""
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = self._session_factory = None
        self._client = None


def make_runtime(
    settings: Settings, *, client: Client | None = None, telemetry: Telemetry | None = None
) -> Runtime:
    """A ``Runtime`` that its caller closes (``open_runtime`` does it for a block); ``client``
    is an already connected one to share; ``telemetry`` is what its client is connected with
    (``make_telemetry``; its caller closes it). Keys are loaded at once: a malformed key fails
    before anything starts."""
    keyring, pseudonym_key = load_keys(settings)
    return Runtime(settings, keyring, pseudonym_key, telemetry=telemetry, _client=client)


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings, *, client: Client | None = None, telemetry: Telemetry | None = None
) -> AsyncIterator[Runtime]:
    """A ``Runtime`` for the body of the ``async with``, closed at its end."""
    runtime = make_runtime(settings, client=client, telemetry=telemetry)
    try:
        yield runtime
    finally:
        await runtime.close()
