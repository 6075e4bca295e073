"""Deployment settings: where Temporal, the database and SMTP are, and the policy.

Read from environment variables prefixed ``HARBOUR_`` or from a TOML/JSON-free
``.env``-style file named by ``HARBOUR_CONFIG_FILE`` (default ``harbour.env``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.policy import ServicePolicy


class Settings(BaseSettings):
    """Everything that differs between a laptop demo and production."""

    model_config = SettingsConfigDict(
        env_prefix="HARBOUR_",
        env_file=os.environ.get("HARBOUR_CONFIG_FILE", "harbour.env"),
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = Field(default=Path("data"))
    database_url: str = Field(
        default="", description="SQLAlchemy URL; empty means SQLite at <data_dir>/harbour.db"
    )
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "harbour"
    # Connecting to Temporal longer than this counts as "not reachable" (a dropped packet
    # would otherwise keep a command waiting for ever).
    temporal_connect_seconds: float = Field(default=10.0, gt=0)
    # How long the CLI waits for a worker to carry out an action or answer a query before it
    # says that no worker is running.
    worker_wait_seconds: float = Field(default=20.0, gt=0)
    temporal_ui_url: str = "http://localhost:8233"
    smtp_host: str = "localhost"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_use_tls: bool = False
    mail_from: str = "Harbour Recovery Service <no-reply@harbour.example>"
    coordinators_email: str = "coordinators@harbour.example"
    # A crisis alert nobody acknowledged in time is escalated to the service's duty lead.
    duty_lead_email: str = "duty-lead@harbour.example"
    # What the holding reply promises about when a person reads a message.
    inbox_read_within: str = "by the end of the next working day"
    # Where clients' email replies go: the inbound route (so "reply RETURN" works by email).
    reply_to: str | None = "replies@harbour.example"
    # GOV.UK Notify for texts. The dev stack points these at its local stand-in
    # (infra/notify_standin.py); production sets Notify's own key, template and base URL.
    notify_api_key: SecretStr | None = None
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    notify_sms_template_id: str | None = Field(
        default=None, description="a Notify text template whose whole content is ((body))"
    )
    # Received texts are also fetched from Notify this often: a safety net for callbacks
    # that never came (0 turns the poll off).
    notify_poll_seconds: float = Field(default=300.0, ge=0)
    # The licensed ReQoL-10 item wording, supplied by the service under its licence (JSON or
    # CSV of item number -> text, docs/practice.md); unset: "Item 1" ... placeholders.
    reqol_wording_file: Path | None = None
    # The address clients and referrers reach the service's pages at: links in letters start
    # with it (``/c/<token>``).
    public_url: str = "http://127.0.0.1:8000"
    service_name: str = "Harbour Recovery Service"
    service_phone: str = "01234 567890"
    # "kid:base64key,kid:base64key" — the first key encrypts, all decrypt (rotation).
    encryption_keys: str | None = None
    pseudonym_key: str | None = None
    log_format: str = Field(default="console", pattern="^(console|json)$")
    log_level: str = "INFO"
    # Fast time for demos: one day lasts this many seconds (0 = real time).
    seconds_per_day: float = Field(default=0.0, ge=0)
    policy: ServicePolicy = Field(default_factory=ServicePolicy)
    # The worker's Prometheus endpoint (GET /metrics: the Temporal SDK's metrics and Harbour's);
    # port 0 turns it off. Loopback by default: bind 0.0.0.0 only on a private network.
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=9464, ge=0, le=65535)
    # A scrape of /metrics reuses a read-model snapshot this recent (bounds the queries'
    # cost however often, and by however many processes, Prometheus scrapes).
    metrics_snapshot_seconds: float = Field(default=10.0, ge=0)
    # OpenTelemetry traces: off, console (stdout) or otlp (to OTEL_EXPORTER_OTLP_ENDPOINT).
    tracing: Literal["off", "console", "otlp"] = "off"
    # The allocator also looks for work on this timer, a safety net beside its wake-ups.
    allocator_sweep_every: timedelta | None = timedelta(hours=1)
    # Workflows a worker keeps in memory between their tasks (the SDK's default is 1 000): it
    # bounds the worker's memory however many referrals are open (docs/scale.md).
    worker_max_cached_workflows: int = Field(default=1000, ge=0)

    @model_validator(mode="after")
    def _database_in_data_dir(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'harbour.db'}"
        return self

    def effective_policy(self) -> ServicePolicy:
        """The policy in force: fast time scales the default durations."""
        if self.seconds_per_day > 0:
            return ServicePolicy.fast(self.seconds_per_day)
        return self.policy

    @property
    def mailbox_dir(self) -> Path:
        return self.data_dir / "mailbox"
