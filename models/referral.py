"""A referral: what the referrer sends, and the state the workflow keeps."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from models.client_numbers import nhs_number_field, phone_field
from models.notifications import ContactChannel
from models.policy import ServicePolicy
from models.text import NOT_BLANK, EmailAddress, FreeText, OneLine

REFERENCE_PATTERN = r"^R[0-9A-HJKMNP-TV-Z]{8,26}$"


class Stage(StrEnum):
    """Stages of DESIGN.md's lifecycle (the ``ReferralStage`` search attribute)."""

    RECEIVED = "received"
    TRIAGE = "triage"
    INFO_REQUESTED = "info_requested"
    WAITING = "waiting"
    ALLOCATED = "allocated"
    IN_EPISODE = "in_episode"
    DISCHARGED = "discharged"
    CLOSED = "closed"


class Urgency(StrEnum):
    ROUTINE = "routine"
    SOON = "soon"
    URGENT = "urgent"


class Strict(BaseModel):
    """Base for boundary models: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClientDetails(Strict):
    """Who the referral is for. Personal data: lives only in encrypted payloads."""

    name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(
        default=None,
        max_length=32,
        description="a UK number (07700 900123) or + and the country code; stored as E.164",
    )
    nhs_number: str | None = Field(
        default=None, pattern=r"^\d{10}$", description="10 digits; the check digit must be right"
    )
    may_contact: bool = Field(
        default=True, description="the client agreed to be written to directly"
    )
    channels: list[ContactChannel] | None = Field(
        default=None,
        description="the channels the client agreed to be written to on (default: every "
        "channel given a contact)",
    )
    preferred_channel: ContactChannel | None = Field(
        default=None, description="the channel to try first (default: email, then text)"
    )
    safe_to_leave_messages: bool = Field(
        default=True,
        description="false: letters and texts say only who to call, nothing about the service",
    )

    @field_validator("phone")
    @classmethod
    def _normalise_phone(cls, value: str | None) -> str | None:
        return None if value is None else phone_field(value)

    @field_validator("nhs_number")
    @classmethod
    def _nhs_check_digit(cls, value: str | None) -> str | None:
        return None if value is None else nhs_number_field(value)

    @model_validator(mode="after")
    def _reachable(self) -> ClientDetails:
        if self.email is None and self.phone is None:
            raise ValueError("a client needs an email or a phone number to be reachable")
        for channel in [*(self.channels or []), self.preferred_channel]:
            if channel is not None and self.address(channel) is None:
                raise ValueError(f"the {channel.value} channel needs a contact on it")
        if (
            self.preferred_channel is not None
            and self.channels is not None
            and self.preferred_channel not in self.channels
        ):
            raise ValueError("the preferred channel must be one of the agreed channels")
        return self

    def address(self, channel: ContactChannel) -> str | None:
        """The registered contact on a channel, if any."""
        return self.phone if channel is ContactChannel.SMS else self.email


class ReferrerDetails(Strict):
    """Who referred: an organisation and a person there to write back to."""

    organisation: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr


class ReferralSubmission(Strict):
    """What a referrer sends. ``reason`` is free text and never leaves encrypted storage."""

    client: ClientDetails
    referrer: ReferrerDetails
    consent: bool = Field(description="the client consented to this referral")
    urgency: Urgency = Urgency.ROUTINE
    reason: str = Field(min_length=1, max_length=5000)

    @field_validator("consent")
    @classmethod
    def _consent_required(cls, value: bool) -> bool:
        if not value:
            raise ValueError("the client's consent is required before a referral can be made")
        return value


# What comes in: the same models, with the text rules of the door (``models.text``). The
# workflow's own models above stay plain ``str``, so that every stored history replays.

# How a phone number is written: digits, an optional leading +, and spaces, dots, dashes,
# slashes or brackets between them. Whether it is a number a phone could have (the numbering
# plan of its country, models/client_numbers.py) no pattern can say: that refusal has its own
# error type, ``phone_number``.
PHONE_PATTERN = "^\\+?[ ()./-]*[0-9][0-9 ()./-]*$"
_PHONE_WRITTEN = re.compile(PHONE_PATTERN)
PHONE_MAX_LENGTH = 32


def _phone_as_written(value: Any) -> Any:
    # Checked as sent, before surrounding spaces are stripped: what the schema's pattern and
    # length say is exactly what is refused.
    if isinstance(value, str) and (
        len(value) > PHONE_MAX_LENGTH or not _PHONE_WRITTEN.fullmatch(value)
    ):
        raise PydanticCustomError(
            "phone_format",
            "a phone number is digits, with an optional leading + and spaces, dots, dashes, "
            "slashes or brackets between them, at most 32 characters",
        )
    return value


_CONTACT = {"type": "string"}
_ONLY_EMAIL = {"anyOf": [{"type": "null"}, {"type": "array", "items": {"const": "email"}}]}
_ONLY_SMS = {"anyOf": [{"type": "null"}, {"type": "array", "items": {"const": "sms"}}]}
# ClientDetails' own rules, as JSON Schema: reachable, every channel agreed has a contact on
# it, and the preferred channel is one of those agreed.
CLIENT_RULES: dict[str, Any] = {
    "allOf": [
        {
            "anyOf": [
                {"required": ["email"], "properties": {"email": _CONTACT}},
                {"required": ["phone"], "properties": {"phone": _CONTACT}},
            ]
        },
        {
            "anyOf": [
                {"properties": {"channels": _ONLY_EMAIL}},
                {"required": ["phone"], "properties": {"phone": _CONTACT}},
            ]
        },
        {
            "anyOf": [
                {"properties": {"channels": _ONLY_SMS}},
                {"required": ["email"], "properties": {"email": _CONTACT}},
            ]
        },
        {
            "anyOf": [
                {"properties": {"preferred_channel": {"enum": ["email", None]}}},
                {"required": ["phone"], "properties": {"phone": _CONTACT}},
            ]
        },
        {
            "anyOf": [
                {"properties": {"preferred_channel": {"enum": ["sms", None]}}},
                {"required": ["email"], "properties": {"email": _CONTACT}},
            ]
        },
        {
            "anyOf": [
                {"properties": {"preferred_channel": {"type": "null"}}},
                {"properties": {"channels": {"type": "null"}}},
                {
                    "properties": {
                        "preferred_channel": {"const": "sms"},
                        "channels": {"contains": {"const": "sms"}},
                    }
                },
                {
                    "properties": {
                        "preferred_channel": {"const": "email"},
                        "channels": {"contains": {"const": "email"}},
                    }
                },
            ]
        },
    ]
}


class ClientEntry(ClientDetails):
    """``ClientDetails`` as a referrer sends them: one-line name, a phone number written as
    ``PHONE_PATTERN`` says, and the model's rules stated in its JSON Schema."""

    model_config = ConfigDict(json_schema_extra=CLIENT_RULES)

    name: Annotated[OneLine, NOT_BLANK] = Field(min_length=1, max_length=200)
    email: EmailAddress | None = None
    # The pattern allows no control character, and is checked before stripping.
    phone: (
        Annotated[
            str,
            Field(max_length=PHONE_MAX_LENGTH, pattern=PHONE_PATTERN),
            BeforeValidator(_phone_as_written),
        ]
        | None
    ) = None


