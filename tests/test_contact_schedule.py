"""When Harbour contacts someone without being asked (``models.contact_schedule``): the timers
of each stage and what firing them does, without Temporal (milliseconds)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import pathway
from models.contact_schedule import (
    TimerKind,
    answer_checkin,
    check_in,
    checkin_at,
    due_timers,
    next_deadline,
    remind_of_session,
    remind_triage,
    session_reminders_due,
    weeks_waited,
    withdrawal_confirmation_in_time,
)
from models.policy import ServicePolicy
from models.referral import BookedSession, ReferralState, Stage
from tests.factories import RULES_NOW, referral_state

NOW = RULES_NOW
DAY = timedelta(days=1)


def kinds(state: ReferralState) -> list[str]:
    return [t.kind for t in due_timers(state)]


def _waiting() -> ReferralState:
    return referral_state(Stage.WAITING)


# --- a waiting client ---------------------------------------------------------------------


def test_a_waiting_client_is_checked_in_every_interval_from_joining_the_list() -> None:
    state = _waiting()
    every = state.policy.checkin_every
    assert checkin_at(state) == NOW + every
    check_in(state, NOW + every, awaits_answer=True)
    assert checkin_at(state) == NOW + 2 * every
    # Joining the list again (back after discharge) starts the check-ins afresh.
    pathway.join_waiting_list(state, NOW + 10 * every)
    assert checkin_at(state) == NOW + 11 * every


def test_silence_puts_a_client_in_the_validation_queue_once_and_never_off_the_list() -> None:
    state = _waiting()
    limit = state.policy.unanswered_checkins_before_validation
    assert limit == 2
    queued = [check_in(state, NOW + n * DAY, awaits_answer=True) for n in range(1, 6)]
    # The first check-in has nothing before it to count; then each unanswered one counts.
    assert queued == [False, False, True, False, False]
    assert state.unanswered_checkins == 4
    assert state.in_validation_queue
    assert state.stage == Stage.WAITING
    assert state.checkins_sent == 5


def test_a_check_in_that_was_not_sent_is_not_silence() -> None:
    state = _waiting()
    for n in range(1, 6):
        assert not check_in(state, NOW + n * DAY, awaits_answer=False)
    assert state.unanswered_checkins == 0
    assert not state.in_validation_queue
    assert state.checkins_sent == 5


def test_answering_a_check_in_forgets_the_silence() -> None:
    state = _waiting()
    for n in range(1, 4):
        check_in(state, NOW + n * DAY, awaits_answer=True)
    assert state.in_validation_queue
    assert answer_checkin(state) is True
    assert (state.unanswered_checkins, state.in_validation_queue) == (0, False)
    assert not state.checkin_awaiting_answer
    assert answer_checkin(state) is False  # nothing left to clear
    # The next check-in starts counting from nothing.
    assert not check_in(state, NOW + 5 * DAY, awaits_answer=True)
    assert state.unanswered_checkins == 0


def test_a_confirmation_counts_only_soon_after_the_withdrawal_was_asked_for() -> None:
    state = _waiting()
    asked = NOW + timedelta(days=30)
    state.withdrawal_requested_at = asked
    limit = state.policy.withdrawal_confirmation_within
    assert withdrawal_confirmation_in_time(state, asked + limit)
    assert not withdrawal_confirmation_in_time(state, asked + limit + timedelta(seconds=1))
    state.withdrawal_requested_at = None
    assert not withdrawal_confirmation_in_time(state, asked)


def test_weeks_waited_counts_whole_weeks_from_the_referral() -> None:
    state = _waiting()
    assert weeks_waited(state, NOW + timedelta(days=13)) == 1
    assert weeks_waited(state, NOW + timedelta(days=14)) == 2


# --- the timers of each stage -------------------------------------------------------------


def test_triage_reminders_fall_due_at_the_deadline_then_at_each_interval() -> None:
    state = referral_state(Stage.TRIAGE)
    p = state.policy
    assert next_deadline(state) is not None
    assert next_deadline(state).at == NOW + p.triage_deadline  # type: ignore[union-attr]
    assert remind_triage(state) == 1
    assert remind_triage(state) == 2
    due = [t for t in due_timers(state) if t.kind == TimerKind.TRIAGE_REMINDER]
    assert due[0].at == NOW + p.triage_deadline + 2 * p.triage_reminder_every
    # A new triage round (the referrer answered a question) has its own reminders.
    pathway.request_information(state, "what else?", NOW + DAY)
    pathway.receive_information(state, NOW + 2 * DAY)
    assert state.triage_reminders_sent == 0
    assert next_deadline(state).at == NOW + 2 * DAY + p.triage_deadline  # type: ignore[union-attr]


def test_the_wait_breach_is_flagged_once_and_stops_at_the_first_session() -> None:
    state = _waiting()
    assert TimerKind.WAIT_BREACH in kinds(state)
    breach = next(t for t in due_timers(state) if t.kind == TimerKind.WAIT_BREACH)
    assert breach.at == NOW + state.policy.waiting_standard
    state.breach_flagged = True
    assert TimerKind.WAIT_BREACH not in kinds(state)
    seen = referral_state(Stage.IN_EPISODE, first_session_at=NOW + DAY)
    assert TimerKind.WAIT_BREACH not in kinds(seen)


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        (Stage.TRIAGE, [TimerKind.TRIAGE_REMINDER, TimerKind.WAIT_BREACH]),
        (Stage.INFO_REQUESTED, [TimerKind.TRIAGE_REMINDER, TimerKind.WAIT_BREACH]),
        (Stage.WAITING, [TimerKind.CHECKIN, TimerKind.WAIT_BREACH]),
        (Stage.ALLOCATED, [TimerKind.SILENCE_NUDGE, TimerKind.WAIT_BREACH]),
        (Stage.DISCHARGED, []),
        (Stage.CLOSED, []),
    ],
)
def test_each_stage_runs_its_own_timers_earliest_first(
    stage: Stage, expected: list[TimerKind]
) -> None:
    state = referral_state(stage)
    assert kinds(state) == expected
    timers = due_timers(state)
    assert [t.at for t in timers] == sorted(t.at for t in timers)
    assert next_deadline(state) == (timers[0] if timers else None)


def test_a_reentry_window_closes_a_discharged_referral_only_when_the_policy_has_one() -> None:
    assert kinds(referral_state(Stage.DISCHARGED)) == []
    window = ServicePolicy(reentry_window=timedelta(weeks=26))
    state = referral_state(Stage.DISCHARGED, policy=window)
    assert due_timers(state)[0].kind == TimerKind.REENTRY_WINDOW_END
    assert due_timers(state)[0].at == NOW + timedelta(weeks=26)


def test_each_booked_session_is_reminded_once_and_never_after_the_fact() -> None:
    state = referral_state(Stage.IN_EPISODE)
    assert state.episode is not None
    before = state.policy.session_reminder_before
    soon = BookedSession(session_id="e1s1", at=NOW + 2 * DAY, location="the café")
    later = BookedSession(session_id="e1s2", at=NOW + 9 * DAY, location="the beach")
    state.episode.booked = [soon, later]
    reminder = next(t for t in due_timers(state) if t.kind == TimerKind.SESSION_REMINDER)
    assert reminder.at == soon.at - before
    assert session_reminders_due(state, soon.at - before - timedelta(seconds=1)) == []
    assert session_reminders_due(state, soon.at - before) == [soon]
    assert remind_of_session(soon, soon.at - before) is True
    assert session_reminders_due(state, soon.at) == []  # once
    # The timer ran late, past the session: recorded as reminded, but nothing is sent.
    assert remind_of_session(later, later.at + timedelta(minutes=1)) is False
    assert later.reminded
    assert TimerKind.SESSION_REMINDER not in kinds(state)


def test_silence_in_an_episode_is_counted_from_the_latest_contact_or_booking() -> None:
    state = referral_state(Stage.IN_EPISODE)
    assert state.episode is not None
    after = state.policy.silence_nudge_after

    def nudge_at() -> object:
        return next(t.at for t in due_timers(state) if t.kind == TimerKind.SILENCE_NUDGE)

    assert nudge_at() == NOW + after
    state.episode.booked = [BookedSession(session_id="e1s1", at=NOW + 5 * DAY, location="x")]
    assert nudge_at() == NOW + 5 * DAY + after
    state.episode.silence_nudged_at = NOW + 40 * DAY
    assert nudge_at() == NOW + 40 * DAY + after
