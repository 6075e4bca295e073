"""When Harbour contacts someone without being asked: every timer of the pathway, in one place.

A waiting client is contacted

- when they join the list: the waiting-list letter, with their position and an honest estimate
  (on acceptance, and again when they come back after discharge and must wait);
- every ``policy.checkin_every`` after joining (then after each check-in): a check-in letter,
  again with position and estimate — *only* when we may write to them
  (``models.correspondence.client_routes`` decides the channel, or none). A check-in that went
  and was not answered counts as silence; after ``unanswered_checkins_before_validation`` of them
  coordinators are asked to validate the referral: silence never takes anyone off the list;
- at once, in answer to a message of theirs (``models.message_meaning``): the holding reply,
  or the question that confirms a withdrawal; their "confirm" counts only within
  ``policy.withdrawal_confirmation_within`` of that question;
- when they are allocated, and a ``policy.session_reminder_before`` each booked session.

Staff are contacted by the same clock: coordinators when triage is overdue (again at intervals)
and once when the waiting standard is breached; the practitioner after long silence in an
episode. After discharge an optional re-entry window closes the referral, with no letter.

Who receives which letter is ``models.correspondence``; every duration is ``models.policy``.
Pure functions of the referral's state: the workflow sleeps until ``next_deadline`` and asks
these rules what firing it means.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from models.pathway import EPISODE_STAGES, TRIAGE_STAGES
from models.referral import BookedSession, Episode, NextDeadline, ReferralState, Stage

# The waiting standard runs from referral to the first session of the first episode.
WAIT_CLOCK_STAGES = frozenset({Stage.TRIAGE, Stage.INFO_REQUESTED, Stage.WAITING, Stage.ALLOCATED})


class TimerKind(StrEnum):
    TRIAGE_REMINDER = "triage_reminder"
    CHECKIN = "checkin"
    WAIT_BREACH = "wait_breach"
    SESSION_REMINDER = "session_reminder"
    SILENCE_NUDGE = "silence_nudge"
    REENTRY_WINDOW_END = "reentry_window_end"


# --- When each timer is due ---------------------------------------------------------------


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


# --- What firing a timer does -------------------------------------------------------------


def remind_triage(state: ReferralState) -> int:
    """Triage is overdue: one more reminder (the next is due an interval later). Returns its
    number."""
    state.triage_reminders_sent += 1
    return state.triage_reminders_sent


def check_in(state: ReferralState, now: datetime, *, awaits_answer: bool) -> bool:
    """A check-in falls due: the last one, if still unanswered, counts as silence; this one
    awaits an answer if it was sent (``awaits_answer``). Silence counts only after a check-in
    that went: a client we may not (or can no longer) write to is not silent. (Referrals begun
    before that rule counted every check-in; the workflow keeps that for their histories.)

    Returns True when the silence puts the referral in the validation queue (coordinators are
    alerted, once): nobody leaves the list for silence."""
    if state.checkin_awaiting_answer:
        state.unanswered_checkins += 1
    state.checkins_sent += 1
    state.last_checkin_at = now
    state.checkin_awaiting_answer = awaits_answer
    if needs_validation(state) and not state.in_validation_queue:
        state.in_validation_queue = True
        return True
    return False


def needs_validation(state: ReferralState) -> bool:
    """Repeated silence puts a waiting client in the coordinators' validation queue —
    never off the list."""
    return state.unanswered_checkins >= state.policy.unanswered_checkins_before_validation


def answer_checkin(state: ReferralState) -> bool:
    """The client says they still want to wait: silence is forgotten and a pending
    validation is no longer needed. Returns whether the referral left the validation queue."""
    state.checkin_awaiting_answer = False
    state.unanswered_checkins = 0
    cleared = state.in_validation_queue
    state.in_validation_queue = False
    return cleared


def weeks_waited(state: ReferralState, now: datetime) -> int:
    """Whole weeks since the referral was received (shown in check-ins and breach alerts)."""
    return (now - state.received_at).days // 7


def flag_breach(state: ReferralState) -> None:
    """The waiting standard is breached: flagged on the referral, coordinators told once."""
    state.breach_flagged = True


def session_reminders_due(state: ReferralState, now: datetime) -> list[BookedSession]:
    """The booked sessions whose reminder is due now and not yet given."""
    assert state.episode is not None
    before = state.policy.session_reminder_before
    return [b for b in state.episode.booked if not b.reminded and b.at - before <= now]


def remind_of_session(booked: BookedSession, now: datetime) -> bool:
    """The reminder of a booked session is given, once. Returns whether it is sent: one that
    falls due only after its session began (the timer ran late, e.g. no worker was running)
    is recorded but not sent — it would arrive after the fact."""
    booked.reminded = True
    return booked.at > now


def nudge_silence(episode: Episode, now: datetime) -> None:
    """Long silence: the practitioner is nudged, and again a period later. Never a discharge."""
    episode.silence_nudged_at = now


def withdrawal_confirmation_in_time(state: ReferralState, now: datetime) -> bool:
    """A client's CONFIRM withdraws them only soon after they asked to withdraw: a
    "confirmed" weeks later is about something else, and goes to a person."""
    asked = state.withdrawal_requested_at
    return asked is not None and now - asked <= state.policy.withdrawal_confirmation_within