class ReferrerEntry(ReferrerDetails):
    """``ReferrerDetails`` as a referrer sends them: one-line organisation and name."""

    organisation: Annotated[OneLine, NOT_BLANK] = Field(min_length=1, max_length=200)
    name: Annotated[OneLine, NOT_BLANK] = Field(min_length=1, max_length=200)
    email: EmailAddress


class ReferralEntry(ReferralSubmission):
    """A referral as it comes in (the CLI's ``refer``): ``ReferralSubmission`` with the text
    rules of the door. It is handed on as the ``ReferralSubmission`` it is."""

    client: ClientEntry
    referrer: ReferrerEntry
    reason: Annotated[FreeText, NOT_BLANK] = Field(min_length=1, max_length=5000)


class TimelineEvent(BaseModel):
    """One thing that happened to a referral. ``detail`` holds codes, never free text."""

    seq: int
    at: datetime
    kind: str
    stage: Stage
    detail: dict[str, str | int | bool | None] = Field(default_factory=dict)


class SessionOutcome(StrEnum):
    ATTENDED = "attended"
    DID_NOT_ATTEND = "did_not_attend"
    CANCELLED = "cancelled"


class LiaisonKind(StrEnum):
    HOUSING = "housing"
    BENEFITS = "benefits"
    EMPLOYMENT = "employment"
    COMMUNITY_GROUP = "community_group"
    PHYSICAL_HEALTH = "physical_health"
    OTHER = "other"


class BookedSession(BaseModel):
    session_id: str
    at: datetime
    location: str
    reminded: bool = False


class RecordedSession(BaseModel):
    session_id: str
    at: datetime
    outcome: SessionOutcome
    location: str
    liaison: list[LiaisonKind] = Field(default_factory=list)


