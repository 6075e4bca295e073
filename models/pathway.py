"""The rules of the pathway, each in one place and named for the rule.

Pure functions of a referral's state and the policy: the workflow asks them what is
allowed and when the next thing is due, and acts. Nothing here performs I/O, so the
same rules can be checked in tests, validators and (later) simulations.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

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
    Episode,
    NextDeadline,
    ReferralState,
    SessionOutcome,
    Stage,
)
from models.reqol import ReqolResponses

TRIAGE_STAGES = frozenset({Stage.TRIAGE, Stage.INFO_REQUESTED})
EPISODE_STAGES = frozenset({Stage.ALLOCATED, Stage.IN_EPISODE})
# Before the first session a client can withdraw by message (confirmed by their contact).
WITHDRAWABLE_STAGES = frozenset(
    {Stage.TRIAGE, Stage.INFO_REQUESTED, Stage.WAITING, Stage.ALLOCATED}
)
# The waiting standard runs from referral to the first session of the first episode.
WAIT_CLOCK_STAGES = frozenset({Stage.TRIAGE, Stage.INFO_REQUESTED, Stage.WAITING, Stage.ALLOCATED})
# A booked time may be recorded slightly in the future of the workflow clock (clock skew).
CLOCK_SKEW = timedelta(minutes=5)


class ActionRejected(Exception):
    """An action that does not fit the referral now; the message says why, plainly."""


class TimerKind(StrEnum):
    TRIAGE_REMINDER = "triage_reminder"
    CHECKIN = "checkin"
    WAIT_BREACH = "wait_breach"
    SESSION_REMINDER = "session_reminder"
    SILENCE_NUDGE = "silence_nudge"
    REENTRY_WINDOW_END = "reentry_window_end"


def _require_stage(state: ReferralState, allowed: frozenset[Stage], action: str) -> None:
    if state.stage not in allowed:
        stages = ", ".join(sorted(s.value for s in allowed))
        raise ActionRejected(
            f"cannot {action} while the referral is {state.stage.value} (only when: {stages})"
        )


def _episode(state: ReferralState, action: str) -> Episode:
    _require_stage(state, EPISODE_STAGES, action)
    assert state.episode is not None  # every episode stage has one
    return state.episode


# --- Staff actions: what each needs to be allowed ---------------------------------------


def check_triage(state: ReferralState, decision: TriageDecision) -> None:
    """Triage happens once per triage round, only while the referral awaits it."""
    _require_stage(state, frozenset({Stage.TRIAGE}), "triage")
    if decision.outcome == TriageOutcome.DECLINE and decision.decline_reason is None:
        raise ActionRejected("a decline needs a decline_reason so the referrer can be told why")
    if decision.outcome == TriageOutcome.REQUEST_INFORMATION and not decision.question:
        raise ActionRejected("a request for information needs the question to ask the referrer")


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
        raise ActionRejected(f"the referral is already held ({state.held_reason})")


def check_hold_release(state: ReferralState) -> None:
    """Only a held referral can be released."""
    _require_stage(state, frozenset({Stage.WAITING}), "release a hold")
    if state.held_reason is None:
        raise ActionRejected("the referral is not held")


def check_removal(state: ReferralState) -> None:
    """Nobody leaves the list for silence alone: removal only after validation, by a person."""
    _require_stage(state, frozenset({Stage.WAITING}), "remove from the waiting list")
    if not state.in_validation_queue:
        raise ActionRejected(
            "only a referral in the validation queue can be removed from the waiting list; "
            "otherwise close it with a reason"
        )


def accepts_offer(state: ReferralState, episode: int) -> bool:
    """An allocator's reserved place is taken only by a waiting, unheld referral, for the
    episode it was reserved for."""
    return (
        state.stage == Stage.WAITING
        and state.held_reason is None
        and episode == state.episode_number + 1
    )


def offer_is_for_begun_episode(state: ReferralState, episode: int) -> bool:
    """An offer for an episode the referral has already begun (a coordinator allocated it by
    hand while the offer was in flight) names the referral's own place: it is never freed."""
    return episode <= state.episode_number


