"""The API's own request and response bodies.

Request bodies are strict (``extra="forbid"``): an unknown field is a 422, so nobody can set a
referral's stage, owner or episode by adding a field. Where a domain action names the staff
member who acts (``coordinator``), the API fills it from the API key — it is not in the body.
The domain models (``models.actions``, ``models.referral``) stay the workflow's inputs; these
bodies convert to them.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from models.actions import (
    ClosureReason,
    DeclineReason,
    DischargeReason,
    HoldReason,
    RemovalReason,
    ReqolWhen,
    TriageOutcome,
)
from models.numbers import json_int

# ID_PATTERN is re-exported: the routes check ids in paths and queries with it.
from models.practitioner import ID_PATTERN as ID_PATTERN
from models.practitioner import PractitionerDetails, PractitionerId
from models.referral import (
    REFERENCE_PATTERN,
    ClientEntry,
    LiaisonKind,
    SessionOutcome,
    Stage,
    Strict,
    TimelineEvent,
    Urgency,
)
from models.reqol import ReqolSkipReason
from models.text import NOT_BLANK, EmailAddress, FreeText, OneLine
from readmodel.referrals import ReferralSummary
from readmodel.waiting_list import WaitingListEntry

# How far ahead a session can be booked, and how late one can be recorded: beyond these a
# date is a typing mistake (and far-off dates overflow the pathway's timer arithmetic).
BOOKING_HORIZON = timedelta(days=366)
RECORDING_LOOKBACK = timedelta(days=366 * 5)

# --- Strict input types: what the schema says, and nothing pydantic would coerce into it
# ("8" for 8, 1 for true, a Unix time for a date). A client's mistake is a 422, not a guess.


def _text_datetime(value: Any) -> Any:
    if not isinstance(value, str | datetime):
        raise ValueError("a date-time as ISO 8601 text")
    return value


def _query_bool(value: Any) -> Any:
    if isinstance(value, str) and value not in ("true", "false"):
        raise ValueError("true or false")
    return value


def _query_int(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"-?[0-9]{1,18}", value):
        raise ValueError("an integer")
    return value


def _query_date(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("a date as YYYY-MM-DD")
    return value


JsonDatetime = Annotated[AwareDatetime, BeforeValidator(_text_datetime)]
QueryBool = Annotated[bool, BeforeValidator(_query_bool)]
QueryInt = Annotated[int, BeforeValidator(_query_int)]
QueryDate = Annotated[date, BeforeValidator(_query_date)]


def query_int(minimum: int, maximum: int) -> Any:
    """An integer query parameter within bounds. The bounds come before the text check in
    the chain, so the schema states them as JSON Schema's ``minimum``/``maximum`` (after it,
    pydantic would publish ``ge``/``le``, which JSON Schema ignores)."""
    return Annotated[int, Field(ge=minimum, le=maximum), BeforeValidator(_query_int)]


Reference = Annotated[
    str, Field(pattern=REFERENCE_PATTERN, description="an opaque referral reference")
]


# ------------------------------------------------------------------------------ intake


class IntakeReferrer(Strict):
    """Who referred. The organisation is the API key's; giving another one is an error."""

    organisation: Annotated[OneLine, NOT_BLANK] | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="optional; when given it must be the API key's organisation",
    )
    name: Annotated[OneLine, NOT_BLANK] = Field(min_length=1, max_length=200)
    email: EmailAddress


class IntakeClient(ClientEntry):
    """Who the referral is for (``models.referral.ClientEntry``, with a strict boolean)."""

    may_contact: StrictBool = Field(
        default=True, description="the client agreed to be written to directly"
    )


class ReferralIntake(Strict):
    """A new referral, as a referrer's system sends it. ``reason`` is free text that stays in
    encrypted storage: it is never shown back, logged or put in a letter."""

    client: IntakeClient
    referrer: IntakeReferrer
    consent: StrictBool = Field(
        description="the client consented to this referral (must be true)",
        json_schema_extra={"const": True},
    )
    urgency: Urgency = Urgency.ROUTINE
    reason: Annotated[FreeText, NOT_BLANK] = Field(min_length=1, max_length=5000)

    @field_validator("consent")
    @classmethod
    def _consent_required(cls, value: bool) -> bool:
        if not value:
            raise ValueError("the client's consent is required before a referral can be made")
        return value


class ReferralAccepted(BaseModel):
    """The answer to a submission: the referral is durable, here is where to follow it."""

    ref: str
    status_url: str = Field(description="GET this for the referral's state")
    duplicate: bool = Field(
        default=False, description="an earlier submission with this Idempotency-Key"
    )


# ------------------------------------------------------------------------------ actions


class InformationBody(Strict):
    """The referrer's answer to a triage question (free text, kept encrypted)."""

    answer: Annotated[FreeText, NOT_BLANK] = Field(min_length=1, max_length=5000)


