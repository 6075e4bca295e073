"""Following up a message that a person must read: a possible crisis, or an unknown sender.

The inputs and answers of ``workflows.message_follow_up.MessageFollowUpWorkflow``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from models.notifications import Route
from models.policy import ServicePolicy
from models.referral import Strict

RECORD_CRISIS_ACKNOWLEDGEMENT = "record_crisis_acknowledgement"


class FollowUpInput(BaseModel):
    """One stored message to follow up (carried across continue-as-new)."""

    message_id: str
    ref: str | None = Field(default=None, description="the matched referral, if any")
    crisis: bool
    # Where the reply goes: the sender's own address on the channel it came in on (None:
    # typed in by staff, nobody to reply to). Personal data: only in encrypted payloads.
    reply: Route | None = None
    discreet: bool = False
    first_name: str | None = None
    policy: ServicePolicy
    escalations: int = 0
    replied: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None


class CrisisAcknowledgement(Strict):
    """A coordinator acknowledges a crisis alert: they have read the message and act on it."""

    coordinator: str = Field(min_length=1, max_length=200)
    message_id: str | None = None
    at: datetime | None = None


class FollowUpView(BaseModel):
    """Where a follow-up stands."""

    message_id: str
    ref: str | None
    crisis: bool
    escalations: int
    acknowledged_by: str | None
    acknowledged_at: datetime | None
