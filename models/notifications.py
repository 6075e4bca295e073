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
    COORDINATOR_ALERT = "coordinator_alert"
    PRACTITIONER_ALERT = "practitioner_alert"


class Recipient(StrEnum):
    CLIENT = "client"
    REFERRER = "referrer"
    PRACTITIONER = "practitioner"
    COORDINATORS = "coordinators"


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


class Notification(BaseModel):
    """One letter or alert to one recipient."""

    key: str = Field(min_length=1, max_length=200)
    ref: str
    kind: LetterKind
    recipient: Recipient
    # Client and referrer addresses come from the (encrypted) workflow state; practitioner
    # and coordinator addresses are resolved by the activity from the registry / settings.
    to_address: str | None = None
    to_phone: str | None = None
    practitioner_id: str | None = None
    context: dict[str, str | int | bool | None] = Field(default_factory=dict)


class SendResult(BaseModel):
    key: str
    status: str = Field(description="sent | already_sent | queued_sms | no_address")
    message_id: str | None = None
