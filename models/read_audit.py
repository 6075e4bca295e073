"""Who has looked at a referral: one access per view, through the API, the dashboard or the CLI.

An access names the person by an opaque id only — an API key's id and its label (a staff id),
or the staff id given to the CLI — never the key itself and never a name.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from models.roles import Role


class AccessChannel(StrEnum):
    """Through what a referral was looked at."""

    API = "api"  # GET /v1/referrals/{ref}
    DASHBOARD = "dashboard"  # the dashboard's referral page
    CLI = "cli"  # starter.py state
    PORTAL = "portal"  # the referrers' own pages (/referrer)


class ReferralAccess(BaseModel):
    """One look at a referral."""

    at: datetime
    through: AccessChannel
    actor: str = Field(description="the staff id: an API key's label, key-<id>, or the CLI's")
    key_id: str | None = Field(default=None, description="the API key's id (None: the CLI)")
    role: Role | None = Field(default=None, description="the API key's role (None: the CLI)")


class ReferralAccessLog(BaseModel):
    """Who has looked at a referral, newest first (``total`` counts every look)."""

    ref: str
    total: int
    items: list[ReferralAccess]