class TriageBody(Strict):
    """Accept, decline (with a coded reason and signposting) or ask the referrer a question."""

    outcome: TriageOutcome
    decline_reason: DeclineReason | None = None
    signposting: FreeText | None = Field(default=None, max_length=500)
    question: FreeText | None = Field(default=None, max_length=2000)


class AllocationBody(Strict):
    """Allocate a waiting referral to a practitioner with caseload room."""

    practitioner_id: PractitionerId


class ValidationDecision(StrEnum):
    KEEP = "keep"
    REMOVE = "remove"


class ValidationBody(Strict):
    """A coordinator's decision on a referral in the validation queue (a silent client): keep
    them on the list, or remove them with a reason (the referrer and client are told why)."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"decision": {"const": "keep"}, "reason": {"type": "null"}}},
                {
                    "properties": {
                        "decision": {"const": "remove"},
                        "reason": {"enum": [r.value for r in RemovalReason]},
                    },
                    "required": ["reason"],
                },
            ]
        }
    )

    decision: ValidationDecision
    reason: RemovalReason | None = Field(default=None, description="required to remove")

    @model_validator(mode="after")
    def _reason_to_remove(self) -> ValidationBody:
        if (self.decision == ValidationDecision.REMOVE) != (self.reason is not None):
            raise ValueError("a reason is given to remove, and only to remove")
        return self


class HoldBody(Strict):
    """Hold a waiting referral back from automatic allocation, with a coded reason."""

    reason: HoldReason


class ClosureBody(Strict):
    """Close the referral (moved away, transferred, deceased, duplicate, other)."""

    reason: ClosureReason


class WithdrawalConfirmationBody(Strict):
    """Confirm a withdrawal the client asked for (e.g. by phone). No fields."""


class BookingBody(Strict):
    """Book a session; the client is reminded before it."""

    at: JsonDatetime = Field(description="with a timezone, in the future, within a year")
    location: Annotated[OneLine, NOT_BLANK] = Field(
        min_length=1, max_length=200, description="e.g. café, home, beach"
    )

    @field_validator("at")
    @classmethod
    def _within_a_year(cls, value: datetime) -> datetime:
        # A rule about now, which JSON Schema cannot state: its own error type says so.
        if value - datetime.now(value.tzinfo) > BOOKING_HORIZON:
            raise PydanticCustomError(
                "booking_horizon", "a session can be booked at most a year ahead"
            )
        return value


class SessionRecordBody(Strict):
    """Record a session: attended / did not attend / cancelled, where, and liaison done."""

    session_id: OneLine | None = Field(
        default=None, max_length=64, description="a booked session's id, or none"
    )
    at: JsonDatetime | None = Field(
        default=None, description="when it happened (with timezone), at most five years ago"
    )
    outcome: SessionOutcome
    location: Annotated[OneLine, NOT_BLANK] = Field(
        default="not recorded", min_length=1, max_length=200
    )
    liaison: list[LiaisonKind] = Field(default_factory=list, max_length=6)

    @field_validator("at")
    @classmethod
    def _not_long_ago(cls, value: datetime | None) -> datetime | None:
        # A rule about now, which JSON Schema cannot state: its own error type says so.
        if value is not None and datetime.now(value.tzinfo) - value > RECORDING_LOOKBACK:
            raise PydanticCustomError(
                "recording_lookback", "a session more than five years ago cannot be recorded"
            )
        return value


ITEM_NUMBER_PATTERN = "^(10|[1-9])$"


def _item_number(value: Any) -> Any:
    # JSON object keys are text: "1" to "10", exactly (not "01", not " 1").
    if isinstance(value, str) and not re.fullmatch(ITEM_NUMBER_PATTERN, value):
        raise ValueError("an item number, 1 to 10")
    return value


ItemNumber = Annotated[int, BeforeValidator(_item_number)]


class ReqolBody(Strict):
    """ReQoL-10 responses by item number (1–10), each 0–4 as answered, or a coded reason to
    skip it (with a note if need be). Item numbers and scores only: the licensed item wording
    is never stored. The anonymised outcomes keep the code; the note stays in the referral's
    encrypted state."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"note": {"type": "null"}}},
                {
                    "properties": {"skipped_reason": {"enum": [r.value for r in ReqolSkipReason]}},
                    "required": ["skipped_reason"],
                },
            ]
        }
    )

    when: ReqolWhen
    responses: dict[ItemNumber, json_int(0, 4)] | None = Field(  # type: ignore[valid-type]
        default=None,
        json_schema_extra={"propertyNames": {"pattern": ITEM_NUMBER_PATTERN}},
        description='responses by item number, e.g. {"1": 3, "2": 0, …, "10": 4}',
    )
    physical_health: json_int(0, 4) | None = None  # type: ignore[valid-type]
    skipped_reason: ReqolSkipReason | None = Field(
        default=None, description="why the measure was not taken (a code)"
    )
    note: Annotated[FreeText, NOT_BLANK] | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="about a skip, if need be: kept encrypted, never in the outcomes",
    )

    @model_validator(mode="after")
    def _note_with_a_skip(self) -> ReqolBody:
        if self.note is not None and self.skipped_reason is None:
            raise ValueError("a note goes with a skipped measure only")
        return self


