"""What every request handler needs: settings, the Temporal client, the database, the limits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi import Request
from limits.aio.storage import Storage
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.rate_limit import KeyRateLimit, rate_limit_storage
from api.settings import ApiSettings
from infra.clock import Clock, wall_clock
from infra.keys import KeyRing, load_keyring
from models.referral import ReferralView
from models.settings import Settings
from services import referrals
from services.metrics import HarbourMetrics
from services.worker_presence import PollerSightings, require_worker, with_worker

T = TypeVar("T")


@dataclass
class ApiContext:
    """The application's dependencies, built once by ``create_app``."""

    settings: Settings
    api_settings: ApiSettings
    client: Client
    session_factory: async_sessionmaker[AsyncSession]
    pseudonym_key: bytes
    # This process's Prometheus metrics (GET /metrics, api.action_timing).
    metrics: HarbourMetrics
    # What the read side takes for now (estimates, reports); tests set the server's clock.
    clock: Clock = wall_clock
    # Where the rate limits count. None: the storage ``api_settings.rate_limit_storage`` names.
    # Passing one lets several applications (tests: two in one process) share their counts.
    limits_storage: Storage | None = None
    intake_limiter: KeyRateLimit = field(init=False)
    inbound_limiter: KeyRateLimit = field(init=False)
    self_referral_limiter: KeyRateLimit = field(init=False)
    # Opens and seals the read model's free text (messages, notes, locations): the worker's
    # key ring, loaded from the same settings as the worker loads it (bootstrap.load_keys).
    keyring: KeyRing = field(init=False)
    # Who was seen polling lately: one DescribeTaskQueue per few seconds, not per request.
    sightings: PollerSightings = field(default_factory=PollerSightings)

    def __post_init__(self) -> None:
        self.keyring = load_keyring(self.settings)
        settings = self.api_settings
        if self.limits_storage is None:
            self.limits_storage = rate_limit_storage(settings.rate_limit_storage)
        self.intake_limiter = KeyRateLimit(
            "intake", settings.intake_per_minute, settings.intake_burst, self.limits_storage
        )
        self.inbound_limiter = KeyRateLimit(
            "inbound", settings.inbound_per_minute, settings.inbound_burst, self.limits_storage
        )
        self.self_referral_limiter = KeyRateLimit(
            "self_referral",
            settings.self_referral_per_minute,
            settings.self_referral_burst,
            self.limits_storage,
        )

    async def ask(self, query: Callable[[], Awaitable[T]]) -> T:
        """A workflow query (or a few) for a page or an API read: ``WorkerUnavailable`` at once
        when the server says no worker polls the task queue (else the query would only wait),
        ``TimeoutError`` when no answer comes within ``api_settings.query_timeout_seconds``."""
        await require_worker(self.client, self.settings.task_queue, self.sightings)
        async with asyncio.timeout(self.api_settings.query_timeout_seconds):
            return await query()

    async def act(self, ref: str, action: str, arg: BaseModel | str) -> ReferralView:
        """Run a staff action (``services.referrals.act``) once a worker is there to run it,
        within ``settings.worker_wait_seconds``; raises ``WorkerUnavailable`` otherwise."""
        return await with_worker(
            self.client,
            self.settings.task_queue,
            self.settings.worker_wait_seconds,
            lambda client: referrals.act(client, ref, action, arg),
            self.sightings,
        )


def get_context(request: Request) -> ApiContext:
    """The application's context (``create_app`` put it in ``app.state``)."""
    context: ApiContext = request.app.state.harbour
    return context
