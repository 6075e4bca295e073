"""What a client's message means to their referral, in each stage.

A message has already been read (``models.messages``: an intent, a possible crisis, a text
STOP). Here the intent meets the referral's stage:

==================  ===========================================  ==========================
intent              stage                                        meaning
==================  ===========================================  ==========================
return              discharged                                   come back (re-entry)
stop                triage, info requested, waiting, allocated   asks to withdraw
confirm             a withdrawal asked for, before the first     withdraws — only within
                    session                                      ``withdrawal_confirmation_
                                                                 within`` of the question
still waiting,      waiting                                      answers the check-in
confirm
anything else       any                                          for a person (the inbox)
==================  ===========================================  ==========================

A possible crisis is never acted on here (its follow-up workflow alerts and replies). A
message nobody acted on gets the holding reply, unless it stopped texts; a text STOP stops
texts at once and coordinators are told. Any message during an episode is contact (the
practitioner's silence nudge counts from it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from models.contact_schedule import withdrawal_confirmation_in_time
from models.correspondence import Occasion
from models.messages import Channel, Intent, MessageReading
from models.notifications import ContactChannel
from models.pathway import WITHDRAWABLE_STAGES
from models.referral import ReferralState, Stage


class Meaning(StrEnum):
    """What the referral does with a message."""

    RETURN = "return"
    WITHDRAWAL_REQUEST = "withdrawal_request"
    WITHDRAWAL_CONFIRMED = "withdrawal_confirmed"
    CHECKIN_ANSWER = "checkin_answer"
    FOR_A_PERSON = "for_a_person"


def meaning(
    state: ReferralState,
    intent: Intent,
    now: datetime,
    *,
    confirmations_expire: Callable[[], bool] = lambda: True,
) -> Meaning:
    """What ``intent`` means for the referral now (the table above).

    ``confirmations_expire`` says whether a late CONFIRM goes to a person: referrals begun
    before that rule had no limit, and the workflow keeps that for their histories. It is
    asked only when the answer matters."""
    stage = state.stage
    if intent == Intent.RETURN and stage == Stage.DISCHARGED:
        return Meaning.RETURN
    if intent == Intent.STOP and stage in WITHDRAWABLE_STAGES:
        return Meaning.WITHDRAWAL_REQUEST
    if (
        intent == Intent.CONFIRM
        and state.withdrawal_requested_at is not None
        and stage in WITHDRAWABLE_STAGES
    ):
        # A "confirmed" long after the question is about something else: a person asks again.
        if confirmations_expire() and not withdrawal_confirmation_in_time(state, now):
            return Meaning.FOR_A_PERSON
        return Meaning.WITHDRAWAL_CONFIRMED
    if intent in (Intent.STILL_WAITING, Intent.CONFIRM) and stage == Stage.WAITING:
        return Meaning.CHECKIN_ANSWER
    return Meaning.FOR_A_PERSON


def hear_from_client(state: ReferralState, now: datetime) -> None:
    """Any message during an episode is contact: the practitioner's silence clock restarts."""
    if state.episode is not None:
        state.episode.last_contact_at = now


def is_read_for_action(reading: MessageReading) -> bool:
    """Only a message without a hint of crisis is acted on by itself; a possible crisis
    always reaches a person first."""
    return not reading.crisis


def stops_texts(reading: MessageReading, channel: Channel) -> bool:
    """A bare STOP by text stops further texts at once (the convention of SMS)."""
    return reading.sms_opt_out and channel == Channel.SMS


def stop_texts(state: ReferralState) -> None:
    """No more texts to the client, apart from the crisis contacts and the one question
    whether they also want to leave the list (``models.correspondence``)."""
    state.sms_opted_out = True


def answers(reading: MessageReading, acted: bool) -> list[Occasion]:
    """What goes out because of the message, in order: the holding reply when nobody acted on
    it (not for a possible crisis, whose follow-up replies, nor for a STOP), and the
    coordinators' alert that texts stopped."""
    occasions: list[Occasion] = []
    if not acted and not reading.crisis and not reading.sms_opt_out:
        occasions.append(Occasion.MESSAGE_FOR_A_PERSON)
    if reading.sms_opt_out:
        occasions.append(Occasion.TEXTS_STOPPED)
    return occasions


def reply_channel(channel: Channel) -> ContactChannel | None:
    """The channel a reply goes back on (a demo message from the CLI has none)."""
    return {Channel.SMS: ContactChannel.SMS, Channel.EMAIL: ContactChannel.EMAIL}.get(channel)