class ReqolWhen(StrEnum):
    """Which of an episode's two ReQoL-10 measures: at its start or at its end."""

    BASELINE = "baseline"
    END = "end"


class ReqolRecord(BaseModel):
    """A measure as the workflow keeps it: scores, or the reason it was skipped (a
    ``ReqolSkipReason`` code; free text in referrals recorded before the codes) and any note
    about it. Only the code ever leaves the workflow's encrypted state."""

    total: int | None = None
    skipped_reason: str | None = None
    skip_note: str | None = None
    recorded_at: datetime


class Episode(BaseModel):
    """One 6–10 session episode with a practitioner."""

    number: int
    practitioner_id: str
    allocated_at: datetime
    planned_sessions: int
    returning: bool = False
    booked: list[BookedSession] = Field(default_factory=list)
    sessions: list[RecordedSession] = Field(default_factory=list)
    baseline: ReqolRecord | None = None
    end: ReqolRecord | None = None
    first_session_at: datetime | None = None
    last_contact_at: datetime
    silence_nudged_at: datetime | None = None
    consecutive_dna: int = 0

    @property
    def attended(self) -> int:
        return sum(1 for s in self.sessions if s.outcome == SessionOutcome.ATTENDED)


class ReferralState(BaseModel):
    """All a referral's workflow carries, including across continue-as-new."""

    ref: str
    submission: ReferralSubmission
    policy: ServicePolicy
    stage: Stage = Stage.RECEIVED
    received_at: datetime
    stage_since: datetime
    acknowledged: bool = False
    triage_reminders_sent: int = 0
    accepted_at: datetime | None = None
    waiting_since: datetime | None = None
    checkins_sent: int = 0
    checkin_awaiting_answer: bool = False
    unanswered_checkins: int = 0
    last_checkin_at: datetime | None = None
    in_validation_queue: bool = False
    breach_flagged: bool = False
    first_session_at: datetime | None = Field(
        default=None, description="first attended session of the first episode: stops the wait"
    )
    practitioner_id: str | None = None
    practitioner_history: list[str] = Field(default_factory=list)
    returning: bool = Field(default=False, description="came back after discharge, not yet seen")
    held_reason: str | None = Field(default=None, description="held back from auto allocation")
    position: int | None = None
    waiting_total: int | None = None
    estimate_weeks_low: int | None = None
    estimate_weeks_high: int | None = None
    open_question: str | None = None
    # Free text a coordinator wrote for the referrer with a decline: the referrer's own view
    # only (a letter carries it too), kept in the encrypted state, never in the read model.
    signposting: str | None = None
    episode_number: int = 0
    episode: Episode | None = None
    discharged_at: datetime | None = None
    withdrawal_requested_at: datetime | None = None
    closed_reason: str | None = None
    seq: int = 0
    timeline: list[TimelineEvent] = Field(default_factory=list)
    recent_message_ids: list[str] = Field(default_factory=list)
    sms_opted_out: bool = Field(default=False, description="the client texted STOP")
    runs: int = 1


class NextDeadline(BaseModel):
    at: datetime
    kind: str


class ReferralView(BaseModel):
    """What the ``state`` query returns: the referral as staff see it (no free text)."""

    ref: str
    stage: Stage
    urgency: Urgency
    referrer_organisation: str
    episode_number: int
    practitioner_id: str | None
    sessions_done: int
    sessions_planned: int
    booked_sessions: list[BookedSession]
    returning: bool
    held_reason: str | None
    position: int | None
    waiting_total: int | None
    estimate_weeks_low: int | None
    estimate_weeks_high: int | None
    waiting_since: datetime | None
    received_at: datetime
    in_validation_queue: bool
    breach: bool
    withdrawal_pending: bool
    closed_reason: str | None
    next_deadline: NextDeadline | None
    timeline: list[TimelineEvent]
    texts_stopped: bool = Field(
        default=False,
        description="the client texted STOP: no texts go but the crisis contacts and one question",
    )
    reqol_due: ReqolWhen | None = Field(
        default=None,
        description="the ReQoL-10 the client may give by link before their next session",
    )


class ReferralInput(BaseModel):
    """Start a referral (``submission``) or carry one on after continue-as-new (``carried``)."""

    ref: str
    submission: ReferralSubmission | None = None
    policy: ServicePolicy | None = None
    carried: ReferralState | None = None


class ReferralResult(BaseModel):
    """What a referral's workflow returns when it is closed."""

    ref: str
    stage: Stage
    closed_reason: str | None
    episodes: int
