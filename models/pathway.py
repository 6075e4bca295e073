"""The pathway's staff actions: what each needs to be allowed, and what it changes.

Pure functions of a referral's state and the policy. A workflow handler checks (``check_*``:
a broken rule raises ``ActionNotAllowed`` with a plain reason, and nothing changes), applies
(the second half of this file: each function changes the state and returns what the record
needs) and records (timeline, read model, letters). Nothing here performs I/O, so the same
rules run in tests, validators and simulations.

When timers are due: ``models.contact_schedule``; who is written to: ``models.correspondence``;
what a client's message means: ``models.message_meaning``; an episode's outcome:
``models.outcome``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from models.actions import (
    Allocation,
    Discharge,
    Extension,
    ReqolSubmission,
    ReqolWhen,
    SessionBooking,
    SessionRecord,
    TriageDecision,
    TriageOutcome,
)
from models.referral import (
    BookedSession,
    Episode,
    RecordedSession,
    ReferralState,
    ReqolRecord,
    SessionOutcome,
    Stage,
)
from models.reqol import ReqolResponses, score

TRIAGE_STAGES = frozenset({Stage.TRIAGE, Stage.INFO_REQUESTED})
EPISODE_STAGES = frozenset({Stage.ALLOCATED, Stage.IN_EPISODE})
# Before the first session a client can withdraw by message (confirmed by their contact).
WITHDRAWABLE_STAGES = frozenset(
    {Stage.TRIAGE, Stage.INFO_REQUESTED, Stage.WAITING, Stage.ALLOCATED}
)
# A booked time may be recorded slightly in the future of the workflow clock (clock skew).
CLOCK_SKEW = timedelta(minutes=5)


class ActionNotAllowed(Exception):
    """An action that does not fit the referral now; the message says why, plainly."""


def _require_stage(state: ReferralState, allowed: frozenset[Stage], action: str) -> None:
    if state.stage not in allowed:
        stages = ", ".join(sorted(s.value for s in allowed))
        raise ActionNotAllowed(
            f"cannot {action} while the referral is {state.stage.value} (only when: {stages})"
        )


def _episode(state: ReferralState, action: str) -> Episode:
    _require_stage(state, EPISODE_STAGES, action)
    assert state.episode is not None  # every episode stage has one
    return state.episode


# --- What each action needs to be allowed ---------------------------------------


def check_triage(state: ReferralState, decision: TriageDecision) -> None:
    """Triage happens once per triage round, only while the referral awaits it."""
    _require_stage(state, frozenset({Stage.TRIAGE}), "triage")
    if decision.outcome == TriageOutcome.DECLINE and decision.decline_reason is None:
        raise ActionNotAllowed("a decline needs a decline_reason so the referrer can be told why")
    if decision.outcome == TriageOutcome.REQUEST_INFORMATION and not decision.question:
        raise ActionNotAllowed("a request for information needs the question to ask the referrer")


def check_information_answer(state: ReferralState) -> None:
    """The referrer may answer only when a coordinator asked a question."""
    _require_stage(state, frozenset({Stage.INFO_REQUESTED}), "answer a triage question")


def check_allocation(state: ReferralState, allocation: Allocation) -> None:
    """Only a waiting referral is allocated (caseload room is checked by the activity)."""
    _require_stage(state, frozenset({Stage.WAITING}), "allocate")


def check_hold(state: ReferralState) -> None:
    """Only a waiting referral can be held back from automatic allocation, once."""
    _require_stage(state, frozenset({Stage.WAITING}), "hold")
    if state.held_reason is not None:
        raise ActionNotAllowed(f"the referral is already held ({state.held_reason})")


def check_hold_release(state: ReferralState) -> None:
    """Only a held referral can be released."""
    _require_stage(state, frozenset({Stage.WAITING}), "release a hold")
    if state.held_reason is None:
        raise ActionNotAllowed("the referral is not held")


def check_removal(state: ReferralState) -> None:
    """Nobody leaves the list for silence alone: removal only after validation, by a person."""
    _require_stage(state, frozenset({Stage.WAITING}), "remove from the waiting list")
    if not state.in_validation_queue:
        raise ActionNotAllowed(
            "only a referral in the validation queue can be removed from the waiting list; "
            "otherwise close it with a reason"
        )


def check_keep_on_list(state: ReferralState) -> None:
    """A coordinator validates a waiting client who has not answered check-ins."""
    _require_stage(state, frozenset({Stage.WAITING}), "keep on the waiting list")
    if not state.in_validation_queue:
        raise ActionNotAllowed("the referral is not in the validation queue")


def check_booking(state: ReferralState, booking: SessionBooking, now: datetime) -> None:
    """Book only within the plan, and only in the future."""
    episode = _episode(state, "book a session")
    if booking.at <= now:
        raise ActionNotAllowed("a session can only be booked in the future")
    if episode.attended + len(episode.booked) >= episode.planned_sessions:
        raise ActionNotAllowed(
            f"the plan of {episode.planned_sessions} sessions is fully booked or done; "
            "extend the plan first"
        )


def check_session_record(state: ReferralState, record: SessionRecord, now: datetime) -> None:
    """Record a session of this episode: never beyond the plan, never in the future."""
    episode = _episode(state, "record a session")
    if record.session_id is not None and record.session_id not in {
        b.session_id for b in episode.booked
    }:
        raise ActionNotAllowed(f"no booked session {record.session_id} in this episode")
    if record.at is not None and record.at > now + CLOCK_SKEW:
        raise ActionNotAllowed("a session cannot be recorded before it happens")
    if record.outcome == SessionOutcome.ATTENDED and episode.attended >= episode.planned_sessions:
        if episode.planned_sessions >= state.policy.max_sessions:
            raise ActionNotAllowed(
                f"an episode has at most {state.policy.max_sessions} sessions; "
                "discharge, and the client can come back later"
            )
        raise ActionNotAllowed(
            f"the plan of {episode.planned_sessions} sessions is complete; extend it first"
        )


def check_reqol(state: ReferralState, submission: ReqolSubmission) -> None:
    """One baseline and one end measure per episode, each scored or skipped with a reason."""
    episode = _episode(state, "record ReQoL-10")
    if (submission.responses is None) == (submission.skipped_reason is None):
        raise ActionNotAllowed("give either the ten responses or a reason for skipping, not both")
    if submission.responses is not None:
        try:
            ReqolResponses(
                responses=submission.responses, physical_health=submission.physical_health
            )
        except ValueError as error:
            raise ActionNotAllowed(_first_error(error)) from None
    if submission.when == ReqolWhen.BASELINE and episode.baseline is not None:
        raise ActionNotAllowed("the baseline measure of this episode is already recorded")
    if submission.when == ReqolWhen.END and episode.end is not None:
        raise ActionNotAllowed("the end measure of this episode is already recorded")
    if submission.when == ReqolWhen.END and episode.baseline is None:
        raise ActionNotAllowed("record (or skip) the baseline measure before the end measure")


def check_extension(state: ReferralState, extension: Extension) -> None:
    """A plan grows, never beyond the policy's maximum."""
    episode = _episode(state, "extend the plan")
    if extension.planned_sessions <= episode.planned_sessions:
        raise ActionNotAllowed(
            f"an extension must plan more than the current {episode.planned_sessions} sessions; "
            "to end earlier, discharge"
        )
    if extension.planned_sessions > state.policy.max_sessions:
        raise ActionNotAllowed(f"an episode has at most {state.policy.max_sessions} sessions")


