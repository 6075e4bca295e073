"""What every request handler needs: settings, the Temporal client, the database, the limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.rate_limit import RateLimiter
from api.settings import ApiSettings
from infra.clock import Clock, wall_clock
from models.referral import ReferralView
from models.settings import Settings
from services import referrals
from services.worker_presence import with_worker


@dataclass
class ApiContext:
    """The application's dependencies, built once by ``create_app``."""

    settings: Settings
    api_settings: ApiSettings
    client: Client
    session_factory: async_sessionmaker[AsyncSession]
    pseudonym_key: bytes
    # What the read side takes for now (estimates, reports); tests set the server's clock.
    clock: Clock = wall_clock
    intake_limiter: RateLimiter = field(init=False)
    inbound_limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.intake_limiter = RateLimiter(
            self.api_settings.intake_per_minute, self.api_settings.intake_burst
        )
        self.inbound_limiter = RateLimiter(
            self.api_settings.inbound_per_minute, self.api_settings.inbound_burst
        )

    async def act(self, ref: str, action: str, arg: BaseModel | str) -> ReferralView:
        """Run a staff action (``services.referrals.act``) once a worker is there to run it,
        within ``settings.worker_wait_seconds``; raises ``WorkerUnavailable`` otherwise."""
        return await with_worker(
            self.client,
            self.settings.task_queue,
            self.settings.worker_wait_seconds,
            lambda client: referrals.act(client, ref, action, arg),
        )


def get_context(request: Request) -> ApiContext:
    """The application's context (``create_app`` put it in ``app.state``)."""
    context: ApiContext = request.app.state.harbour
    return context
