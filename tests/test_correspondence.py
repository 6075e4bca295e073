"""Who is written to, and how: every letter kind to a client with each combination of contact
preferences goes through ``models.correspondence`` (no Temporal: milliseconds)."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from models.correspondence import LETTER_RECIPIENTS, REPLIES, client_routes, first_reachable
from models.notifications import ContactChannel, LetterKind, Recipient, Route
from models.referral import ClientDetails

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
            if kind is LetterKind.HOLDING_REPLY and channel is SMS:
                # After a STOP by text, a holding reply is not texted.
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
