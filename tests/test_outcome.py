"""An episode's outcome as recorded at discharge (``models.outcome``), without Temporal."""

from __future__ import annotations

from datetime import timedelta

from models.actions import Discharge, DischargeReason
from models.outcome import episode_outcome
from models.policy import ServicePolicy
from models.records import OutcomeRecord
from models.referral import LiaisonKind, RecordedSession, ReqolRecord, SessionOutcome, Stage
from models.reqol import ReqolSkipReason
from tests.factories import RULES_NOW, referral_state

NOW = RULES_NOW
DONE = Discharge(reason=DischargeReason.COMPLETED, summary="goals met")


def _discharging(
    baseline: ReqolRecord | None, end: ReqolRecord | None, policy: ServicePolicy | None = None
) -> OutcomeRecord:
    """The outcome of an episode of three sessions (two attended) with these measures."""
    state = referral_state(Stage.IN_EPISODE)
    episode = state.episode
    assert episode is not None
    episode.baseline, episode.end = baseline, end
    sessions = [
        (SessionOutcome.ATTENDED, [LiaisonKind.HOUSING, LiaisonKind.BENEFITS]),
        (SessionOutcome.DID_NOT_ATTEND, []),
        (SessionOutcome.ATTENDED, [LiaisonKind.HOUSING]),
    ]
    for n, (outcome, liaison) in enumerate(sessions):
        episode.sessions.append(
            RecordedSession(
                session_id=f"e1s{n + 1}",
                at=NOW + timedelta(days=n),
                outcome=outcome,
                location="café",
                liaison=liaison,
            )
        )
    return episode_outcome("R1", episode, DONE, NOW, policy or state.policy)


def test_the_outcome_counts_attended_sessions_and_the_liaison_done_once_each() -> None:
    outcome = _discharging(None, None)
    assert (outcome.ref, outcome.episode, outcome.discharged_at) == ("R1", 1, NOW)
    assert outcome.discharge_reason is DischargeReason.COMPLETED
    assert outcome.sessions_attended == 2
    assert outcome.liaison == [LiaisonKind.BENEFITS, LiaisonKind.HOUSING]
    assert (outcome.change, outcome.recovered, outcome.reliably_recovered) == (None, None, None)


def test_change_and_recovery_are_claimed_only_with_both_scores() -> None:
    outcome = _discharging(
        ReqolRecord(total=18, recorded_at=NOW), ReqolRecord(total=30, recorded_at=NOW)
    )
    # 18 is clinical (cut-off 24), 30 is not; +12 is beyond the reliable change of 5.
    assert (outcome.baseline_total, outcome.end_total) == (18, 30)
    assert outcome.change == "reliable_improvement"
    assert outcome.recovered and outcome.reliably_recovered


def test_a_skipped_measure_keeps_its_reason_and_claims_no_change() -> None:
    outcome = _discharging(
        ReqolRecord(total=18, recorded_at=NOW),
        ReqolRecord(skipped_reason=ReqolSkipReason.DECLINED, recorded_at=NOW),
    )
    assert (outcome.baseline_total, outcome.end_total) == (18, None)
    assert outcome.end_skipped_reason == "declined"
    assert outcome.change is None and outcome.recovered is None


def test_an_outcome_keeps_the_skip_code_and_never_typed_text() -> None:
    # A note, and free text from a history recorded before the codes: neither reaches the
    # anonymised outcome, which keeps a code ("other" for the old free text).
    outcome = _discharging(
        ReqolRecord(
            skipped_reason="Robin Quill-Ashdown 07700 900461 was too anxious",
            recorded_at=NOW,
        ),
        ReqolRecord(
            skipped_reason=ReqolSkipReason.UNWELL,
            skip_note="Robin in hospital, call 07700 900461",
            recorded_at=NOW,
        ),
    )
    assert outcome.baseline_skipped_reason == ReqolSkipReason.OTHER
    assert outcome.end_skipped_reason == ReqolSkipReason.UNWELL
    stored = outcome.model_dump_json()
    assert "Robin" not in stored and "900461" not in stored


def test_the_policy_sets_the_cut_off_and_the_reliable_change() -> None:
    measures = ReqolRecord(total=18, recorded_at=NOW), ReqolRecord(total=22, recorded_at=NOW)
    assert _discharging(*measures).change == "no_reliable_change"
    assert not _discharging(*measures).recovered  # 22 is still clinical at the cut-off of 24
    strict = ServicePolicy(reqol_reliable_change=4, reqol_clinical_cutoff=20)
    outcome = _discharging(*measures, policy=strict)
    assert outcome.change == "reliable_improvement"
    assert outcome.recovered  # 22 is above a cut-off of 20