def check_discharge(state: ReferralState, discharge: Discharge) -> None:
    """Discharge ends an episode; a waiting client is never discharged."""
    _episode(state, "discharge")


def check_closure(state: ReferralState) -> None:
    """A coordinator may close a referral at any stage but closed."""
    if state.stage == Stage.CLOSED:
        raise ActionNotAllowed("the referral is already closed")


def check_withdrawal_confirmation(state: ReferralState) -> None:
    """Withdrawal is possible before the first session."""
    _require_stage(state, WITHDRAWABLE_STAGES, "confirm a withdrawal")


def _first_error(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first.get("msg", "invalid responses")).removeprefix("Value error, ")
    return str(error)


# --- What each action changes -------------------------------------------------------------


def enter(state: ReferralState, stage: Stage, now: datetime) -> None:
    """Move to ``stage``: a new stage starts its own clock, a new triage round its own
    reminders."""
    if stage != state.stage:
        state.stage = stage
        state.stage_since = now
        if stage in TRIAGE_STAGES:
            state.triage_reminders_sent = 0


def decline(state: ReferralState, now: datetime, signposting: str | None = None) -> None:
    """Declined at triage: the referral closes (the referrer is told why, and signposted; the
    signposting is kept for the referrer's own view of the decision)."""
    state.closed_reason = "declined"
    state.signposting = signposting
    enter(state, Stage.CLOSED, now)


