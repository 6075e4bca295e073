"""The staff actions by name (``services.referrals.ACTIONS``): the one place where a name the
API, the pages or the CLI use becomes an update of the referral's workflow."""

from __future__ import annotations

import pytest
from temporalio import workflow

from services.referrals import ACTIONS, ActionRejected, action_named
from workflows.referral import ReferralWorkflow


def test_every_update_of_the_workflow_is_an_action_under_its_own_name() -> None:
    # The SDK's own reading of the class (private, but what a worker registers).
    updates = workflow._Definition.must_from_class(ReferralWorkflow).updates
    assert set(ACTIONS) == set(updates)
    for name, update in ACTIONS.items():
        assert update is getattr(ReferralWorkflow, name)


def test_an_unknown_action_is_refused_with_the_actions_there_are() -> None:
    assert action_named("triage") is ReferralWorkflow.triage
    with pytest.raises(ActionRejected, match=r"no action 'triage_now'.*allocate, answer_info"):
        action_named("triage_now")