def check_keep_on_list(state: ReferralState) -> None:
    """A coordinator validates a waiting client who has not answered check-ins."""
    _require_stage(state, frozenset({Stage.WAITING}), "keep on the waiting list")
    if not state.in_validation_queue:
        raise ActionRejected("the referral is not in the validation queue")


def check_booking(state: ReferralState, booking: SessionBooking, now: datetime) -> None:
    """Book only within the plan, and only in the future."""
    episode = _episode(state, "book a session")
    if booking.at <= now:
        raise ActionRejected("a session can only be booked in the future")
    if episode.attended + len(episode.booked) >= episode.planned_sessions:
        raise ActionRejected(
            f"the plan of {episode.planned_sessions} sessions is fully booked or done; "
            "extend the plan first"
        )


def check_session_record(state: ReferralState, record: SessionRecord, now: datetime) -> None:
    """Record a session of this episode: never beyond the plan, never in the future."""
    episode = _episode(state, "record a session")
    if record.session_id is not None and record.session_id not in {
        b.session_id for b in episode.booked
    }:
        raise ActionRejected(f"no booked session {record.session_id} in this episode")
    if record.at is not None and record.at > now + CLOCK_SKEW:
        raise ActionRejected("a session cannot be recorded before it happens")
    if record.outcome == SessionOutcome.ATTENDED and episode.attended >= episode.planned_sessions:
        if episode.planned_sessions >= state.policy.max_sessions:
            raise ActionRejected(
                f"an episode has at most {state.policy.max_sessions} sessions; "
                "discharge, and the client can come back later"
            )
        raise ActionRejected(
            f"the plan of {episode.planned_sessions} sessions is complete; extend it first"
        )


def check_reqol(state: ReferralState, submission: ReqolSubmission) -> None:
    """One baseline and one end measure per episode, each scored or skipped with a reason."""
    episode = _episode(state, "record ReQoL-10")
    if (submission.responses is None) == (submission.skipped_reason is None):
        raise ActionRejected("give either the ten responses or a reason for skipping, not both")
    if submission.responses is not None:
        try:
            ReqolResponses(
                responses=submission.responses, physical_health=submission.physical_health
            )
        except ValueError as error:
            raise ActionRejected(_first_error(error)) from None
    if submission.when == ReqolWhen.BASELINE and episode.baseline is not None:
        raise ActionRejected("the baseline measure of this episode is already recorded")
    if submission.when == ReqolWhen.END and episode.end is not None:
        raise ActionRejected("the end measure of this episode is already recorded")
    if submission.when == ReqolWhen.END and episode.baseline is None:
        raise ActionRejected("record (or skip) the baseline measure before the end measure")


def check_extension(state: ReferralState, extension: Extension) -> None:
    """A plan grows, never beyond the policy's maximum."""
    episode = _episode(state, "extend the plan")
    if extension.planned_sessions <= episode.planned_sessions:
        raise ActionRejected(
            f"an extension must plan more than the current {episode.planned_sessions} sessions; "
            "to end earlier, discharge"
        )
    if extension.planned_sessions > state.policy.max_sessions:
        raise ActionRejected(f"an episode has at most {state.policy.max_sessions} sessions")


def check_discharge(state: ReferralState, discharge: Discharge) -> None:
    """Discharge ends an episode; a waiting client is never discharged."""
    _episode(state, "discharge")


def check_closure(state: ReferralState) -> None:
    """A coordinator may close a referral at any stage but closed."""
    if state.stage == Stage.CLOSED:
        raise ActionRejected("the referral is already closed")


def check_withdrawal_confirmation(state: ReferralState) -> None:
    """Withdrawal is possible before the first session."""
    _require_stage(state, WITHDRAWABLE_STAGES, "confirm a withdrawal")


def _first_error(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first.get("msg", "invalid responses")).removeprefix("Value error, ")
    return str(error)


# --- Timers: when the next thing is due ---------------------------------------------------


