"""What a client's message means in each stage (``models.message_meaning``), without
Temporal: every intent in every stage, with and without a withdrawal asked for."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.correspondence import Occasion
from models.message_meaning import (
    Meaning,
    answers,
    hear_from_client,
    is_read_for_action,
    meaning,
    reply_channel,
    stops_texts,
)
from models.messages import Channel, Intent, MessageReading
from models.notifications import ContactChannel
from models.referral import Stage
from tests.factories import RULES_NOW, referral_state

NOW = RULES_NOW
STAGES = [s for s in Stage if s not in (Stage.RECEIVED, Stage.CLOSED)]
BEFORE_FIRST_SESSION = {Stage.TRIAGE, Stage.INFO_REQUESTED, Stage.WAITING, Stage.ALLOCATED}


def expected(intent: Intent, stage: Stage, withdrawal_asked: bool) -> Meaning:
    """The table of the module's docstring, written out again as the test's own oracle."""
    if intent is Intent.RETURN and stage is Stage.DISCHARGED:
        return Meaning.RETURN
    if intent is Intent.STOP and stage in BEFORE_FIRST_SESSION:
        return Meaning.WITHDRAWAL_REQUEST
    if intent is Intent.CONFIRM and withdrawal_asked and stage in BEFORE_FIRST_SESSION:
        return Meaning.WITHDRAWAL_CONFIRMED
    if intent in (Intent.STILL_WAITING, Intent.CONFIRM) and stage is Stage.WAITING:
        return Meaning.CHECKIN_ANSWER
    return Meaning.FOR_A_PERSON


@pytest.mark.parametrize("withdrawal_asked", [False, True], ids=["", "withdrawal-asked"])
@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("intent", list(Intent))
def test_every_intent_in_every_stage(intent: Intent, stage: Stage, withdrawal_asked: bool) -> None:
    state = referral_state(stage)
    if withdrawal_asked:
        state.withdrawal_requested_at = NOW
    assert meaning(state, intent, NOW + timedelta(days=1)) == expected(
        intent, stage, withdrawal_asked
    )


def test_a_late_confirmation_goes_to_a_person_unless_the_referral_predates_the_rule() -> None:
    state = referral_state(Stage.WAITING, withdrawal_requested_at=NOW)
    late = NOW + state.policy.withdrawal_confirmation_within + timedelta(seconds=1)
    assert meaning(state, Intent.CONFIRM, late) == Meaning.FOR_A_PERSON
    assert (
        meaning(state, Intent.CONFIRM, late, confirmations_expire=lambda: False)
        == Meaning.WITHDRAWAL_CONFIRMED
    )


def test_whether_confirmations_expire_is_asked_only_about_a_confirmation() -> None:
    # The workflow answers with workflow.patched, which records a marker: only where it counts.
    asked: list[bool] = []

    def expire() -> bool:
        asked.append(True)
        return True

    state = referral_state(Stage.WAITING)
    for intent in Intent:
        meaning(state, intent, NOW, confirmations_expire=expire)
    assert asked == []
    state.withdrawal_requested_at = NOW
    meaning(state, Intent.CONFIRM, NOW, confirmations_expire=expire)
    assert asked == [True]


def test_a_message_during_an_episode_is_contact() -> None:
    state = referral_state(Stage.IN_EPISODE)
    hear_from_client(state, NOW + timedelta(days=3))
    assert state.episode is not None
    assert state.episode.last_contact_at == NOW + timedelta(days=3)
    waiting = referral_state(Stage.WAITING)
    hear_from_client(waiting, NOW)  # nothing to touch
    assert waiting.episode is None


@pytest.mark.parametrize(
    ("reading", "acted", "occasions"),
    [
        (MessageReading(intent=Intent.OTHER), False, [Occasion.MESSAGE_FOR_A_PERSON]),
        (MessageReading(intent=Intent.STILL_WAITING), True, []),
        # A possible crisis: its follow-up workflow replies with the crisis contacts.
        (MessageReading(intent=Intent.OTHER, crisis=True), False, []),
        # A bare STOP: no holding reply, coordinators are told texts stopped.
        (MessageReading(intent=Intent.STOP, sms_opt_out=True), False, [Occasion.TEXTS_STOPPED]),
        (MessageReading(intent=Intent.STOP, sms_opt_out=True), True, [Occasion.TEXTS_STOPPED]),
    ],
)
def test_what_goes_back_for_a_message(
    reading: MessageReading, acted: bool, occasions: list[Occasion]
) -> None:
    assert answers(reading, acted) == occasions


def test_a_crisis_is_never_acted_on_and_only_a_text_stop_stops_texts() -> None:
    assert not is_read_for_action(MessageReading(intent=Intent.STOP, crisis=True))
    assert is_read_for_action(MessageReading(intent=Intent.STOP))
    stop = MessageReading(intent=Intent.STOP, sms_opt_out=True)
    assert stops_texts(stop, Channel.SMS)
    assert not stops_texts(stop, Channel.EMAIL)
    assert reply_channel(Channel.SMS) is ContactChannel.SMS
    assert reply_channel(Channel.EMAIL) is ContactChannel.EMAIL
    assert reply_channel(Channel.CLI) is None  # typed in by staff: nobody to reply to
