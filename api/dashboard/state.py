"""What the dashboard keeps per application: settings, the cookie signer, templates, a clock.

Built on the first dashboard request from ``HARBOUR_API_DASHBOARD_*`` and the application's own
``Settings`` (its ``data_dir`` holds the generated session secret), unless ``configure`` was
called first (tests and benchmarks do, to pass settings and a clock of their own).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import FastAPI, Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.context import get_context
from api.dashboard import formatting
from api.dashboard.session import CookieSigner
from api.dashboard.settings import DashboardSettings, load_session_secret
from infra.clock import Clock, wall_clock
from models.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass
class DashboardState:
    """The dashboard's per-application dependencies."""

    settings: DashboardSettings
    signer: CookieSigner
    templates: Environment
    zone: ZoneInfo
    clock: Clock
    dev_mailbox: bool
    mailbox_dir: Path


def _templates(zone: ZoneInfo) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    formatting.install(env, zone)
    return env


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local_smtp(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dev_mailbox_enabled(dashboard: DashboardSettings, settings: Settings) -> bool:
    """The dev mailbox is shown on the embedded defaults only: the SMTP sink's folder exists
    and mail goes to this machine (or ``HARBOUR_API_DASHBOARD_DEV_MAILBOX`` says so)."""
    if dashboard.dev_mailbox is not None:
        return dashboard.dev_mailbox
    return settings.mailbox_dir.is_dir() and _local_smtp(settings.smtp_host)


def build_state(
    settings: Settings, dashboard: DashboardSettings, clock: Clock | None = None
) -> DashboardState:
    """The dashboard's state for an application with ``settings``."""
    zone = _zone(dashboard.timezone)
    return DashboardState(
        settings=dashboard,
        signer=CookieSigner(load_session_secret(dashboard, settings.data_dir)),
        templates=_templates(zone),
        zone=zone,
        clock=clock or wall_clock,
        dev_mailbox=dev_mailbox_enabled(dashboard, settings),
        mailbox_dir=settings.mailbox_dir,
    )


def configure(
    app: FastAPI, settings: DashboardSettings | None = None, *, clock: Clock | None = None
) -> DashboardState:
    """Set the dashboard up for ``app`` now, with these settings (default: from the
    environment) and clock (default: the wall clock; tests pass the time-skipping server's)."""
    context_settings: Settings = app.state.harbour.settings
    state = build_state(context_settings, settings or DashboardSettings(), clock)
    app.state.dashboard = state
    return state


def get_state(request: Request) -> DashboardState:
    """The dashboard's state, built on first use."""
    state: DashboardState | None = getattr(request.app.state, "dashboard", None)
    if state is None:
        state = build_state(get_context(request).settings, DashboardSettings())
        request.app.state.dashboard = state
    return state
