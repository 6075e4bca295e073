"""The conversation with clients, both ways, on real servers: texts out through GOV.UK Notify's
own client (to the local stand-in), replies read so that only the unambiguous acts, every crisis
reaching a person, holding replies, delivery receipts and the hourly limit per number."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError

from activities.notifications import NotificationActivities, notify_client
from infra.notify_standin import NotifyStandinServer
from models.actions import (
    Allocation,
    Discharge,
    DischargeReason,
    ReqolSubmission,
    ReqolWhen,
    SessionBooking,
    SessionRecord,
    TriageDecision,
    TriageOutcome,
)
from models.follow_up import FollowUpView
from models.messages import Channel
from models.notifications import ContactChannel, LetterKind, Notification, Recipient, Route
from models.referral import SessionOutcome, Stage
from models.settings import Settings
from models.tables import InboundMessageRow, OutboxRow, UnreachableContactRow
from readmodel.practitioners import add_practitioner
from services import inbound_messages, received_texts
from tests.factories import CLIENT_EMAIL, REFERRER_EMAIL, submission
from tests.fixtures.api import Api
from tests.fixtures.notify import texts_for
from tests.fixtures.smtp import SmtpServer
from tests.fixtures.temporal import TEST_KEYRING, TEST_PSEUDONYM_KEY, Harness
from tests.helpers import body, eventually, mails_for
from workflows.message_follow_up import MessageFollowUpWorkflow, follow_up_id

ACCEPT = TriageDecision(outcome=TriageOutcome.ACCEPT, coordinator="c-1")
COORDINATORS = "coordinators@harbour.example"
DUTY_LEAD = "duty-lead@harbour.example"
CRISIS_NUMBERS = ("111", "116 123", "999")


# Ofcom's drama mobiles (07700 900000-900999) are the only UK mobile numbers that are valid and
# reach nobody; the other tests' fixed ones sit below 900500 or at 900999.
_FRESH_PHONES = itertools.count(500)


def _phone() -> str:
    """A fresh UK mobile number (the stand-in keeps every test's texts in one session)."""
    return f"+447700900{next(_FRESH_PHONES):03d}"


def phone_only(phone: str, **client: Any) -> Any:
    return submission(client={"email": None, "phone": phone, **client})


async def text_in(h: Harness, text: str, sender: str) -> Any:
    """A text arriving from ``sender`` (what the webhook hands to the service)."""
    return await inbound_messages.receive(
        h.client,
        h.session_factory,
        TEST_PSEUDONYM_KEY,
        TEST_KEYRING,
        channel=Channel.SMS,
        sender=sender,
        body=text,
        policy=h.policy,
        task_queue=h.task_queue,
    )


def kinds_texted(standin: NotifyStandinServer, to: str) -> list[str]:
    """The letter kinds texted to a number, oldest first (the kind is in the reference)."""
    return [str(t["reference"]).split(":")[-2] for t in standin.sent_texts(to)]


async def _follow_up_done(h: Harness, message_id: str) -> bool:
    description = await h.client.get_workflow_handle(follow_up_id(message_id)).describe()
    return description.status is not None and description.status.name == "COMPLETED"


def coordinator_alerts(smtp: SmtpServer, alert: str, to: str = COORDINATORS) -> list[Any]:
    return [m for m in mails_for(smtp, to) if m["X-Harbour-Alert"] == alert]


async def test_a_phone_only_client_gets_every_letter_by_text_and_comes_back_by_texting_return(
    harness: Harness, smtp_server: SmtpServer, notify_standin: NotifyStandinServer
) -> None:
    h = harness
    phone = _phone()
    await add_practitioner(h.session_factory, "p-ana", "Ana Lowry", "ana@harbour.example", 3)
    async with h.worker():
        ref = await h.refer(phone_only(phone))
        await h.act(ref, "triage", ACCEPT)
        await h.advance(timedelta(weeks=4, days=1))  # a check-in while waiting
        await h.act(ref, "allocate", Allocation(practitioner_id="p-ana", coordinator="c-1"))
        at = await h.env.get_current_time() + timedelta(days=2)
        await h.act(ref, "book_session", SessionBooking(at=at, location="the café"))
        await h.advance(timedelta(days=1, hours=1))  # the reminder 24 h before
        await h.act(ref, "record_session", SessionRecord(outcome=SessionOutcome.ATTENDED))
        await h.act(
            ref,
            "discharge",
            Discharge(reason=DischargeReason.COMPLETED, summary="done"),
        )
        await eventually(lambda: "discharge" in kinds_texted(notify_standin, phone))
        await h.advance(timedelta(days=90))
        await text_in(h, "RETURN", phone)

        async def second_episode() -> bool:
            view = await h.state(ref)
            return view.episode_number == 2 and view.stage == Stage.ALLOCATED

        await eventually(second_episode)
        await eventually(lambda: "reentry_confirmation" in kinds_texted(notify_standin, phone))
    texted = kinds_texted(notify_standin, phone)
    for kind in (
        "acknowledgement",
        "waiting_list",
        "checkin",
        "allocation",
        "session_reminder",
        "discharge",
        "reentry_confirmation",
    ):
        assert kind in texted, (kind, texted)
    assert len(texted) == len(set(texted)), "a letter was texted twice"
    for text in notify_standin.sent_texts(phone):
        # Short (at most two fragments), the service named, nothing clinical.
        assert len(text["body"]) <= 306, text["body"]
        assert "Harbour" in text["body"]
        assert "CLINICAL" not in text["body"] and "psychosis" not in text["body"]
    discharge = next(t for t in notify_standin.sent_texts(phone) if ":discharge:" in t["reference"])
    assert "RETURN" in discharge["body"]
    # The client's letters went by text; nothing was emailed to them (they have no email).
    assert all("client" not in str(m["To"]) for m in mails_for(smtp_server, REFERRER_EMAIL))


async def test_the_allocation_letter_never_reaches_a_client_who_asked_not_to_be_written_to(
    harness: Harness, smtp_server: SmtpServer, notify_standin: NotifyStandinServer
) -> None:
    h = harness
    phone = _phone()
    await add_practitioner(h.session_factory, "p-ana", "Ana Lowry", "ana@harbour.example", 3)
    async with h.worker():
        ref = await h.refer(phone_only(phone, may_contact=False))
        await h.act(ref, "triage", ACCEPT)
        await h.act(ref, "allocate", Allocation(practitioner_id="p-ana", coordinator="c-1"))
        await eventually(lambda: mails_for(smtp_server, REFERRER_EMAIL, "allocated"))
    assert notify_standin.sent_texts(phone) == []


async def test_negated_and_ambiguous_replies_go_to_a_person_with_a_holding_reply(
    harness: Harness, smtp_server: SmtpServer, notify_standin: NotifyStandinServer
) -> None:
    h = harness
    phone = _phone()
    await add_practitioner(h.session_factory, "p-ana", "Ana Lowry", "ana@harbour.example", 3)
    async with h.worker():
        ref = await h.refer(phone_only(phone))
        await h.act(ref, "triage", ACCEPT)
        # "stop" in another sense: never a withdrawal.
        crying = await text_in(h, "I can't stop crying", phone)
        await eventually(lambda: "holding_reply" in kinds_texted(notify_standin, phone))
        view = await h.state(ref)
        assert view.stage == Stage.WAITING and not view.withdrawal_pending
        await h.act(ref, "allocate", Allocation(practitioner_id="p-ana", coordinator="c-1"))
        await h.act(ref, "record_session", SessionRecord(outcome=SessionOutcome.ATTENDED))
        await h.act(
            ref,
            "discharge",
            Discharge(reason=DischargeReason.COMPLETED, summary="x"),
        )
        not_yet = await text_in(h, "no I'm not ready to come back yet", phone)

        async def handled() -> bool:
            async with h.session_factory() as session:
                row = await session.get(InboundMessageRow, not_yet.id)
                return row is not None and row.status == "handled"

        await eventually(handled)

        # One holding reply an hour is enough: the second is recorded, not sent.
        async def second_suppressed() -> bool:
            async with h.session_factory() as session:
                rows = await session.scalars(
                    select(OutboxRow.status).where(
                        OutboxRow.ref == ref, OutboxRow.kind == "holding_reply"
                    )
                )
                return sorted(rows) == ["sent", "suppressed"]

        await eventually(second_suppressed)
        assert kinds_texted(notify_standin, phone).count("holding_reply") == 1
        assert (await h.state(ref)).stage == Stage.DISCHARGED  # no new episode
        async with h.session_factory() as session:
            for message in (crying, not_yet):
                row = await session.get(InboundMessageRow, message.id)
                assert row is not None and row.in_inbox and not row.crisis
    holding = [t for t in notify_standin.sent_texts(phone) if ":holding_reply:" in t["reference"]]
    assert all("116 123" in t["body"] for t in holding)


@pytest.mark.parametrize(
    "text",
    [
        "thinking of ending it all",
        "I don’t want to be here anymore",  # a phone's curly apostrophe
        "cant go on",
        "I've taken too many pills",
    ],
)
async def test_a_crisis_message_from_a_registered_client_alerts_and_is_never_acted_on(
    harness: Harness, smtp_server: SmtpServer, notify_standin: NotifyStandinServer, text: str
) -> None:
    h = harness
    smtp_server.clear()
    phone = _phone()
    async with h.worker():
        ref = await h.refer(phone_only(phone))
        await h.act(ref, "triage", ACCEPT)
        stored = await text_in(h, text, phone)
        await eventually(lambda: coordinator_alerts(smtp_server, "crisis_message"))
        await eventually(lambda: "crisis_reply" in kinds_texted(notify_standin, phone))
        reply = next(
            t for t in notify_standin.sent_texts(phone) if "crisis_reply" in t["reference"]
        )
        assert all(number in reply["body"] for number in CRISIS_NUMBERS)
        alert = coordinator_alerts(smtp_server, "crisis_message")[0]
        assert "(urgent)" in str(alert["Subject"]) and stored.id in body(alert)
        assert text.lower() not in body(alert).lower()  # the words stay in Harbour
        async with h.session_factory() as session:
            row = await session.get(InboundMessageRow, stored.id)
            assert row is not None and row.crisis and row.in_inbox
        view = await h.state(ref)
        assert view.stage == Stage.WAITING and not view.withdrawal_pending
        await h.client.get_workflow_handle(follow_up_id(stored.id)).terminate("test finished")


async def test_a_crisis_message_from_an_unknown_number_alerts_and_gets_the_crisis_contacts(
    harness: Harness, smtp_server: SmtpServer, notify_standin: NotifyStandinServer
) -> None:
    h = harness
    smtp_server.clear()
    stranger = _phone()
    async with h.worker():
        stored = await text_in(h, "i want to kill myself", stranger)
        assert stored.ref is None
        await eventually(lambda: coordinator_alerts(smtp_server, "crisis_message"))
        await eventually(lambda: notify_standin.sent_texts(stranger))
        [reply] = notify_standin.sent_texts(stranger)
        assert all(number in reply["body"] for number in CRISIS_NUMBERS)
        alert = coordinator_alerts(smtp_server, "crisis_message")[0]
        assert "unknown sender" in str(alert["Subject"])
        async with h.session_factory() as session:
            row = await session.get(InboundMessageRow, stored.id)
            assert row is not None and row.crisis and row.in_inbox and row.ref is None
        await h.client.get_workflow_handle(follow_up_id(stored.id)).terminate("test finished")


async def test_an_unknown_sender_gets_a_holding_reply_and_changes_nothing(
    harness: Harness, notify_standin: NotifyStandinServer
) -> None:
    h = harness
    stranger = _phone()
    async with h.worker():
        stored = await text_in(h, "RETURN", stranger)
        assert stored.ref is None
        await eventually(lambda: notify_standin.sent_texts(stranger))
        [reply] = notify_standin.sent_texts(stranger)
        assert "holding_reply" in reply["reference"] and "116 123" in reply["body"]
        again = await inbound_messages.receive(
            h.client,
            h.session_factory,
            TEST_PSEUDONYM_KEY,
            TEST_KEYRING,
            channel=Channel.SMS,
            sender=stranger,
            body="RETURN",
            gateway_id="same-id",
            task_queue=h.task_queue,
        )
        redelivered = await inbound_messages.receive(
            h.client,
            h.session_factory,
            TEST_PSEUDONYM_KEY,
            TEST_KEYRING,
            channel=Channel.SMS,
            sender=stranger,
            body="RETURN",
            gateway_id="same-id",
            task_queue=h.task_queue,
        )
        assert redelivered.duplicate and redelivered.id == again.id
        await eventually(lambda: _follow_up_done(h, again.id))
        # One holding reply an hour to one number, however many messages it sends.
        assert len(notify_standin.sent_texts(stranger)) == 1


async def test_an_unacknowledged_crisis_alert_is_sent_again_and_escalated_until_acknowledged(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    smtp_server.clear()
    async with h.worker():
        stored = await text_in(h, "I have the pills ready", _phone())
        await eventually(lambda: coordinator_alerts(smtp_server, "crisis_message"))
        assert coordinator_alerts(smtp_server, "crisis_unacknowledged", DUTY_LEAD) == []
        await h.advance(timedelta(minutes=16), step=timedelta(minutes=16))
        await eventually(
            lambda: coordinator_alerts(smtp_server, "crisis_unacknowledged", DUTY_LEAD)
        )
        assert coordinator_alerts(smtp_server, "crisis_unacknowledged")  # coordinators again
        await h.advance(timedelta(minutes=15), step=timedelta(minutes=15))
        await eventually(
            lambda: len(coordinator_alerts(smtp_server, "crisis_unacknowledged", DUTY_LEAD)) == 2
        )
        view = await inbound_messages.acknowledge_crisis(h.client, stored.id, "c-ruth")
        assert view.acknowledged_by == "c-ruth" and view.escalations == 2
        with pytest.raises(inbound_messages.NotACrisisAlert):
            await inbound_messages.acknowledge_crisis(h.client, stored.id, "c-ruth")
        await h.advance(timedelta(hours=2), step=timedelta(minutes=30))
        assert len(coordinator_alerts(smtp_server, "crisis_unacknowledged", DUTY_LEAD)) == 2
        handle = h.client.get_workflow_handle(follow_up_id(stored.id), result_type=FollowUpView)
        result = await handle.result()
        assert result.acknowledged_by == "c-ruth"
        async with h.session_factory() as session:
            row = await session.get(InboundMessageRow, stored.id)
            assert row is not None and row.crisis_acknowledged_by == "c-ruth"
    assert MessageFollowUpWorkflow  # the workflow under test


async def test_a_bare_stop_by_text_stops_texts_apart_from_the_one_question(
    harness: Harness, smtp_server: SmtpServer, notify_standin: NotifyStandinServer
) -> None:
    h = harness
    phone = _phone()
    async with h.worker():
        ref = await h.refer(phone_only(phone))
        await h.act(ref, "triage", ACCEPT)
        await text_in(h, "STOP", phone)
        await eventually(
            lambda: "withdrawal_confirmation_request" in kinds_texted(notify_standin, phone)
        )
        assert (await h.state(ref)).withdrawal_pending
        assert (await h.state(ref)).texts_stopped  # staff see it on the client's pages
        before = len(notify_standin.sent_texts(phone))
        await h.advance(timedelta(weeks=9))  # two check-ins due: none may be texted
        await h.settle()
        assert len(notify_standin.sent_texts(phone)) == before
        kinds = [e.kind for e in (await h.state(ref)).timeline]
        assert kinds.count("checkin") >= 2
        # Weeks later, CONFIRM no longer withdraws: it goes to a person (no text back).
        late = await text_in(h, "CONFIRM", phone)

        async def to_a_person() -> bool:
            async with h.session_factory() as session:
                row = await session.get(InboundMessageRow, late.id)
                return row is not None and row.status == "handled" and row.in_inbox

        await eventually(to_a_person)
        assert (await h.state(ref)).stage == Stage.WAITING
        # Asked again, and confirmed at once: withdrawn. The question is the one text allowed.
        await text_in(h, "STOP", phone)
        await eventually(lambda: len(notify_standin.sent_texts(phone)) == before + 1)
        await text_in(h, "CONFIRM", phone)
        await eventually(lambda: mails_for(smtp_server, REFERRER_EMAIL, "withdrawn"))
        assert (await h.state(ref)).stage == Stage.CLOSED
        await h.settle()
        assert len(notify_standin.sent_texts(phone)) == before + 1
        assert coordinator_alerts(smtp_server, "texts_stopped")


async def test_an_urgent_reqol_answer_sends_an_urgent_alert_without_wording_or_score(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    smtp_server.clear()
    await add_practitioner(h.session_factory, "p-ana", "Ana Lowry", "ana@harbour.example", 3)
    async with h.worker():
        ref = await h.refer(submission())
        await h.act(ref, "triage", ACCEPT)
        await h.act(ref, "allocate", Allocation(practitioner_id="p-ana", coordinator="c-1"))
        responses = dict.fromkeys(range(1, 11), 2) | {6: 4}
        await h.act(
            ref,
            "record_reqol",
            ReqolSubmission(when=ReqolWhen.BASELINE, responses=responses),
        )
        alert = (
            await eventually(lambda: coordinator_alerts(smtp_server, "measure_urgent", "ana@"))
        )[0]
        assert "(urgent)" in str(alert["Subject"])
        text = body(alert)
        assert "urgent" in text.lower() and "item" not in text.lower() and "20" not in text


async def test_client_emails_carry_a_reply_to_the_inbound_route(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    smtp_server.clear()
    async with h.worker():
        await h.refer(submission(client={"phone": None}))
        [letter] = await eventually(lambda: mails_for(smtp_server, CLIENT_EMAIL))
        assert letter["Reply-To"] == h.settings.reply_to
        [referrer] = await eventually(lambda: mails_for(smtp_server, REFERRER_EMAIL))
        assert referrer["Reply-To"] is None


# ------------------------------------------------------------------ the activity, directly


@pytest.fixture
def sender(
    smtp_settings: Settings, sqlite_session_factory: async_sessionmaker[AsyncSession]
) -> NotificationActivities:
    return NotificationActivities(
        smtp_settings, sqlite_session_factory, TEST_PSEUDONYM_KEY, TEST_KEYRING
    )


def text_letter(phone: str, kind: LetterKind = LetterKind.CHECKIN, **extra: Any) -> Notification:
    ref = f"R{uuid.uuid4().hex[:10].upper()}"
    return Notification(
        key=f"{ref}:{uuid.uuid4().hex[:6]}:{kind.value}:client",
        ref=ref,
        kind=kind,
        recipient=Recipient.CLIENT,
        routes=[Route(channel=ContactChannel.SMS, address=phone), *extra.pop("more", [])],
        context={"ref": ref, "client_first_name": "Robin"},
        **extra,
    )


async def test_a_retried_text_is_found_at_notify_and_never_sent_twice(
    sender: NotificationActivities,
    sqlite_session_factory: async_sessionmaker[AsyncSession],
    notify_standin: NotifyStandinServer,
) -> None:
    db = sqlite_session_factory
    phone = _phone()
    letter = text_letter(phone)
    [first] = await sender.send_notifications([letter])
    assert first.status == "sent"
    # As if the worker died after Notify answered but before the outbox was marked.
    async with db.begin() as session:
        await session.execute(
            update(OutboxRow).where(OutboxRow.key == letter.key).values(status="sending")
        )
    [again] = await sender.send_notifications([letter])
    assert again.status == "sent"
    [text] = notify_standin.sent_texts(phone)
    assert text["reference"] == letter.key
    async with db() as session:
        row = await session.get(OutboxRow, letter.key)
        assert row is not None and row.provider_id == text["id"] and row.recipient is None
        assert row.payload is not None and phone not in row.payload  # sealed


async def test_notify_429_backs_off_and_the_text_goes_once_later(
    sender: NotificationActivities, notify_standin: NotifyStandinServer
) -> None:
    phone = _phone()
    letter = text_letter(phone)
    notify_standin.fail_next(429)
    with pytest.raises(ApplicationError) as caught:
        await sender.send_notifications([letter])
    assert caught.value.type == "NotifyRateLimited" and not caught.value.non_retryable
    assert caught.value.next_retry_delay is not None
    assert phone not in str(caught.value)
    [result] = await sender.send_notifications([letter])
    assert result.status == "sent" and len(notify_standin.sent_texts(phone)) == 1


async def test_no_more_than_a_handful_of_texts_an_hour_to_one_number(
    sender: NotificationActivities,
    smtp_settings: Settings,
    notify_standin: NotifyStandinServer,
) -> None:
    phone = _phone()
    limit = smtp_settings.effective_policy().texts_per_number_per_hour
    for _ in range(limit):
        await sender.send_notifications([text_letter(phone)])
    with pytest.raises(ApplicationError) as caught:
        await sender.send_notifications([text_letter(phone)])
    assert caught.value.type == "SmsHourlyLimit" and not caught.value.non_retryable
    delay = caught.value.next_retry_delay
    assert delay is not None and timedelta(0) < delay <= timedelta(hours=1)
    assert len(notify_standin.sent_texts(phone)) == limit


async def test_a_discreet_client_is_texted_only_a_request_to_call(
    sender: NotificationActivities, notify_standin: NotifyStandinServer
) -> None:
    phone = _phone()
    await sender.send_notifications([text_letter(phone, LetterKind.WAITING_LIST, discreet=True)])
    [text] = notify_standin.sent_texts(phone)
    assert "Harbour" not in text["body"] and "waiting" not in text["body"].lower()
    assert "call us" in text["body"]


async def test_a_permanent_failure_marks_the_number_unreachable_and_falls_back_to_email(
    api: Api, smtp_server: SmtpServer, notify_standin: NotifyStandinServer
) -> None:
    h = api.h
    smtp_server.clear()
    phone = _phone()
    notify_standin.set_outcome(phone, "permanent-failure")
    gateway = await api.key("gateway")
    referrer = await api.key("referrer", organisation="Harbourside GP")
    async with h.worker():
        ref = await api.refer(
            referrer, client={"phone": phone, "email": CLIENT_EMAIL, "preferred_channel": "sms"}
        )
        [text] = await eventually(lambda: texts_for(notify_standin, ref, phone))
        assert mails_for(smtp_server, CLIENT_EMAIL) == []  # by text first, as preferred

        async def receipt() -> dict[str, Any]:
            [sent] = notify_standin.sent_texts(phone)
            return sent if sent["status"] == "permanent-failure" else {}

        failed = await eventually(receipt)
        callback = {
            "id": failed["id"],
            "reference": failed["reference"],
            "to": phone,
            "status": "permanent-failure",
            "created_at": failed["created_at"],
            "completed_at": failed["created_at"],
            "sent_at": failed["created_at"],
            "notification_type": "sms",
        }
        assert (await api.post("/v1/messages/delivery-receipts", json=callback)).status_code == 401
        first = await api.post("/v1/messages/delivery-receipts", gateway, json=callback)
        assert first.status_code == 202 and first.json()["outcome"] == "recorded"
        again = await api.post("/v1/messages/delivery-receipts", gateway, json=callback)
        assert again.json()["outcome"] == "duplicate"
        bad = await api.post(
            "/v1/messages/delivery-receipts", gateway, json={**callback, "status": "lost"}
        )
        assert bad.status_code == 422 and "status" in bad.text

        [fallback] = await eventually(lambda: mails_for(smtp_server, CLIENT_EMAIL))
        assert "received your referral" in str(fallback["Subject"])
        await eventually(lambda: coordinator_alerts(smtp_server, "client_unreachable"))
        async with h.session_factory() as session:
            row = await session.get(OutboxRow, text["reference"])
            assert row is not None and row.delivery_status == "permanent-failure"
            unreachable = (await session.scalars(select(UnreachableContactRow))).all()
            assert [u.ref for u in unreachable] == [ref]
        await api.h.settle()
        assert len(mails_for(smtp_server, CLIENT_EMAIL)) == 1  # the duplicate changed nothing
    notify_standin.clear_outcomes()


async def test_received_texts_are_polled_when_a_callback_never_came(
    harness: Harness, notify_standin: NotifyStandinServer
) -> None:
    h = harness
    phone = _phone()
    async with h.worker():
        ref = await h.refer(phone_only(phone))
        await h.act(ref, "triage", ACCEPT)
        notify_standin.receive_text(phone, "yes still waiting")  # no callback configured
        notify = notify_client(h.settings)
        assert notify is not None
        settings = h.settings.model_copy(update={"task_queue": h.task_queue})
        found = await received_texts.poll_once(
            h.client, h.session_factory, TEST_PSEUDONYM_KEY, TEST_KEYRING, notify, settings
        )
        assert found >= 1

        async def answered() -> bool:
            kinds = [e.kind for e in (await h.state(ref)).timeline]
            return "checkin_answered" in kinds

        await eventually(answered)

        async def handled() -> bool:
            async with h.session_factory() as session:
                rows = await session.scalars(
                    select(InboundMessageRow.status).where(InboundMessageRow.ref == ref)
                )
                return list(rows) == ["handled"]

        await eventually(handled)
        # Handled: polling again finds nothing to do.
        again = await received_texts.poll_once(
            h.client, h.session_factory, TEST_PSEUDONYM_KEY, TEST_KEYRING, notify, settings
        )
        assert again == 0
        async with h.session_factory() as session:
            rows = (
                await session.scalars(select(InboundMessageRow).where(InboundMessageRow.ref == ref))
            ).all()
            assert len(rows) == 1 and rows[0].channel == "sms"


def test_the_sms_templates_stay_within_two_fragments_for_long_names() -> None:
    from activities.notifications import render_sms

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    context = {
        "ref": "R0123456789ABCDEF",
        "client_first_name": "Bartholomew-Alexander",
        "practitioner_first_name": "Christabel-Anastasia",
        "position": 123,
        "waiting_total": 456,
        "estimate_weeks_low": 12,
        "estimate_weeks_high": 20,
        "session_at": datetime(2026, 12, 9, 14, 30, tzinfo=UTC).isoformat(),
        "reentry_practitioner_available": False,
        "removal_reason": "no_response",
    }
    for kind in LetterKind:
        if kind in (
            LetterKind.COORDINATOR_ALERT,
            LetterKind.PRACTITIONER_ALERT,
            LetterKind.INFORMATION_REQUEST,
            LetterKind.ACCEPTED,
        ):
            continue
        text = render_sms(kind, context, settings)
        assert len(text) <= 306, (kind, len(text), text)
        assert "\n" not in text and "{" not in text


async def test_acknowledging_or_resolving_a_crisis_message_stops_its_escalation(
    api: Api, smtp_server: SmtpServer
) -> None:
    h = api.h
    smtp_server.clear()
    gateway = await api.key("gateway")
    coordinator = await api.key("coordinator", label="c-ruth")

    def inbound(text: str) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "source_number": _phone().removeprefix("+"),
            "destination_number": "07700900000",
            "message": text,
            "date_received": datetime.now(UTC).isoformat(),
        }

    async with h.worker():
        crisis = (
            await api.post("/v1/messages/inbound", gateway, json=inbound("cant go on"))
        ).json()
        other = (await api.post("/v1/messages/inbound", gateway, json=inbound("hello"))).json()
        second = (await api.post("/v1/messages/inbound", gateway, json=inbound("kms"))).json()

        refused = await api.post(f"/v1/inbox/{other['id']}/acknowledgement", coordinator, json={})
        assert refused.status_code == 409 and "crisis" in refused.json()["detail"]
        missing = await api.post(f"/v1/inbox/{'0' * 32}/acknowledgement", coordinator, json={})
        assert missing.status_code == 404

        done = await api.post(f"/v1/inbox/{crisis['id']}/acknowledgement", coordinator, json={})
        assert done.status_code == 200 and done.json()["acknowledged_by"] == "c-ruth"
        again = await api.post(f"/v1/inbox/{crisis['id']}/acknowledgement", coordinator, json={})
        assert again.status_code == 409

        resolved = await api.post(
            f"/v1/inbox/{second['id']}/resolution", coordinator, json={"note": "rang back"}
        )
        assert resolved.status_code == 200
        handle = h.client.get_workflow_handle(follow_up_id(second["id"]), result_type=FollowUpView)
        assert (await handle.result()).acknowledged_by == "c-ruth"
        await h.advance(timedelta(hours=1), step=timedelta(minutes=20))
        assert coordinator_alerts(smtp_server, "crisis_unacknowledged", DUTY_LEAD) == []