class ExtensionBody(Strict):
    """Extend the plan of sessions (never beyond the service's maximum)."""

    planned_sessions: json_int(1, 100)  # type: ignore[valid-type]


class DischargeBody(Strict):
    """Discharge: a coded reason and a summary that stays in encrypted storage."""

    reason: DischargeReason
    summary: Annotated[FreeText, NOT_BLANK] = Field(min_length=1, max_length=5000)


# ------------------------------------------------------------------------------ reading


class ReferrerReferral(BaseModel):
    """A referral as its referrer sees it: where it stands and the milestones, no more."""

    ref: str
    stage: Stage
    urgency: Urgency
    received_at: datetime
    awaiting_information: bool = Field(description="a coordinator asked the referrer a question")
    question: str | None = Field(
        default=None,
        description="the coordinator's question, while it waits for the referrer's answer "
        "(POST /v1/referrals/{ref}/information)",
    )
    episode_number: int
    closed_reason: str | None
    timeline: list[TimelineEvent]


class ReferralPage(BaseModel):
    """A page of referrals, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    items: list[ReferralSummary]
    next_cursor: str | None


class WaitingListPage(BaseModel):
    """A page of the waiting list, in allocation order."""

    total_waiting: int
    allocations_recent: int = Field(description="episodes allocated in the estimate's window")
    window_weeks: int
    items: list[WaitingListEntry]
    next_cursor: str | None


# The body of PUT /v1/practitioners/{id}: the model the CLI checks too (models/practitioner.py).
PractitionerBody = PractitionerDetails


class ResolutionBody(Strict):
    """Take a message out of the inbox, with a note of what was done."""

    note: Annotated[FreeText, NOT_BLANK] = Field(min_length=1, max_length=2000)


class AcknowledgementBody(Strict):
    """Acknowledge a crisis alert (the body may be empty: ``{}``)."""


class InboundAccepted(BaseModel):
    """The webhook's answer: the message is stored. Whether it matched a client is not said."""

    id: str
    duplicate: bool


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    database: bool
    temporal: bool


class GatewayModel(BaseModel):
    """Base for the webhook shapes. Unknown fields are ignored, not refused: a gateway that
    adds a field to its callback must not make us turn clients' messages away."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class NotifyInboundSms(GatewayModel):
    """GOV.UK Notify's inbound-SMS callback (``Authorization: Bearer <gateway key>``)."""

    id: OneLine = Field(min_length=1, max_length=128, description="Notify's id: deduplicates")
    source_number: OneLine = Field(
        min_length=3, max_length=32, description="the sender, e.g. 447700900123"
    )
    destination_number: OneLine = Field(max_length=32)
    message: str = Field(max_length=10000)
    date_received: Annotated[datetime, BeforeValidator(_text_datetime)]


class NotifyDeliveryReceipt(GatewayModel):
    """GOV.UK Notify's delivery-receipt callback (``Authorization: Bearer <gateway key>``)."""

    id: OneLine = Field(min_length=1, max_length=64, description="Notify's id of the text")
    reference: OneLine | None = Field(default=None, max_length=200, description="our outbox key")
    to: OneLine = Field(default="", max_length=64)
    status: Literal[
        "delivered",
        "permanent-failure",
        "temporary-failure",
        "technical-failure",
        "sending",
        "sent",
    ]
    created_at: Annotated[datetime, BeforeValidator(_text_datetime)] | None = None
    completed_at: Annotated[datetime, BeforeValidator(_text_datetime)] | None = None
    sent_at: Annotated[datetime, BeforeValidator(_text_datetime)] | None = None
    notification_type: OneLine = Field(default="sms", max_length=16)


class ReceiptRecorded(BaseModel):
    """The receipt webhook's answer: recorded, already recorded, or not one of ours."""

    outcome: Literal["recorded", "duplicate", "unknown"]


class InboundEmail(GatewayModel):
    """A generic inbound email, signed: ``X-Harbour-Signature: sha256=<hex HMAC-SHA256 of the
    raw body under HARBOUR_API_INBOUND_EMAIL_SECRET>``."""

    sender: OneLine = Field(alias="from", min_length=3, max_length=400)
    to: OneLine = Field(default="", max_length=400)
    subject: OneLine = Field(default="", max_length=1000)
    body: str = Field(max_length=10000)
    message_id: OneLine = Field(min_length=1, max_length=128, description="deduplicates")