def triage_reminder_at(state: ReferralState) -> datetime:
    """Coordinators are reminded at the triage deadline, then at every interval after it."""
    p = state.policy
    return (
        state.stage_since
        + p.triage_deadline
        + state.triage_reminders_sent * p.triage_reminder_every
    )


def checkin_at(state: ReferralState) -> datetime:
    """A waiting client hears from us every check-in interval ("waiting well")."""
    assert state.waiting_since is not None
    return (state.last_checkin_at or state.waiting_since) + state.policy.checkin_every


def needs_validation(state: ReferralState) -> bool:
    """Repeated silence puts a waiting client in the coordinators' validation queue —
    never off the list."""
    return state.unanswered_checkins >= state.policy.unanswered_checkins_before_validation


def withdrawal_confirmation_in_time(state: ReferralState, now: datetime) -> bool:
    """A client's CONFIRM withdraws them only soon after they asked to withdraw: a
    "confirmed" weeks later is about something else, and goes to a person."""
    asked = state.withdrawal_requested_at
    return asked is not None and now - asked <= state.policy.withdrawal_confirmation_within


def wait_breach_at(state: ReferralState) -> datetime | None:
    """Waiting past the standard (referral to first session) is a breach, flagged once."""
    if state.breach_flagged or state.first_session_at is not None:
        return None
    if state.stage not in WAIT_CLOCK_STAGES:
        return None
    return state.received_at + state.policy.waiting_standard


def session_reminder_at(state: ReferralState) -> datetime | None:
    """The client is reminded a set time before each booked session, once."""
    if state.episode is None or state.stage not in EPISODE_STAGES:
        return None
    due = [
        b.at - state.policy.session_reminder_before for b in state.episode.booked if not b.reminded
    ]
    return min(due) if due else None


def silence_nudge_at(state: ReferralState) -> datetime | None:
    """After long silence the practitioner is nudged (again each period) — never a discharge."""
    if state.episode is None or state.stage not in EPISODE_STAGES:
        return None
    episode = state.episode
    # A session booked ahead is contact arranged: silence counts from the latest of them.
    since = max(
        [episode.last_contact_at, *(b.at for b in episode.booked)]
        + ([episode.silence_nudged_at] if episode.silence_nudged_at else [])
    )
    return since + state.policy.silence_nudge_after


def repeated_non_attendance(episode: Episode, policy_threshold: int) -> bool:
    """The practitioner is prompted when did-not-attends reach the threshold in a row."""
    return episode.consecutive_dna == policy_threshold


def reentry_window_end_at(state: ReferralState) -> datetime | None:
    """An optional window after discharge; by default re-entry stays open for good."""
    if state.stage != Stage.DISCHARGED or state.policy.reentry_window is None:
        return None
    assert state.discharged_at is not None
    return state.discharged_at + state.policy.reentry_window


def due_timers(state: ReferralState) -> list[NextDeadline]:
    """Every timer running for the referral in its current stage, earliest first."""
    timers: list[NextDeadline] = []
    if state.stage in TRIAGE_STAGES:
        timers.append(NextDeadline(at=triage_reminder_at(state), kind=TimerKind.TRIAGE_REMINDER))
    if state.stage == Stage.WAITING:
        timers.append(NextDeadline(at=checkin_at(state), kind=TimerKind.CHECKIN))
    for at, kind in (
        (wait_breach_at(state), TimerKind.WAIT_BREACH),
        (session_reminder_at(state), TimerKind.SESSION_REMINDER),
        (silence_nudge_at(state), TimerKind.SILENCE_NUDGE),
        (reentry_window_end_at(state), TimerKind.REENTRY_WINDOW_END),
    ):
        if at is not None:
            timers.append(NextDeadline(at=at, kind=kind))
    return sorted(timers, key=lambda t: t.at)


def next_deadline(state: ReferralState) -> NextDeadline | None:
    """The earliest timer, shown to staff as the referral's next deadline."""
    timers = due_timers(state)
    return timers[0] if timers else None
