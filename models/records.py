"""Inputs and results of the record-keeping activities (the database read model).

Activity names are constants so workflows call them by name and never import
SQLAlchemy into the workflow sandbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field

from models.actions import DischargeReason
from models.messages import Intent
from models.referral import LiaisonKind, SessionOutcome, Stage, TimelineEvent, Urgency
from models.reqol import ReqolSkipReason, skip_code

RECORD_TRANSITION = "record_transition"
RECORD_SESSION = "record_session"
RECORD_OUTCOME = "record_outcome"
RESERVE_CASELOAD = "reserve_caseload"
RELEASE_CASELOAD = "release_caseload"
WAITING_POSITION = "waiting_position"
RECORD_MESSAGE_HANDLING = "record_message_handling"
PLAN_ALLOCATIONS = "plan_allocations"
WAKE_ALLOCATOR = "wake_allocator"


class ReferralSnapshot(BaseModel):
    """The read-model row of one referral: stages, times, codes. No personal data."""

    ref: str
    stage: Stage
    urgency: Urgency
    referrer_organisation: str
    received_at: datetime
    accepted_at: datetime | None = None
    waiting_since: datetime | None = None
    first_session_at: datetime | None = None
    discharged_at: datetime | None = None
    closed_reason: str | None = None
    practitioner_id: str | None = None
    episode_number: int = 0
    breach: bool = False
    in_validation_queue: bool = False
    withdrawal_pending: bool = False
    decline_reason: str | None = None
    returning_to: str | None = Field(
        default=None, description="practitioner a returning client waits for"
    )
    held: bool = False
    hold_reason: str | None = None


class SearchablePerson(BaseModel):
    """What staff may find a client by (``models/person_search.py``): the activity stores
    keyed hashes of its terms, never the values."""

    name: str
    nhs_number: str | None = None
    phone: str | None = None


class TransitionRecord(BaseModel):
    """Upsert the referral row and append one timeline event, in one transaction."""

    snapshot: ReferralSnapshot
    event: TimelineEvent
    # On receipt only: the registered contacts (email, phone) to index for message matching.
    # The activity stores keyed hashes of them, never the contacts themselves.
    register_contacts: list[str] = Field(default_factory=list)
    contacts_discreet: bool = False
    # On receipt only: the person, for the staff's search (every way in, in the same
    # transaction as the referral's first row). None in histories recorded before this.
    register_person: SearchablePerson | None = None


class SessionWrite(BaseModel):
    """A session as the workflow writes it to the read model (one ``sessions`` row)."""

    ref: str
    episode: int
    session_id: str
    at: datetime
    outcome: SessionOutcome
    location: str
    liaison: list[LiaisonKind] = Field(default_factory=list)


# A skip reason as the outcomes keep it: a code, whatever text an old history carried.
SkipCode = Annotated[ReqolSkipReason, BeforeValidator(skip_code)]


class OutcomeRecord(BaseModel):
    """An episode's outcome. The activity stores it under a keyed pseudonym of the ref."""

    ref: str
    episode: int
    discharged_at: datetime
    discharge_reason: DischargeReason
    sessions_attended: int
    baseline_total: int | None = None
    end_total: int | None = None
    # Codes only (the outcomes are anonymised): free text from before the codes is "other".
    baseline_skipped_reason: SkipCode | None = None
    end_skipped_reason: SkipCode | None = None
    change: str | None = None
    recovered: bool | None = None
    reliably_recovered: bool | None = None
    liaison: list[LiaisonKind] = Field(default_factory=list)


class CaseloadRequest(BaseModel):
    practitioner_id: str
    ref: str
    episode: int
    at: datetime


class CaseloadResult(BaseModel):
    reserved: bool
    reason: str | None = None


class CaseloadRelease(BaseModel):
    ref: str
    episode: int
    at: datetime
    # Only this practitioner's place (an allocator's offer the referral declined must never
    # free a place another practitioner holds for the same episode).
    practitioner_id: str | None = None


class WaitingPositionRequest(BaseModel):
    ref: str
    # "Now" for the allocation rate (pass workflow.now()); None: the activity's scheduled time.
    at: datetime | None = None


class WaitingPosition(BaseModel):
    """Where a waiting referral stands, with an honest range rather than a false precision."""

    position: int
    waiting_total: int
    estimate_weeks_low: int | None = None
    estimate_weeks_high: int | None = None


class MessageHandling(BaseModel):
    """How the workflow read a stored inbound message."""

    message_id: str
    ref: str
    intent: Intent
    crisis: bool
    to_inbox: bool


class StoredMessage(BaseModel):
    """What storing an inbound message did: its id, the referral it matched (None: the
    coordinators' inbox), and whether the gateway had already delivered it."""

    id: str
    ref: str | None = None
    duplicate: bool = False
    # inbound_messages.status: "matched" (its workflow has not read it yet; signalling again
    # is safe, the workflow ignores a message id it has seen), "inbox", "handled", "resolved".
    status: str = "matched"
    discreet: bool = Field(default=False, description="replies must say only 'please call us'")


class InboxItem(BaseModel):
    """An inbound message as coordinators see it in their inbox (or its history)."""

    id: str
    channel: str
    received_at: datetime
    body: str
    ref: str | None = None
    status: str
    intent: str | None = None
    crisis: bool = False
    in_inbox: bool = False
    resolved_at: datetime | None = None
    resolution_note: str | None = None


class InboxMessage(InboxItem):
    """An open inbox message as the coordinators' page shows it: who sent it (opened from its
    seal for display; None for messages kept before it was sealed), who has claimed it, and
    the coded reply sent to it (which, who, when)."""

    sender: str | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    reply_code: str | None = None
    replied_by: str | None = None
    replied_at: datetime | None = None


class Practitioner(BaseModel):
    """A practitioner and how full their caseload is (active episodes of ``capacity``)."""

    id: str
    name: str
    email: str
    capacity: int
    active: bool = True
    caseload: int = 0


# --- The allocator (activities/allocation.py, workflows/allocator.py) ---


class PlanRequest(BaseModel):
    at: datetime


class AllocatorInput(BaseModel):
    """``sweep_every``: also look for work on a timer, as a safety net (None: only on wake)."""

    sweep_every: timedelta | None = None
    pending_wake: bool = True


class WakeRequest(BaseModel):
    reason: str = Field(max_length=64, description="a code, e.g. joined_list, capacity_freed")


def allocator_id(task_queue: str) -> str:
    """One allocator per task queue (so each test's worker has its own)."""
    return f"allocator-{task_queue}"


class PlannedAllocation(BaseModel):
    """A caseload place reserved for a referral; the referral's workflow is then told."""

    ref: str
    practitioner_id: str
    episode: int
    reason: str
