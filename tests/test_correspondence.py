"""Who is written to, on which occasion, and how: every letter kind to a client with each
combination of contact preferences goes through ``models.correspondence``, and so does every
occasion of the pathway (no Temporal: milliseconds)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from pydantic import ValidationError

from models.actions import ClosureReason
from models.correspondence import (
    AFTER_STOP,
    CORRESPONDENCE,
    LETTER_RECIPIENTS,
    REPLIES,
    Alert,
    Occasion,
    addressees,
    alert_letter_kind,
    client_routes,
    first_reachable,
    notifications,
    writes_to_client,
)
from models.notifications import ContactChannel, LetterKind, Recipient, Route
from models.referral import ClientDetails, Stage
from tests.factories import REFERRER_EMAIL as REFERRER
from tests.factories import referral_state

PHONE = "+447700900461"
EMAIL = "robin.quill@example.org"
SMS, MAIL = ContactChannel.SMS, ContactChannel.EMAIL

CLIENT_KINDS = [k for k, to in LETTER_RECIPIENTS.items() if Recipient.CLIENT in to]


def _clients() -> list[ClientDetails]:
    """Every valid combination: contacts, agreed channels, preferred channel, may contact,
    safe to leave messages."""
    out = []
    contacts = [{"phone": PHONE}, {"email": EMAIL}, {"phone": PHONE, "email": EMAIL}]
    channel_sets: list[list[ContactChannel] | None] = [None, [SMS], [MAIL], [SMS, MAIL]]
    for contact, channels, preferred, may, safe in itertools.product(
        contacts, channel_sets, [None, SMS, MAIL], [True, False], [True, False]
    ):
        try:
            out.append(
                ClientDetails(
                    name="Robin Quill",
                    **contact,
                    channels=channels,
                    preferred_channel=preferred,
                    may_contact=may,
                    safe_to_leave_messages=safe,
                )
            )
        except ValidationError:
            continue  # e.g. SMS agreed without a phone: refused at intake, tested below
    return out


CLIENTS = _clients()


def test_every_combination_is_covered() -> None:
    assert len(CLIENTS) >= 40
    assert {c.may_contact for c in CLIENTS} == {True, False}


@pytest.mark.parametrize("kind", CLIENT_KINDS, ids=[k.value for k in CLIENT_KINDS])
@pytest.mark.parametrize("opted_out", [False, True], ids=["texts", "texted-stop"])
def test_every_client_letter_follows_the_clients_choices(kind: LetterKind, opted_out: bool) -> None:
    for client in CLIENTS:
        routes = client_routes(kind, client, sms_opted_out=opted_out)
        if not client.may_contact:
            assert routes == [], (kind, client)
            continue
        agreed = client.channels if client.channels is not None else [SMS, MAIL]
        for route in routes:
            # Only agreed channels, only registered contacts, never a text after STOP.
            assert route.channel in agreed
            assert route.address == client.address(route.channel)
            assert not (opted_out and route.channel is SMS)
        if routes and client.preferred_channel in [r.channel for r in routes]:
            assert routes[0].channel is client.preferred_channel
        usable = [c for c in agreed if client.address(c) and not (opted_out and c is SMS)]
        assert len(routes) == len(usable)


@pytest.mark.parametrize("kind", sorted(REPLIES), ids=[k.value for k in sorted(REPLIES)])
def test_a_reply_goes_back_on_the_channel_the_message_came_by(kind: LetterKind) -> None:
    for client in CLIENTS:
        for channel in (SMS, MAIL):
            routes = client_routes(kind, client, sms_opted_out=False, reply_channel=channel)
            address = client.address(channel)
            if address:
                # Even to a client who asked not to be written to: they wrote to us.
                assert routes == [Route(channel=channel, address=address)]
            stopped = client_routes(kind, client, sms_opted_out=True, reply_channel=channel)
            if kind not in AFTER_STOP and channel is SMS:
                # After a STOP by text, a holding or coded reply is not texted.
                assert all(r.channel is not SMS for r in stopped)
            elif address:
                assert stopped == [Route(channel=channel, address=address)]


def test_the_allocation_letter_never_reaches_a_client_who_asked_not_to_be_written_to() -> None:
    client = ClientDetails(name="A", phone=PHONE, email=EMAIL, may_contact=False)
    assert client_routes(LetterKind.ALLOCATION, client) == []


def test_a_phone_only_client_is_written_to_by_text() -> None:
    client = ClientDetails(name="A", phone="07700 900461")
    for kind in CLIENT_KINDS:
        assert client_routes(kind, client) == [Route(channel=SMS, address=PHONE)]


def test_staff_letters_have_no_client_route() -> None:
    client = ClientDetails(name="A", phone=PHONE, email=EMAIL)
    for kind in (LetterKind.COORDINATOR_ALERT, LetterKind.PRACTITIONER_ALERT):
        assert client_routes(kind, client) == []
    assert client_routes(LetterKind.INFORMATION_REQUEST, client) == []


def test_first_reachable_skips_failed_contacts() -> None:
    routes = [Route(channel=SMS, address=PHONE), Route(channel=MAIL, address=EMAIL)]
    assert first_reachable(routes, set()) == routes[0]
    assert first_reachable(routes, {PHONE}) == routes[1]
    assert first_reachable(routes, {PHONE, EMAIL}) is None


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"email": EMAIL, "channels": ["sms"]}, "sms channel needs a contact"),
        ({"phone": PHONE, "preferred_channel": "email"}, "email channel needs a contact"),
        (
            {"phone": PHONE, "email": EMAIL, "channels": ["sms"], "preferred_channel": "email"},
            "preferred channel must be one of the agreed",
        ),
    ],
)
def test_preferences_that_cannot_work_are_refused(fields: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        ClientDetails(name="A", **fields)


# --- who gets which letter on each occasion ------------------------------------------------


def _who(occasion: Occasion, **kw: Any) -> list[tuple[str, str]]:
    return [(e.kind.value, e.to.value) for e in addressees(occasion, **kw)]


def test_every_occasion_says_who_is_written_to() -> None:
    assert set(CORRESPONDENCE) == set(Occasion)
    for occasion, entries in CORRESPONDENCE.items():
        for entry in entries:
            # Alerts go to staff only; letters to the client or the referrer only.
            staff = {Recipient.PRACTITIONER, Recipient.COORDINATORS, Recipient.DUTY_LEAD}
            assert (entry.to in staff) == isinstance(entry, Alert), occasion


def test_every_letter_kind_has_someone_to_receive_it() -> None:
    assert set(LETTER_RECIPIENTS) == set(LetterKind)
    assert LETTER_RECIPIENTS[LetterKind.ALLOCATION] == (Recipient.CLIENT, Recipient.REFERRER)
    assert LETTER_RECIPIENTS[LetterKind.INFORMATION_REQUEST] == (Recipient.REFERRER,)


def test_the_referrer_hears_of_an_allocation_only_the_first_time() -> None:
    assert _who(Occasion.ALLOCATED) == [
        ("allocation", "client"),
        ("new_allocation", "practitioner"),
        ("allocation", "referrer"),
    ]
    assert _who(Occasion.ALLOCATED_RETURNING) == [
        ("reentry_confirmation", "client"),
        ("returning_client", "practitioner"),
    ]


@pytest.mark.parametrize("reason", list(ClosureReason))
def test_a_client_is_never_written_to_about_their_death_or_a_duplicate(
    reason: ClosureReason,
) -> None:
    told = ("closed", "client") in _who(Occasion.CLOSED, closure_reason=reason)
    assert told == (reason not in (ClosureReason.DECEASED, ClosureReason.DUPLICATE))
    assert ("closed", "referrer") in _who(Occasion.CLOSED, closure_reason=reason)


def test_details_go_only_to_the_letters_marked_for_them() -> None:
    state = referral_state(Stage.TRIAGE)
    details = {"decline_reason": "out_of_area", "signposting": "the crisis team"}
    to_referrer, to_client = notifications(Occasion.DECLINED, state, details)
    assert to_referrer.recipient is Recipient.REFERRER
    assert to_referrer.context["signposting"] == "the crisis team"
    assert to_referrer.to_address == REFERRER and to_referrer.routes == []
    assert to_client.recipient is Recipient.CLIENT
    assert "signposting" not in to_client.context and "decline_reason" not in to_client.context
    assert to_client.context["client_first_name"] == "Robin"
    assert [r.channel for r in to_client.routes] == [MAIL, SMS]


def test_a_client_letter_with_no_route_is_not_written() -> None:
    state = referral_state(Stage.WAITING, client={"may_contact": False})
    assert notifications(Occasion.CHECKIN, state) == []
    assert not writes_to_client(LetterKind.CHECKIN, state)
    # The referrer and staff are written to as ever.
    assert [n.recipient for n in notifications(Occasion.WITHDRAWN, state)] == [Recipient.REFERRER]
    # A reply to the client's own message goes back by the channel it came in on.
    request = notifications(Occasion.WITHDRAWAL_REQUESTED, state, reply_channel=SMS)
    assert [(n.recipient, [r.channel for r in n.routes]) for n in request] == [
        (Recipient.CLIENT, [SMS]),
        (Recipient.COORDINATORS, []),
    ]


def test_after_a_text_stop_a_check_in_goes_by_email_only() -> None:
    state = referral_state(Stage.WAITING, sms_opted_out=True)
    (checkin,) = notifications(Occasion.CHECKIN, state, {"checkin_number": 1})
    assert [r.channel for r in checkin.routes] == [MAIL]
    assert checkin.context["checkin_number"] == 1
    phone_only = referral_state(
        Stage.WAITING, sms_opted_out=True, client={"email": None, "phone": PHONE}
    )
    assert not writes_to_client(LetterKind.CHECKIN, phone_only)


def test_alerts_name_the_referral_and_the_alert_only() -> None:
    state = referral_state(Stage.IN_EPISODE)
    (nudge,) = notifications(Occasion.SILENCE, state, {"ignored": True})
    assert (nudge.kind, nudge.recipient, nudge.practitioner_id) == (
        LetterKind.PRACTITIONER_ALERT,
        Recipient.PRACTITIONER,
        "p-ana",
    )
    assert nudge.context == {"ref": state.ref, "alert_kind": "silence"}
    (breach,) = notifications(Occasion.WAIT_BREACH, state, {"weeks_waited": 5})
    assert breach.kind is LetterKind.COORDINATOR_ALERT
    assert breach.context == {"ref": state.ref, "alert_kind": "wait_breach", "weeks_waited": 5}
    assert alert_letter_kind(Recipient.DUTY_LEAD) is LetterKind.COORDINATOR_ALERT


def test_a_discreet_client_is_written_to_discreetly() -> None:
    state = referral_state(Stage.WAITING, client={"safe_to_leave_messages": False})
    letters = notifications(Occasion.REMOVED_FROM_LIST, state)
    assert [(n.recipient, n.discreet) for n in letters] == [
        (Recipient.REFERRER, False),
        (Recipient.CLIENT, True),
    ]
