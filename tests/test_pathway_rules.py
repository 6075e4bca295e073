"""The pathway's staff actions as plain code (``models.pathway``): what each needs to be
allowed and what it changes, without Temporal (milliseconds). The workflow's own tests
(test_referral_rules.py, test_referral_lifecycle.py) show the same rules end to end."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import pathway
from models.actions import (
    Allocation,
    Discharge,
    DischargeReason,
    Extension,
    ReqolSubmission,
    ReqolWhen,
    SessionBooking,
    SessionRecord,
    TriageDecision,
    TriageOutcome,
)
from models.pathway import ActionNotAllowed
from models.referral import Episode, ReferralState, SessionOutcome, Stage
from tests.factories import RULES_NOW, referral_state, reqol

NOW = RULES_NOW
DAY = timedelta(days=1)
ATTENDED = SessionRecord(outcome=SessionOutcome.ATTENDED)
DNA = SessionRecord(outcome=SessionOutcome.DID_NOT_ATTEND)
CANCELLED = SessionRecord(outcome=SessionOutcome.CANCELLED)


def _episode(state: ReferralState) -> Episode:
    assert state.episode is not None
    return state.episode


# --- what each action needs ---------------------------------------------------------------

# Every stage an action may be taken in; every other stage refuses it by name.
ALLOWED: list[tuple[str, object, frozenset[Stage]]] = [
    (
        "triage",
        lambda s: pathway.check_triage(
            s, TriageDecision(outcome=TriageOutcome.ACCEPT, coordinator="c-1")
        ),
        frozenset({Stage.TRIAGE}),
    ),
    ("answer", pathway.check_information_answer, frozenset({Stage.INFO_REQUESTED})),
    (
        "allocate",
        lambda s: pathway.check_allocation(s, Allocation(practitioner_id="p", coordinator="c")),
        frozenset({Stage.WAITING}),
    ),
    ("hold", pathway.check_hold, frozenset({Stage.WAITING})),
    (
        "extend",
        lambda s: pathway.check_extension(s, Extension(planned_sessions=8)),
        pathway.EPISODE_STAGES,
    ),
    (
        "discharge",
        lambda s: pathway.check_discharge(
            s, Discharge(reason=DischargeReason.COMPLETED, summary="done")
        ),
        pathway.EPISODE_STAGES,
    ),
    ("withdraw", pathway.check_withdrawal_confirmation, pathway.WITHDRAWABLE_STAGES),
    ("close", pathway.check_closure, frozenset(Stage) - {Stage.CLOSED}),
]


@pytest.mark.parametrize(("name", "check", "allowed"), ALLOWED, ids=[a[0] for a in ALLOWED])
@pytest.mark.parametrize("stage", [s for s in Stage if s != Stage.RECEIVED])
def test_each_action_is_allowed_only_in_its_stages(
    name: str, check: object, allowed: frozenset[Stage], stage: Stage
) -> None:
    state = referral_state(stage)
    assert callable(check)
    if stage in allowed:
        check(state)
    else:
        with pytest.raises(ActionNotAllowed, match=f"while the referral is {stage.value}|closed"):
            check(state)


@pytest.mark.parametrize(
    ("decision", "problem"),
    [
        ({"outcome": "decline"}, "decline needs a decline_reason"),
        ({"outcome": "request_information"}, "needs the question"),
    ],
)
def test_a_triage_decision_needs_what_the_referrer_will_be_told(
    decision: dict[str, str], problem: str
) -> None:
    state = referral_state(Stage.TRIAGE)
    with pytest.raises(ActionNotAllowed, match=problem):
        pathway.check_triage(state, TriageDecision(coordinator="c-1", **decision))  # type: ignore[arg-type]


def test_removal_and_keeping_need_the_validation_queue() -> None:
    state = referral_state(Stage.WAITING)
    for check in (pathway.check_removal, pathway.check_keep_on_list):
        with pytest.raises(ActionNotAllowed, match="validation queue"):
            check(state)
    state.in_validation_queue = True
    pathway.check_removal(state)
    pathway.check_keep_on_list(state)


def test_a_hold_is_placed_once_and_released_once() -> None:
    state = referral_state(Stage.WAITING)
    with pytest.raises(ActionNotAllowed, match="not held"):
        pathway.check_hold_release(state)
    pathway.hold(state, "client_unavailable")
    with pytest.raises(ActionNotAllowed, match="already held"):
        pathway.check_hold(state)
    assert not pathway.accepts_offer(state, 1)
    pathway.release_hold(state)
    assert pathway.accepts_offer(state, 1)


def test_bookings_are_in_the_future_and_within_the_plan() -> None:
    state = referral_state(Stage.ALLOCATED)
    with pytest.raises(ActionNotAllowed, match="in the future"):
        pathway.check_booking(state, SessionBooking(at=NOW, location="café"), NOW)
    for n in range(state.policy.planned_sessions):
        booking = SessionBooking(at=NOW + (n + 1) * DAY, location="café")
        pathway.check_booking(state, booking, NOW)
        pathway.book_session(state, booking)
    with pytest.raises(ActionNotAllowed, match="fully booked"):
        pathway.check_booking(state, SessionBooking(at=NOW + 30 * DAY, location="café"), NOW)


def test_sessions_are_recorded_within_the_plan_and_never_ahead() -> None:
    state = referral_state(Stage.IN_EPISODE)
    future = SessionRecord(outcome=SessionOutcome.ATTENDED, at=NOW + pathway.CLOCK_SKEW + DAY)
    with pytest.raises(ActionNotAllowed, match="before it happens"):
        pathway.check_session_record(state, future, NOW)
    with pytest.raises(ActionNotAllowed, match="no booked session x9"):
        pathway.check_session_record(state, ATTENDED.model_copy(update={"session_id": "x9"}), NOW)
    for _ in range(state.policy.planned_sessions):
        pathway.record_session(state, ATTENDED, NOW)
    with pytest.raises(ActionNotAllowed, match="extend it first"):
        pathway.check_session_record(state, ATTENDED, NOW)
    pathway.check_session_record(state, DNA, NOW)  # a missed session is always recorded


def test_a_plan_grows_up_to_the_policy_maximum_only() -> None:
    state = referral_state(Stage.IN_EPISODE)
    planned, most = state.policy.planned_sessions, state.policy.max_sessions
    with pytest.raises(ActionNotAllowed, match="more than the current"):
        pathway.check_extension(state, Extension(planned_sessions=planned))
    with pytest.raises(ActionNotAllowed, match=f"at most {most}"):
        pathway.check_extension(state, Extension(planned_sessions=most + 1))
    assert pathway.extend(state, Extension(planned_sessions=most)) == planned
    assert _episode(state).planned_sessions == most


def test_reqol_needs_a_baseline_before_the_end_and_each_once() -> None:
    state = referral_state(Stage.IN_EPISODE)
    end = ReqolSubmission(when=ReqolWhen.END, responses=reqol(30))
    with pytest.raises(ActionNotAllowed, match="baseline measure before the end"):
        pathway.check_reqol(state, end)
    with pytest.raises(ActionNotAllowed, match="either the ten responses or a reason"):
        pathway.check_reqol(state, ReqolSubmission(when=ReqolWhen.BASELINE))
    skipped = ReqolSubmission(when=ReqolWhen.BASELINE, skipped_reason="declined")
    pathway.check_reqol(state, skipped)
    pathway.record_reqol(state, skipped, NOW)
    with pytest.raises(ActionNotAllowed, match="baseline measure of this episode is already"):
        pathway.check_reqol(state, skipped)
    pathway.check_reqol(state, end)


# --- what each action changes -------------------------------------------------------------


def test_acceptance_puts_the_client_on_the_list_afresh() -> None:
    state = referral_state(Stage.TRIAGE, held_reason="other", unanswered_checkins=3)
    pathway.accept(state, NOW + DAY)
    assert state.stage == Stage.WAITING
    assert state.stage_since == state.accepted_at == state.waiting_since == NOW + DAY
    assert (state.held_reason, state.unanswered_checkins, state.last_checkin_at) == (None, 0, None)


def test_a_decline_closes_and_a_question_waits_for_the_referrer() -> None:
    declined = referral_state(Stage.TRIAGE)
    pathway.decline(declined, NOW, "Quayside Wellbeing Hub")
    assert (declined.stage, declined.closed_reason) == (Stage.CLOSED, "declined")
    assert declined.signposting == "Quayside Wellbeing Hub"  # for the referrer's own view
    asked = referral_state(Stage.TRIAGE)
    pathway.request_information(asked, "which GP?", NOW + DAY)
    assert (asked.stage, asked.open_question, asked.stage_since) == (
        Stage.INFO_REQUESTED,
        "which GP?",
        NOW + DAY,
    )
    pathway.receive_information(asked, NOW + 2 * DAY)
    assert (asked.stage, asked.open_question) == (Stage.TRIAGE, None)


def test_staying_in_a_stage_keeps_its_clock() -> None:
    state = referral_state(Stage.WAITING)
    pathway.enter(state, Stage.WAITING, NOW + DAY)
    assert state.stage_since == NOW


def test_an_episode_starts_with_the_practitioner_and_the_policys_plan() -> None:
    state = referral_state(Stage.WAITING, in_validation_queue=True)
    assert pathway.next_episode(state) == 1
    episode = pathway.start_episode(state, "p-ana", NOW + DAY)
    assert (state.stage, state.episode_number, state.practitioner_id) == (
        Stage.ALLOCATED,
        1,
        "p-ana",
    )
    assert (episode.number, episode.planned_sessions, episode.returning) == (1, 6, False)
    assert episode.last_contact_at == NOW + DAY
    assert not state.in_validation_queue
    assert pathway.offer_is_for_begun_episode(state, 1)
    assert not pathway.accepts_offer(state, 2)  # no longer waiting


def test_a_client_who_comes_back_returns_to_their_own_practitioner() -> None:
    state = referral_state(Stage.DISCHARGED)
    assert pathway.reactivate(state) == "p-ana"
    episode = pathway.start_episode(state, "p-ana", NOW + DAY)
    assert episode.returning and episode.number == 2
    assert not state.returning
    assert state.practitioner_history == ["p-ana"]
    # Or, when that practitioner is full, the front of the list: the returning mark stays.
    full = referral_state(Stage.DISCHARGED)
    pathway.reactivate(full)
    pathway.join_waiting_list(full, NOW + DAY)
    assert (full.stage, full.returning) == (Stage.WAITING, True)


def test_session_ids_are_numbered_within_the_episode_and_kept_in_time_order() -> None:
    state = referral_state(Stage.ALLOCATED)
    late = pathway.book_session(state, SessionBooking(at=NOW + 9 * DAY, location="beach"))
    early = pathway.book_session(state, SessionBooking(at=NOW + 2 * DAY, location="café"))
    assert (late.session_id, early.session_id) == ("e1s1", "e1s2")
    assert _episode(state).booked == [early, late]


def test_the_first_attended_session_starts_the_episode_and_stops_the_wait_clock() -> None:
    state = referral_state(Stage.ALLOCATED)
    booked = pathway.book_session(state, SessionBooking(at=NOW + 2 * DAY, location="café"))
    record = SessionRecord(outcome=SessionOutcome.ATTENDED, session_id=booked.session_id)
    session, prompt = pathway.record_session(state, record, NOW + 2 * DAY)
    assert (session.session_id, session.at, session.location) == ("e1s1", booked.at, "café")
    assert not prompt
    assert state.stage == Stage.IN_EPISODE
    assert state.first_session_at == _episode(state).first_session_at == booked.at
    assert _episode(state).booked == []
    # A later episode's first session leaves the referral's first session as it was.
    pathway.discharge(state, NOW + 50 * DAY)
    pathway.reactivate(state)
    pathway.start_episode(state, "p-ana", NOW + 60 * DAY)
    pathway.record_session(state, ATTENDED, NOW + 61 * DAY)
    assert state.first_session_at == booked.at
    assert _episode(state).first_session_at == NOW + 61 * DAY


def test_the_practitioner_is_prompted_when_missed_sessions_in_a_row_reach_the_threshold() -> None:
    state = referral_state(Stage.IN_EPISODE)
    assert state.policy.dna_nudge_after == 2
    prompts = [
        pathway.record_session(state, record, NOW).prompt_non_attendance
        for record in (DNA, DNA, CANCELLED, DNA, ATTENDED, DNA, DNA)
    ]
    # A cancellation neither counts nor breaks the run; attending starts it again.
    assert prompts == [False, True, False, False, False, False, True]


def test_a_session_recorded_without_a_booking_gets_its_own_id() -> None:
    state = referral_state(Stage.IN_EPISODE)
    session, _ = pathway.record_session(state, DNA, NOW)
    assert (session.session_id, session.at, session.location) == ("e1w1", NOW, "not recorded")


def test_a_reqol_measure_is_scored_and_the_risk_item_is_urgent() -> None:
    state = referral_state(Stage.IN_EPISODE)
    calm = reqol(30)
    measure, urgent = pathway.record_reqol(
        state, ReqolSubmission(when=ReqolWhen.BASELINE, responses=calm), NOW
    )
    assert measure.total is not None and not urgent
    assert _episode(state).baseline == measure
    at_risk = {**calm, 6: 4}
    measure, urgent = pathway.record_reqol(
        state, ReqolSubmission(when=ReqolWhen.END, responses=at_risk), NOW
    )
    assert urgent and _episode(state).end == measure


def test_discharge_ends_the_episode_and_leaves_the_referral_open() -> None:
    state = referral_state(Stage.IN_EPISODE)
    episode = state.episode
    assert pathway.discharge(state, NOW + DAY) is episode
    assert (state.stage, state.episode, state.discharged_at) == (
        Stage.DISCHARGED,
        None,
        NOW + DAY,
    )


def test_closing_frees_the_episode_and_forgets_a_pending_withdrawal() -> None:
    state = referral_state(Stage.ALLOCATED)
    pathway.request_withdrawal(state, NOW)
    episode = state.episode
    assert pathway.close(state, "withdrawn", NOW + DAY) is episode
    assert (state.stage, state.closed_reason, state.withdrawal_requested_at) == (
        Stage.CLOSED,
        "withdrawn",
        None,
    )
    assert pathway.close(referral_state(Stage.WAITING), "moved_away", NOW) is None
