"""Settings only the HTTP API reads (``HARBOUR_API_*``), beside the shared ``Settings``."""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.rate_limit import usable_storage_uri


class ApiSettings(BaseSettings):
    """Where the API listens, the inbound-email webhook secret, rate limits and page sizes."""

    model_config = SettingsConfigDict(
        env_prefix="HARBOUR_API_",
        env_file=os.environ.get("HARBOUR_CONFIG_FILE", "harbour.env"),
        extra="ignore",
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Shared with the email gateway: it signs each webhook body with HMAC-SHA256 under this
    # secret. Unset: the email shape of POST /v1/messages/inbound is refused (401).
    inbound_email_secret: SecretStr | None = None
    # Rate limits per API key (api/rate_limit.py): a sustained rate and a burst.
    intake_per_minute: float = Field(default=120.0, gt=0)
    intake_burst: int = Field(default=30, ge=1)
    inbound_per_minute: float = Field(default=600.0, gt=0)
    inbound_burst: int = Field(default=100, ge=1)
    # The public self-referral form, per client address: a few at once, then one every 10 min.
    self_referral_per_minute: float = Field(default=0.1, gt=0)
    self_referral_burst: int = Field(default=3, ge=1)
    rate_limit_storage: str = Field(
        default="memory://",
        description="where the rate limits count: memory:// counts in each API process (N "
        "processes allow N times the rate); redis://host:6379 or memcached://host:11211 counts "
        "in a store every API process shares, so the limits hold for the whole service "
        "(install harbour[redis] or harbour[memcached] for the client)",
    )
    # A workflow query that takes longer than this answers 503 (e.g. no worker is running).
    query_timeout_seconds: float = Field(default=10.0, gt=0)
    # The largest request body any route reads (413 beyond it). The biggest real body, a
    # referral with a 5,000-character reason, is under 40 KB; the webhook keeps its own
    # lower cap (api/routes/inbound_messages.py).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # The Host names this API answers to (anything else is a 400): the trailing-slash
    # redirect and any absolute URL are built from the Host header, so an arbitrary one
    # must never be reflected. Comma-separated in the environment; "*" trusts any host
    # (only behind a proxy that checks it).
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "[::1]"]
    )

    # Who may scrape GET /metrics: whoever presents this bearer token; unset, only clients
    # on this machine (loopback). See docs/observability.md.
    metrics_token: SecretStr | None = None

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _storage_limits_knows(cls, value: str) -> str:
        if not usable_storage_uri(value):
            # The URI is not echoed: it may hold a password.
            raise ValueError(
                "HARBOUR_API_RATE_LIMIT_STORAGE must be memory://, redis://host:port or "
                "memcached://host:port"
            )
        return value

    def trusted_hosts(self) -> list[str]:
        """``allowed_hosts``, and the address the API listens on when it names one host (the
        dev stack's Notify stand-in calls the API there)."""
        own = f"[{self.host}]" if ":" in self.host else self.host
        if self.host in ("0.0.0.0", "::") or own in self.allowed_hosts:
            return list(self.allowed_hosts)
        return [*self.allowed_hosts, own]

    @field_validator("inbound_email_secret")
    @classmethod
    def _empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty secret would let anyone sign: treat it as "not configured" (401 always).
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError("HARBOUR_API_INBOUND_EMAIL_SECRET must be at least 16 characters")
        return value
