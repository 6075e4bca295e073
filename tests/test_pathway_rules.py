"""Rules of the pathway as plain code (``models/``), without Temporal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.contact_schedule import withdrawal_confirmation_in_time
from models.policy import ServicePolicy
from models.referral import ReferralState, Stage
from tests.factories import submission

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _waiting() -> ReferralState:
    return ReferralState(
        ref="R00000001",
        submission=submission(),
        policy=ServicePolicy(),
        stage=Stage.WAITING,
        received_at=NOW,
        stage_since=NOW,
    )


def test_a_confirmation_counts_only_soon_after_the_withdrawal_was_asked_for() -> None:
    state = _waiting()
    asked = NOW + timedelta(days=30)
    state.withdrawal_requested_at = asked
    limit = state.policy.withdrawal_confirmation_within
    assert withdrawal_confirmation_in_time(state, asked + limit)
    assert not withdrawal_confirmation_in_time(state, asked + limit + timedelta(seconds=1))
    state.withdrawal_requested_at = None
    assert not withdrawal_confirmation_in_time(state, asked)