def request_information(state: ReferralState, question: str | None, now: datetime) -> None:
    """Triage waits for the referrer's answer to a coordinator's question."""
    state.open_question = question
    enter(state, Stage.INFO_REQUESTED, now)


def receive_information(state: ReferralState, now: datetime) -> None:
    """The referrer answered: the referral is back in triage."""
    state.open_question = None
    enter(state, Stage.TRIAGE, now)


def accept(state: ReferralState, now: datetime) -> None:
    """Accepted at triage: the client joins the waiting list."""
    state.accepted_at = now
    join_waiting_list(state, now)


def join_waiting_list(state: ReferralState, now: datetime) -> None:
    """On the list from ``now``: check-ins start afresh, and any hold is gone."""
    state.waiting_since = now
    state.last_checkin_at = None
    state.checkin_awaiting_answer = False
    state.unanswered_checkins = 0
    state.held_reason = None
    enter(state, Stage.WAITING, now)


def keep_on_list(state: ReferralState) -> None:
    """A coordinator validated a silent client: they stay, and their silence is forgotten."""
    state.in_validation_queue = False
    state.unanswered_checkins = 0


def hold(state: ReferralState, reason: str) -> None:
    """Held back from automatic allocation; the wait clock keeps running."""
    state.held_reason = reason


def release_hold(state: ReferralState) -> None:
    """Allocatable again, in the referral's original place in the order."""
    state.held_reason = None


def next_episode(state: ReferralState) -> int:
    """The number of the episode a caseload place is reserved for."""
    return state.episode_number + 1


def accepts_offer(state: ReferralState, episode: int) -> bool:
    """An allocator's reserved place is taken only by a waiting, unheld referral, for the
    episode it was reserved for."""
    return (
        state.stage == Stage.WAITING
        and state.held_reason is None
        and episode == next_episode(state)
    )


def offer_is_for_begun_episode(state: ReferralState, episode: int) -> bool:
    """An offer for an episode the referral has already begun (a coordinator allocated it by
    hand while the offer was in flight) names the referral's own place: it is never freed."""
    return episode <= state.episode_number


def start_episode(state: ReferralState, practitioner_id: str, now: datetime) -> Episode:
    """Allocated: a new episode with the practitioner, planned at the policy's length. The
    episode of a client who came back says so (they and the practitioner are told so)."""
    state.episode_number += 1
    state.practitioner_id = practitioner_id
    if practitioner_id not in state.practitioner_history:
        state.practitioner_history.append(practitioner_id)
    state.episode = Episode(
        number=state.episode_number,
        practitioner_id=practitioner_id,
        allocated_at=now,
        planned_sessions=state.policy.planned_sessions,
        returning=state.returning,
        last_contact_at=now,
    )
    state.returning = False
    state.in_validation_queue = False
    enter(state, Stage.ALLOCATED, now)
    return state.episode


def book_session(state: ReferralState, booking: SessionBooking) -> BookedSession:
    """A session booked in the current episode, its id numbered within the episode."""
    episode = _current(state)
    session_id = f"e{episode.number}s{len(episode.sessions) + len(episode.booked) + 1}"
    booked = BookedSession(session_id=session_id, at=booking.at, location=booking.location)
    episode.booked.append(booked)
    episode.booked.sort(key=lambda b: b.at)
    return booked


class SessionRecorded(NamedTuple):
    """A session as recorded, and whether the practitioner is prompted about non-attendance."""

    session: RecordedSession
    prompt_non_attendance: bool


