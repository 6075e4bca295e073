"""Letters and alerts: what the workflow asks the notification activity to send.

The workflow computes each notification's ``key`` (ref + event sequence + kind + recipient),
so it survives retries and continue-as-new; the outbox row and the Message-ID derive from it.
``context`` carries template variables only: names, dates, positions, codes — never the
referral reason, a diagnosis, risk information or a clinical note.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

SEND_NOTIFICATIONS = "send_notifications"


class LetterKind(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    INFORMATION_REQUEST = "information_request"
    WAITING_LIST = "waiting_list"
    CHECKIN = "checkin"
    ALLOCATION = "allocation"
    SESSION_REMINDER = "session_reminder"
    DISCHARGE = "discharge"
    REENTRY_CONFIRMATION = "reentry_confirmation"
    WITHDRAWAL_CONFIRMATION_REQUEST = "withdrawal_confirmation_request"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"
    REMOVED_FROM_LIST = "removed_from_list"
    CRISIS_REPLY = "crisis_reply"
    HOLDING_REPLY = "holding_reply"
    INBOX_REPLY = "inbox_reply"
    COORDINATOR_ALERT = "coordinator_alert"
    PRACTITIONER_ALERT = "practitioner_alert"


class Recipient(StrEnum):
    CLIENT = "client"
    REFERRER = "referrer"
    PRACTITIONER = "practitioner"
    COORDINATORS = "coordinators"
    DUTY_LEAD = "duty_lead"


class AlertKind(StrEnum):
    """Why staff are alerted. The alert names the referral, never the clinical reason."""

    TRIAGE_OVERDUE = "triage_overdue"
    VALIDATION_NEEDED = "validation_needed"
    WAIT_BREACH = "wait_breach"
    CRISIS_MESSAGE = "crisis_message"
    INBOX_MESSAGE = "inbox_message"
    INFORMATION_RECEIVED = "information_received"
    RETURNING_CLIENT = "returning_client"
    SILENCE = "silence"
    REPEATED_NON_ATTENDANCE = "repeated_non_attendance"
    MEASURE_NEEDS_ATTENTION = "measure_needs_attention"
    NEW_ALLOCATION = "new_allocation"
    WITHDRAWAL_REQUESTED = "withdrawal_requested"
    MEASURE_URGENT = "measure_urgent"
    CRISIS_UNACKNOWLEDGED = "crisis_unacknowledged"
    CLIENT_UNREACHABLE = "client_unreachable"
    TEXTS_STOPPED = "texts_stopped"


# Alerts whose subject says "urgent": someone may be at risk now.
URGENT_ALERTS: frozenset[AlertKind] = frozenset(
    {AlertKind.CRISIS_MESSAGE, AlertKind.CRISIS_UNACKNOWLEDGED, AlertKind.MEASURE_URGENT}
)


class ContactChannel(StrEnum):
    """A channel a client can be written to on."""

    SMS = "sms"
    EMAIL = "email"


class Route(BaseModel):
    """One way to reach one person: a channel and the address (phone or email) on it."""

    channel: ContactChannel
    address: str


class Notification(BaseModel):
    """One letter or alert to one recipient."""

    key: str = Field(min_length=1, max_length=200)
    ref: str
    kind: LetterKind
    recipient: Recipient
    # Client and referrer addresses come from the (encrypted) workflow state; practitioner
    # and coordinator addresses are resolved by the activity from the registry / settings.
    # Client letters: the routes ``models.correspondence.client_routes`` chose, best first.
    # (``to_address`` / ``to_phone`` are what letters queued before routes existed carry.)
    routes: list[Route] = Field(default_factory=list)
    discreet: bool = Field(default=False, description="say only who to call: not safe to leave")
    to_address: str | None = None
    to_phone: str | None = None
    practitioner_id: str | None = None
    context: dict[str, str | int | bool | None] = Field(default_factory=dict)


class SendResult(BaseModel):
    key: str
    status: str = Field(description="sent | already_sent | not_written | no_address | ...")
    message_id: str | None = None


REDELIVER_NOTIFICATION = "redeliver_notification"


class Redelivery(BaseModel):
    """Send a client letter again after a gateway reported its text failed for good."""

    key: str = Field(min_length=1, max_length=200, description="the failed letter's outbox key")
