"""Inputs of the staff actions (workflow updates). One model per action so fields can grow."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from models.referral import LiaisonKind, ReqolWhen, SessionOutcome, Strict


class TriageOutcome(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    REQUEST_INFORMATION = "request_information"


class DeclineReason(StrEnum):
    """Coded so referrers can be given feedback and reports can count them."""

    NEEDS_SECONDARY_CARE = "needs_secondary_care"
    NEEDS_PRIMARY_CARE_ONLY = "needs_primary_care_only"
    OUT_OF_AREA = "out_of_area"
    ALREADY_SUPPORTED = "already_supported"
    NOT_CONSENTED = "not_consented"
    OTHER = "other"


class TriageDecision(Strict):
    """A coordinator's triage: accept, decline (reason and signposting) or ask for more."""

    outcome: TriageOutcome
    coordinator: str = Field(min_length=1, max_length=64, description="staff id, not a name")
    decline_reason: DeclineReason | None = None
    signposting: str | None = Field(
        default=None, max_length=500, description="other services suggested to the referrer"
    )
    question: str | None = Field(
        default=None, max_length=2000, description="what the referrer is asked"
    )


class InformationAnswer(Strict):
    """The referrer's answer to a triage question."""

    answer: str = Field(min_length=1, max_length=5000)


class Allocation(Strict):
    """Allocate the referral to a practitioner (their caseload room is checked)."""

    practitioner_id: str = Field(min_length=1, max_length=64)
    coordinator: str = Field(min_length=1, max_length=64)


class SessionBooking(Strict):
    """Book a session; the client is reminded before it."""

    at: datetime
    location: str = Field(min_length=1, max_length=200, description="e.g. café, home, beach")


class SessionRecord(Strict):
    """Record a session: attended / did not attend / cancelled, where, liaison done."""

    session_id: str | None = Field(default=None, description="a booked session, or none")
    at: datetime | None = None
    outcome: SessionOutcome
    location: str = Field(default="not recorded", min_length=1, max_length=200)
    liaison: list[LiaisonKind] = Field(default_factory=list, max_length=6)


class ReqolSubmission(Strict):
    """ReQoL-10 responses by item number (1–10), 0–4 as answered, or a reason to skip.

    ``skipped_reason`` is a ``ReqolSkipReason`` code: the API and the CLI take nothing else.
    It stays ``str`` here because histories written before the codes hold free text, and a
    workflow must still read them back (``skip_code`` turns that text into ``other``)."""

    when: ReqolWhen
    responses: dict[int, int] | None = None
    physical_health: int | None = Field(default=None, ge=0, le=4)
    skipped_reason: str | None = Field(default=None, max_length=500)
    skip_note: str | None = Field(
        default=None,
        max_length=500,
        description="free text about the skip: kept in the referral's encrypted state only",
    )


class Extension(Strict):
    """Extend the plan of sessions (never beyond the policy maximum)."""

    planned_sessions: int = Field(ge=1)


class DischargeReason(StrEnum):
    COMPLETED = "completed"
    ENDED_EARLY_BY_AGREEMENT = "ended_early_by_agreement"
    NOT_ENGAGED = "not_engaged"
    OTHER = "other"


class Discharge(Strict):
    """Discharge: a coded reason and a summary that stays in encrypted storage."""

    reason: DischargeReason
    summary: str = Field(min_length=1, max_length=5000)


class ClosureReason(StrEnum):
    MOVED_AWAY = "moved_away"
    TRANSFERRED = "transferred"
    DECEASED = "deceased"
    DUPLICATE = "duplicate"
    OTHER = "other"


class Closure(Strict):
    """A coordinator closes the referral."""

    reason: ClosureReason
    coordinator: str = Field(min_length=1, max_length=64)


class WithdrawalConfirmation(Strict):
    """A coordinator confirms a withdrawal the client asked for (e.g. by phone)."""

    coordinator: str = Field(min_length=1, max_length=64)


class HoldReason(StrEnum):
    """Why a coordinator holds a referral back from automatic allocation (coded: it is shown
    on the timeline and in reports)."""

    CLIENT_UNAVAILABLE = "client_unavailable"
    CLIENT_ASKED_TO_PAUSE = "client_asked_to_pause"
    AWAITING_INFORMATION = "awaiting_information"
    NEEDS_SPECIFIC_PRACTITIONER = "needs_specific_practitioner"
    OTHER = "other"


class Hold(Strict):
    """Hold a waiting referral back from automatic allocation, with a reason."""

    reason: HoldReason
    coordinator: str = Field(min_length=1, max_length=64)


class HoldRelease(Strict):
    """Let a held referral be allocated again (it keeps its place: the clock never stopped)."""

    coordinator: str = Field(min_length=1, max_length=64)


class RemovalReason(StrEnum):
    """Why a coordinator removes someone from the list after validation; told to the
    referrer and the client."""

    NO_RESPONSE = "no_response"
    NO_LONGER_WANTED = "no_longer_wanted"
    SUPPORTED_ELSEWHERE = "supported_elsewhere"
    MOVED_AWAY = "moved_away"


class Removal(Strict):
    """Remove a client from the waiting list after validation (never automatic)."""

    reason: RemovalReason
    coordinator: str = Field(min_length=1, max_length=64)


class AllocationOffer(Strict):
    """From the allocator: a caseload place is reserved for this referral's next episode."""

    practitioner_id: str = Field(min_length=1, max_length=64)
    episode: int = Field(ge=1)
    reason: str = Field(max_length=300)