def record_session(state: ReferralState, record: SessionRecord, now: datetime) -> SessionRecorded:
    """Record a session. A booked one leaves the bookings (its time and place stand unless
    given); the first attended session starts the episode proper and, the first time ever,
    stops the wait clock; did-not-attends in a row reaching the policy's number prompt the
    practitioner."""
    episode = _current(state)
    booked = next((b for b in episode.booked if b.session_id == record.session_id), None)
    if booked is not None:
        episode.booked.remove(booked)
    session = RecordedSession(
        session_id=record.session_id or f"e{episode.number}w{len(episode.sessions) + 1}",
        at=record.at or (booked.at if booked else now),
        outcome=record.outcome,
        location=booked.location
        if booked and record.location == "not recorded"
        else record.location,
        liaison=record.liaison,
    )
    episode.sessions.append(session)
    prompt = False
    if record.outcome == SessionOutcome.ATTENDED:
        episode.consecutive_dna = 0
        episode.last_contact_at = max(episode.last_contact_at, session.at)
        if episode.first_session_at is None:
            episode.first_session_at = session.at
            if state.first_session_at is None:
                state.first_session_at = session.at
            enter(state, Stage.IN_EPISODE, now)
    elif record.outcome == SessionOutcome.DID_NOT_ATTEND:
        episode.consecutive_dna += 1
        prompt = repeated_non_attendance(episode, state.policy.dna_nudge_after)
    return SessionRecorded(session=session, prompt_non_attendance=prompt)


def repeated_non_attendance(episode: Episode, policy_threshold: int) -> bool:
    """The practitioner is prompted when did-not-attends reach the threshold in a row."""
    return episode.consecutive_dna == policy_threshold


class ReqolRecorded(NamedTuple):
    """A ReQoL-10 measure as kept, and whether its answers need the practitioner urgently."""

    measure: ReqolRecord
    urgent: bool


def record_reqol(state: ReferralState, submission: ReqolSubmission, now: datetime) -> ReqolRecorded:
    """Score the measure (or keep why it was skipped) as the episode's baseline or end. The
    item that asks about risk, answered at its two worst levels, is urgent."""
    episode = _current(state)
    urgent = False
    if submission.responses is not None:
        result = score(
            ReqolResponses(
                responses=submission.responses, physical_health=submission.physical_health
            ),
            cutoff=state.policy.reqol_clinical_cutoff,
        )
        measure = ReqolRecord(total=result.total, recorded_at=now)
        urgent = result.alert
    else:
        measure = ReqolRecord(
            skipped_reason=submission.skipped_reason,
            skip_note=submission.skip_note,
            recorded_at=now,
        )
    if submission.when == ReqolWhen.BASELINE:
        episode.baseline = measure
    else:
        episode.end = measure
    return ReqolRecorded(measure=measure, urgent=urgent)


def extend(state: ReferralState, extension: Extension) -> int:
    """The plan grows to ``extension.planned_sessions``; returns the plan it replaced."""
    episode = _current(state)
    previous = episode.planned_sessions
    episode.planned_sessions = extension.planned_sessions
    return previous


def discharge(state: ReferralState, now: datetime) -> Episode:
    """The episode ends; the referral stays open for the client to come back. Returns the
    episode that ended (its outcome: ``models.outcome``)."""
    episode = _current(state)
    state.discharged_at = now
    state.episode = None
    enter(state, Stage.DISCHARGED, now)
    return episode


def reactivate(state: ReferralState) -> str:
    """A discharged client asked to come back (no re-referral, no triage): back to their own
    practitioner, whose id this returns — a new episode if the practitioner has room
    (``start_episode``), otherwise the front of the list (``join_waiting_list``)."""
    assert state.practitioner_id is not None  # every discharged referral had an episode
    state.returning = True
    return state.practitioner_id


def request_withdrawal(state: ReferralState, now: datetime) -> None:
    """The client asked to withdraw: nothing changes until they (or a coordinator) confirm."""
    state.withdrawal_requested_at = now


def close(state: ReferralState, reason: str, now: datetime) -> Episode | None:
    """Close the referral for ``reason``; returns the episode it was in, if any, whose
    caseload place is then freed."""
    episode = state.episode
    state.closed_reason = reason
    state.withdrawal_requested_at = None
    enter(state, Stage.CLOSED, now)
    return episode


def _current(state: ReferralState) -> Episode:
    assert state.episode is not None  # only after a check that found an episode
    return state.episode
