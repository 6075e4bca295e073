"""Letters and alerts against a real SMTP server (aiosmtpd) and a real database.

What matters here: every letter renders and reaches the right person with the right subject;
nothing is sent twice; nothing clinical can reach a letter; clients always get the crisis
contacts; an SMS-only client is queued, not emailed; the dev mailbox writes real .eml files.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from jinja2 import meta
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError

from activities.notifications import (
    ALERT_PHRASES,
    ALLOWED_CONTEXT,
    CLIENT_LETTERS,
    DERIVED_CONTEXT,
    ENVIRONMENT,
    SUBJECT_OVERRIDES,
    SUBJECTS,
    TEMPLATES_DIR,
    NotificationActivities,
    client_link,
    message_id_for,
    render,
    template_names,
)
from infra.link_tokens import LinkSigner
from infra.notify_standin import NotifyStandinServer
from infra.smtp_sink import start_sink
from models.actions import DeclineReason
from models.client_links import LINK_PURPOSES
from models.notifications import (
    AlertKind,
    ContactChannel,
    LetterKind,
    Notification,
    Recipient,
    Route,
)
from models.settings import Settings
from models.tables import OutboxRow, PractitionerRow
from tests.fixtures.smtp import SmtpServer, free_port
from tests.fixtures.temporal import TEST_KEYRING, TEST_PSEUDONYM_KEY

PLANTED = "PLANTED-CLINICAL-7f3a"
CLIENT_EMAIL = "sam.client@example.org"
CLIENT_PHONE = "+447700900123"
REFERRER_EMAIL = "dr.patel@surgery.example.nhs.uk"
PRACTITIONER_EMAIL = "alex.practitioner@harbour.example"
PRACTITIONER_ID = "prac-001"
CRISIS_CONTACTS = ("NHS 111", "option 2", "116 123", "999")
FORBIDDEN_VARIABLES = {"reason", "summary", "diagnosis", "risk"}

# Who each kind goes to (as the workflow sends them), and who else may get it.
RECIPIENTS: dict[LetterKind, list[Recipient]] = {
    LetterKind.ACKNOWLEDGEMENT: [Recipient.REFERRER, Recipient.CLIENT],
    LetterKind.ACCEPTED: [Recipient.REFERRER, Recipient.CLIENT],
    LetterKind.DECLINED: [Recipient.REFERRER, Recipient.CLIENT],
    LetterKind.INFORMATION_REQUEST: [Recipient.REFERRER],
    LetterKind.WAITING_LIST: [Recipient.CLIENT, Recipient.REFERRER],
    LetterKind.CHECKIN: [Recipient.CLIENT],
    LetterKind.ALLOCATION: [Recipient.CLIENT, Recipient.PRACTITIONER, Recipient.REFERRER],
    LetterKind.SESSION_REMINDER: [Recipient.CLIENT],
    LetterKind.DISCHARGE: [Recipient.REFERRER, Recipient.CLIENT],
    LetterKind.REENTRY_CONFIRMATION: [Recipient.CLIENT, Recipient.PRACTITIONER],
    LetterKind.WITHDRAWAL_CONFIRMATION_REQUEST: [Recipient.CLIENT],
    LetterKind.WITHDRAWN: [Recipient.REFERRER, Recipient.CLIENT],
    LetterKind.CLOSED: [Recipient.REFERRER, Recipient.CLIENT],
    LetterKind.CRISIS_REPLY: [Recipient.CLIENT],
    LetterKind.COORDINATOR_ALERT: [Recipient.COORDINATORS],
    LetterKind.PRACTITIONER_ALERT: [Recipient.PRACTITIONER],
}
CASES = [(kind, to) for kind, tos in RECIPIENTS.items() for to in tos]


def new_ref() -> str:
    return "R" + uuid.uuid4().hex[:12].upper().replace("I", "1").replace("O", "0")


def workflow_context(kind: LetterKind, ref: str) -> dict[str, str | int | bool | None]:
    """A context as the referral workflow builds it: names, dates, positions and codes."""
    context: dict[str, str | int | bool | None] = {
        "ref": ref,
        "client_first_name": "Sam",
        "referrer_name": "Dr Patel",
        "practitioner_first_name": "Alex",
        "episode_number": 1,
    }
    extra: dict[LetterKind, dict[str, str | int | bool | None]] = {
        LetterKind.DECLINED: {
            "decline_reason": DeclineReason.OUT_OF_AREA.value,
            "signposting": "Coastal Mind: 01234 000111",
        },
        LetterKind.INFORMATION_REQUEST: {"question_asked": True},
        LetterKind.WAITING_LIST: {
            "position": 4,
            "waiting_total": 37,
            "estimate_weeks_low": 6,
            "estimate_weeks_high": 10,
        },
        LetterKind.ACCEPTED: {"position": 4, "waiting_total": 37},
        LetterKind.CHECKIN: {"position": 2, "checkin_number": 3, "weeks_waited": 7},
        LetterKind.SESSION_REMINDER: {
            "session_at": "2026-03-03T14:30:00+00:00",
            "session_location": "the café by the beach",
        },
        LetterKind.REENTRY_CONFIRMATION: {"reentry_practitioner_available": False},
        LetterKind.COORDINATOR_ALERT: {"alert_kind": AlertKind.TRIAGE_OVERDUE.value},
        LetterKind.PRACTITIONER_ALERT: {"alert_kind": AlertKind.SILENCE.value},
    }
    context.update(extra.get(kind, {}))
    return context


def notification(
    kind: LetterKind,
    to: Recipient,
    ref: str | None = None,
    *,
    context: dict[str, str | int | bool | None] | None = None,
    email: bool = True,
) -> Notification:
    """A notification addressed the way the workflow addresses it."""
    ref = ref or new_ref()
    return Notification(
        key=f"{ref}:1:{kind.value}:{to.value}:{uuid.uuid4().hex[:8]}",
        ref=ref,
        kind=kind,
        recipient=to,
        to_address=(CLIENT_EMAIL if email else None)
        if to is Recipient.CLIENT
        else REFERRER_EMAIL
        if to is Recipient.REFERRER
        else None,
        to_phone=CLIENT_PHONE if to is Recipient.CLIENT else None,
        practitioner_id=PRACTITIONER_ID,
        context=context if context is not None else workflow_context(kind, ref),
    )


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML bodies of a multipart/alternative letter."""
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    # SMTP carries CRLF line endings; compare with what render() produced.
    return (
        text.get_content().replace("\r\n", "\n"),
        html.get_content().replace("\r\n", "\n"),
    )


async def with_practitioner(
    factory: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """Register the practitioner the letters name."""
    async with factory() as session, session.begin():
        session.add(
            PractitionerRow(
                id=PRACTITIONER_ID, name="Alex Smith", email=PRACTITIONER_EMAIL, capacity=12
            )
        )
    return factory


@pytest.fixture
async def db(
    sqlite_session_factory: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """A fresh, migrated SQLite read model with one registered practitioner."""
    return await with_practitioner(sqlite_session_factory)


@pytest.fixture
async def any_db(
    session_factory: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """The same on each backend (SQLite and PostgreSQL): for the outbox's idempotency."""
    return await with_practitioner(session_factory)


@pytest.fixture
def any_activities(
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    any_db: async_sessionmaker[AsyncSession],
) -> NotificationActivities:
    smtp_server.clear()
    return NotificationActivities(smtp_settings, any_db, TEST_PSEUDONYM_KEY, TEST_KEYRING)


@pytest.fixture
def activities(
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    db: async_sessionmaker[AsyncSession],
) -> NotificationActivities:
    smtp_server.clear()
    return NotificationActivities(smtp_settings, db, TEST_PSEUDONYM_KEY, TEST_KEYRING)


async def outbox(db: async_sessionmaker[AsyncSession], key: str) -> OutboxRow | None:
    async with db() as session:
        return await session.get(OutboxRow, key)


# --- rendering ---------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "to"), CASES, ids=[f"{k.value}-{t.value}" for k, t in CASES])
def test_every_letter_renders_text_and_html(kind: LetterKind, to: Recipient) -> None:
    ref = new_ref()
    subject, text, html = render(kind, workflow_context(kind, ref), Settings(_env_file=None), to)

    assert ref in subject
    assert subject == SUBJECT_OVERRIDES.get((kind, to), SUBJECTS[kind]).format(
        service="Harbour Recovery Service", ref=ref
    ) or subject.startswith("Harbour (urgent)")
    assert ref in text and ref in html
    assert html.lstrip().startswith("<!DOCTYPE html>")
    for body in (text, html):
        assert "None" not in body  # an unset variable never shows up as "None"
        assert "{{" not in body and "{%" not in body
    # Letters are short.
    assert len(text.split()) < 260


def test_every_kind_has_both_templates_and_a_subject() -> None:
    for kind in LetterKind:
        for name in template_names(kind):
            assert (TEMPLATES_DIR / name).is_file(), name
        assert kind in SUBJECTS


def test_templates_reference_no_clinical_variables() -> None:
    """Scan every template source: only allow-listed variables, none clinical."""
    sources = sorted(p for p in TEMPLATES_DIR.iterdir() if p.suffix in {".txt", ".html"})
    assert len(sources) >= 2 * len(LetterKind)
    for path in sources:
        ast = ENVIRONMENT.parse(path.read_text(encoding="utf-8"))
        variables = meta.find_undeclared_variables(ast)
        assert not variables & FORBIDDEN_VARIABLES, path.name
        assert not {v for v in variables if re.search(r"reason$|summary|diagnos|risk|note", v)} - {
            "decline_reason"
        }, path.name
        assert variables <= ALLOWED_CONTEXT | DERIVED_CONTEXT, (path.name, variables)


@pytest.mark.parametrize(("kind", "to"), CASES, ids=[f"{k.value}-{t.value}" for k, t in CASES])
def test_planted_clinical_text_never_rendered(kind: LetterKind, to: Recipient) -> None:
    """Even if a caller slipped clinical fields into the context, no letter shows them."""
    context = workflow_context(kind, new_ref())
    for name in (
        "reason",
        "summary",
        "diagnosis",
        "risk",
        "clinical_note",
        "question",
        "answer",
        "closed_reason",
        "discharge_reason",
        "recipient",
    ):
        context[name] = f"{PLANTED} ({name})"
    subject, text, html = render(kind, context, Settings(_env_file=None), to)
    assert PLANTED not in subject + text + html


@pytest.mark.parametrize("kind", sorted(CLIENT_LETTERS), ids=lambda k: k.value)
def test_crisis_contacts_in_every_client_letter(kind: LetterKind) -> None:
    _, text, html = render(
        kind, workflow_context(kind, new_ref()), Settings(_env_file=None), Recipient.CLIENT
    )
    for contact in CRISIS_CONTACTS:
        assert contact in text, (kind, contact)
        assert contact in html, (kind, contact)


def test_waiting_well_letters_say_how_to_stay_and_how_to_withdraw() -> None:
    settings = Settings(_env_file=None)
    _, waiting, _ = render(
        LetterKind.WAITING_LIST, workflow_context(LetterKind.WAITING_LIST, "R1"), settings
    )
    assert "STOP" in waiting and settings.service_phone in waiting
    assert "between 6 and 10 weeks" in waiting
    _, checkin, _ = render(LetterKind.CHECKIN, workflow_context(LetterKind.CHECKIN, "R1"), settings)
    assert "reply YES" in checkin and "STOP" in checkin
    assert "not be taken off the list just because you do not reply" in checkin
    assert "7 weeks" in checkin


def test_no_estimate_is_said_honestly() -> None:
    context = workflow_context(LetterKind.WAITING_LIST, "R1")
    context.update(estimate_weeks_low=None, estimate_weeks_high=None)
    _, text, _ = render(LetterKind.WAITING_LIST, context, Settings(_env_file=None))
    assert "cannot give you an honest estimate" in text
    assert "weeks" not in text.split("cannot give")[1].split(".")[0]


def test_discharge_says_plainly_how_to_come_back() -> None:
    settings = Settings(_env_file=None)
    for to in (Recipient.CLIENT, Recipient.REFERRER):
        _, text, html = render(
            LetterKind.DISCHARGE, workflow_context(LetterKind.DISCHARGE, "R1"), settings, to
        )
        assert "RETURN" in text and settings.service_phone in text
        assert "new referral" in text
        assert "RETURN" in html


def test_withdrawal_request_asks_for_confirm_and_changes_nothing_otherwise() -> None:
    kind = LetterKind.WITHDRAWAL_CONFIRMATION_REQUEST
    _, text, _ = render(kind, workflow_context(kind, "R1"), Settings(_env_file=None))
    assert "reply CONFIRM" in text
    assert "nothing will change" in text


def test_information_request_never_contains_the_question() -> None:
    kind = LetterKind.INFORMATION_REQUEST
    context = workflow_context(kind, "R9TEST")
    context["question"] = PLANTED
    _, text, html = render(kind, context, Settings(_env_file=None))
    assert PLANTED not in text + html
    assert "R9TEST" in text and "more information" in text


def test_signposting_goes_to_the_referrer_only() -> None:
    context = workflow_context(LetterKind.DECLINED, "R1")
    settings = Settings(_env_file=None)
    _, to_referrer, _ = render(LetterKind.DECLINED, context, settings, Recipient.REFERRER)
    _, to_client, _ = render(LetterKind.DECLINED, context, settings, Recipient.CLIENT)
    assert "Coastal Mind" in to_referrer
    assert "Coastal Mind" not in to_client
    assert "outside the area our service covers" in to_referrer
    assert "outside the area our service covers" in to_client


@pytest.mark.parametrize("reason", list(DeclineReason), ids=lambda r: r.value)
def test_every_decline_reason_has_a_human_phrase(reason: DeclineReason) -> None:
    context = workflow_context(LetterKind.DECLINED, "R1") | {"decline_reason": reason.value}
    _, text, _ = render(LetterKind.DECLINED, context, Settings(_env_file=None), Recipient.REFERRER)
    assert reason.value not in text
    assert "because " in text


@pytest.mark.parametrize("alert", list(AlertKind), ids=lambda a: a.value)
def test_alerts_name_the_referral_and_nothing_about_the_person(alert: AlertKind) -> None:
    assert alert in ALERT_PHRASES
    ref = new_ref()
    context = workflow_context(LetterKind.COORDINATOR_ALERT, ref) | {"alert_kind": alert.value}
    subject, text, html = render(LetterKind.COORDINATOR_ALERT, context, Settings(_env_file=None))
    assert text == f"Referral {ref} needs attention: {ALERT_PHRASES[alert]}. Open it in Harbour.\n"
    for name in ("Sam", "Patel", "Alex"):
        assert name not in subject + text + html


def test_session_time_is_readable_in_uk_time() -> None:
    context = workflow_context(LetterKind.SESSION_REMINDER, "R1")
    context["session_at"] = "2026-07-03T13:30:00+00:00"  # 2:30pm BST
    _, text, _ = render(LetterKind.SESSION_REMINDER, context, Settings(_env_file=None))
    assert "Friday 3 July 2026 at 2:30pm" in text
    assert "the café by the beach" in text


# --- sending over real SMTP ----------------------------------------------------------------


@pytest.mark.parametrize(("kind", "to"), CASES, ids=[f"{k.value}-{t.value}" for k, t in CASES])
async def test_every_letter_is_sent_to_the_right_recipient(
    activities: NotificationActivities,
    smtp_server: SmtpServer,
    smtp_settings: Settings,
    db: async_sessionmaker[AsyncSession],
    kind: LetterKind,
    to: Recipient,
) -> None:
    letter = notification(kind, to)
    expected_address = {
        Recipient.CLIENT: CLIENT_EMAIL,
        Recipient.REFERRER: REFERRER_EMAIL,
        Recipient.PRACTITIONER: PRACTITIONER_EMAIL,
        Recipient.COORDINATORS: smtp_settings.coordinators_email,
    }[to]
    subject, text, html = render(kind, letter.context, smtp_settings, to)

    [result] = await activities.send_notifications([letter])

    assert result.status == "sent"
    assert result.message_id == message_id_for(letter.key)
    [message] = await smtp_server.wait_for(1)
    assert smtp_server.recipients == [[expected_address]]
    assert message["To"] == expected_address
    assert message["Subject"] == subject
    assert message["Message-ID"] == message_id_for(letter.key)
    assert message["X-Harbour-Ref"] == letter.ref
    assert message["X-Harbour-Kind"] == kind.value
    received_text, received_html = parts(message)
    # A client's letter that asks something carries its secure link (signed when sent).
    link = re.search(r"http://127\.0\.0\.1:8000/c/[A-Za-z0-9_.-]+\b", received_text)
    carries = client_link(LinkSigner(TEST_PSEUDONYM_KEY), smtp_settings, letter) is not None
    assert (link is not None) == carries
    assert not carries or (to is Recipient.CLIENT and kind in LINK_PURPOSES)
    if link is not None:
        context = {**letter.context, "link": link.group(0)}
        subject, text, html = render(kind, context, smtp_settings, to)
    assert received_text.strip() == text.strip()
    assert received_html.strip() == html.strip()
    if to is Recipient.CLIENT:
        for contact in CRISIS_CONTACTS:
            assert contact in received_text

    row = await outbox(db, letter.key)
    assert row is not None
    assert (row.status, row.attempts, row.channel) == ("sent", 1, "email")
    assert row.sent_at is not None
    assert row.subject == subject
    # The read model keeps no client contact detail.
    assert row.recipient is None if to is Recipient.CLIENT else row.recipient == expected_address


async def test_html_escapes_markup_in_names(
    activities: NotificationActivities, smtp_server: SmtpServer
) -> None:
    letter = notification(LetterKind.SESSION_REMINDER, Recipient.CLIENT)
    letter.context.update(
        client_first_name="<script>alert('x')</script>",
        practitioner_first_name='Al<b onmouseover="x">ex',
        session_location="<img src=x onerror=alert(1)>",
    )
    await activities.send_notifications([letter])
    [message] = await smtp_server.wait_for(1)
    _, html = parts(message)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<b onmouseover" not in html and "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


async def test_a_second_call_with_the_same_key_sends_nothing(
    any_activities: NotificationActivities,
    smtp_server: SmtpServer,
    any_db: async_sessionmaker[AsyncSession],
) -> None:
    letter = notification(LetterKind.WAITING_LIST, Recipient.CLIENT)
    [first] = await any_activities.send_notifications([letter])
    await smtp_server.wait_for(1)

    # No wait needed for a stray second email: the SMTP server stores a message before it
    # answers 250, and send_notifications returns only after every answer, so whatever this
    # call sent is already in smtp_server.messages.
    [second] = await any_activities.send_notifications([letter])

    assert first.status == "sent"
    assert second.status == "already_sent"
    assert second.message_id == first.message_id
    assert len(smtp_server.messages) == 1
    row = await outbox(any_db, letter.key)
    assert row is not None and (row.status, row.attempts) == ("sent", 1)


async def test_the_same_letter_twice_in_one_batch_goes_once(
    any_activities: NotificationActivities,
    smtp_server: SmtpServer,
    any_db: async_sessionmaker[AsyncSession],
) -> None:
    letter = notification(LetterKind.CHECKIN, Recipient.CLIENT)

    results = await any_activities.send_notifications([letter, letter])  # stored once sent

    assert [r.status for r in results] == ["sent", "sent"]
    assert len(smtp_server.messages) == 1
    row = await outbox(any_db, letter.key)
    assert row is not None and (row.status, row.attempts) == ("sent", 1)


async def test_a_crash_after_sending_resends_with_the_same_message_id(
    any_activities: NotificationActivities,
    smtp_server: SmtpServer,
    any_db: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sent but not recorded (worker died): the retry resends, and mail can deduplicate."""
    letter = notification(LetterKind.CHECKIN, Recipient.CLIENT)
    real_mark_delivery = any_activities._mark_delivery

    async def crash(*marked: object) -> None:
        raise RuntimeError("worker lost")

    monkeypatch.setattr(any_activities, "_mark_delivery", crash)
    with pytest.raises(RuntimeError):
        await any_activities.send_notifications([letter])
    row = await outbox(any_db, letter.key)
    assert row is not None and row.status == "sending"

    monkeypatch.setattr(any_activities, "_mark_delivery", real_mark_delivery)
    [result] = await any_activities.send_notifications([letter])

    first, second = await smtp_server.wait_for(2)
    assert result.status == "sent"
    assert first["Message-ID"] == second["Message-ID"] == message_id_for(letter.key)
    row = await outbox(any_db, letter.key)
    assert row is not None and (row.status, row.attempts) == ("sent", 2)


async def test_sms_only_client_is_texted_once_through_notify_and_not_emailed(
    any_activities: NotificationActivities,
    smtp_server: SmtpServer,
    any_db: async_sessionmaker[AsyncSession],
    notify_standin: NotifyStandinServer,
) -> None:
    letter = notification(LetterKind.CHECKIN, Recipient.CLIENT, email=False)
    assert letter.to_address is None and letter.to_phone

    [result] = await any_activities.send_notifications([letter])
    [again] = await any_activities.send_notifications([letter])

    assert (result.status, again.status) == ("sent", "already_sent")
    assert smtp_server.messages == []
    [text] = [t for t in notify_standin.sent_texts(CLIENT_PHONE) if t["reference"] == letter.key]
    assert "checking in" in text["body"] and "CLINICAL" not in text["body"]
    row = await outbox(any_db, letter.key)
    assert row is not None
    assert (row.status, row.channel, row.attempts, row.recipient) == ("sent", "sms", 1, None)
    assert row.provider_id == text["id"] and row.recipient_key is not None


async def test_missing_address_fails_permanently_without_personal_data_and_sends_the_rest(
    any_activities: NotificationActivities,
    smtp_server: SmtpServer,
    any_db: async_sessionmaker[AsyncSession],
) -> None:
    ref = new_ref()
    good = notification(LetterKind.DISCHARGE, Recipient.CLIENT, ref)
    unknown_practitioner = notification(LetterKind.PRACTITIONER_ALERT, Recipient.PRACTITIONER, ref)
    unknown_practitioner.practitioner_id = "nobody"
    no_referrer_address = notification(LetterKind.DISCHARGE, Recipient.REFERRER, ref)
    no_referrer_address.to_address = None

    with pytest.raises(ApplicationError) as caught:
        await any_activities.send_notifications([unknown_practitioner, good, no_referrer_address])

    error = caught.value
    assert error.non_retryable
    assert unknown_practitioner.key in str(error) and no_referrer_address.key in str(error)
    for personal in (CLIENT_EMAIL, REFERRER_EMAIL, CLIENT_PHONE, "Sam", "Patel", "nobody"):
        assert personal not in str(error)
    [message] = await smtp_server.wait_for(1)
    assert message["To"] == CLIENT_EMAIL
    row = await outbox(any_db, unknown_practitioner.key)
    assert row is not None and row.status == "no_address"


async def test_smtp_outage_is_retryable_and_names_no_one(
    smtp_settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    settings = smtp_settings.model_copy(update={"smtp_port": free_port()})
    letter = notification(LetterKind.ACKNOWLEDGEMENT, Recipient.CLIENT)

    with pytest.raises(ApplicationError) as caught:
        await NotificationActivities(
            settings, db, TEST_PSEUDONYM_KEY, TEST_KEYRING
        ).send_notifications([letter])

    assert not caught.value.non_retryable
    assert caught.value.__cause__ is None
    assert CLIENT_EMAIL not in str(caught.value)
    row = await outbox(db, letter.key)
    assert row is not None and row.status == "sending"


async def test_an_smtp_outage_does_not_hold_back_the_texts_of_the_batch(
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    db: async_sessionmaker[AsyncSession],
    notify_standin: NotifyStandinServer,
) -> None:
    """A client who texted to leave is asked, by text, to confirm; the coordinators are told
    by email; the referral sends both in one batch (as it sends a waiting-list text with the
    referrer's email). Issue 10's fault injection: with the mail server down, the client's text
    waited for it. The text goes at once; the retry sends the email and not the text again."""
    ref = new_ref()
    question = Notification(
        key=f"{ref}:5:withdrawal_confirmation_request:client",
        ref=ref,
        kind=LetterKind.WITHDRAWAL_CONFIRMATION_REQUEST,
        recipient=Recipient.CLIENT,
        routes=[Route(channel=ContactChannel.SMS, address=CLIENT_PHONE)],
        context={"ref": ref, "client_first_name": "Sam"},
    )
    alert = notification(
        LetterKind.COORDINATOR_ALERT,
        Recipient.COORDINATORS,
        ref,
        context={"ref": ref, "alert_kind": AlertKind.WITHDRAWAL_REQUESTED.value},
    )
    mail_down = smtp_settings.model_copy(update={"smtp_port": free_port()})

    with pytest.raises(ApplicationError) as caught:
        await NotificationActivities(
            mail_down, db, TEST_PSEUDONYM_KEY, TEST_KEYRING
        ).send_notifications([question, alert])

    assert not caught.value.non_retryable
    texts = [t for t in notify_standin.sent_texts(CLIENT_PHONE) if t["reference"] == question.key]
    assert len(texts) == 1 and "CONFIRM" in texts[0]["body"]
    question_row, alert_row = await outbox(db, question.key), await outbox(db, alert.key)
    assert question_row is not None and question_row.status == "sent"
    assert alert_row is not None and alert_row.status == "sending"

    smtp_server.clear()
    results = await NotificationActivities(
        smtp_settings, db, TEST_PSEUDONYM_KEY, TEST_KEYRING
    ).send_notifications([question, alert])

    assert [r.status for r in results] == ["already_sent", "sent"]
    [message] = await smtp_server.wait_for(1)
    assert message["Message-ID"] == message_id_for(alert.key)
    again = [t for t in notify_standin.sent_texts(CLIENT_PHONE) if t["reference"] == question.key]
    assert [t["id"] for t in again] == [texts[0]["id"]]


class _Refusing:
    """An SMTP server that refuses some recipients: 550 (for good) or 451 (try later), and
    counts its connections."""

    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.connections = 0

    async def handle_EHLO(
        self, server: object, session: object, envelope: object, hostname: str, responses: list
    ) -> list:
        self.connections += 1
        session.host_name = hostname  # type: ignore[attr-defined]
        return responses

    async def handle_RCPT(
        self, server: object, session: object, envelope: Envelope, address: str, options: list
    ) -> str:
        if address.startswith("gone"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        self.accepted.extend(envelope.rcpt_tos)
        return "250 accepted"


@pytest.fixture
def refusing_smtp(smtp_settings: Settings) -> Iterator[tuple[_Refusing, Settings]]:
    handler = _Refusing()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, smtp_settings.model_copy(update={"smtp_port": port})
    finally:
        controller.stop()


def _to(letter: Notification, address: str) -> Notification:
    return letter.model_copy(update={"to_address": address})


async def test_a_refused_recipient_is_recorded_and_the_rest_of_the_batch_goes(
    refusing_smtp: tuple[_Refusing, Settings], db: async_sessionmaker[AsyncSession]
) -> None:
    """550 for one letter: the others still go, over one connection; the refused one is
    marked "rejected" and named (by key only) in a non-retryable failure."""
    server, settings = refusing_smtp
    ref = new_ref()
    first = _to(notification(LetterKind.DISCHARGE, Recipient.CLIENT, ref), "one@example.org")
    gone = _to(notification(LetterKind.DISCHARGE, Recipient.REFERRER, ref), "gone@example.org")
    last = notification(LetterKind.PRACTITIONER_ALERT, Recipient.PRACTITIONER, ref)
    activities = NotificationActivities(settings, db, TEST_PSEUDONYM_KEY, TEST_KEYRING)

    with pytest.raises(ApplicationError) as caught:
        await activities.send_notifications([first, gone, last])

    assert caught.value.non_retryable and gone.key in str(caught.value)
    assert "gone@example.org" not in str(caught.value)
    assert server.accepted == ["one@example.org", PRACTITIONER_EMAIL]
    assert server.connections == 1
    statuses = [(await outbox(db, n.key)).status for n in (first, gone, last)]  # type: ignore[union-attr]
    assert statuses == ["sent", "rejected", "sent"]


async def test_a_temporary_refusal_retries_only_what_did_not_go(
    refusing_smtp: tuple[_Refusing, Settings], db: async_sessionmaker[AsyncSession]
) -> None:
    """451 part-way through a batch: retryable; what went before is marked sent, so the
    retry (the recipient's server now willing) sends only the rest — nothing twice."""
    server, settings = refusing_smtp
    ref = new_ref()
    first = _to(notification(LetterKind.CHECKIN, Recipient.CLIENT, ref), "one@example.org")
    busy = _to(notification(LetterKind.CHECKIN, Recipient.REFERRER, ref), "busy@example.org")
    activities = NotificationActivities(settings, db, TEST_PSEUDONYM_KEY, TEST_KEYRING)

    with pytest.raises(ApplicationError) as caught:
        await activities.send_notifications([first, busy])
    assert not caught.value.non_retryable
    assert [(await outbox(db, n.key)).status for n in (first, busy)] == ["sent", "sending"]  # type: ignore[union-attr]

    willing = _to(busy, "ready@example.org")  # same key: the same letter, accepted this time
    results = await activities.send_notifications([first, willing])
    assert [r.status for r in results] == ["already_sent", "sent"]
    assert server.accepted == ["one@example.org", "ready@example.org"]
    row = await outbox(db, busy.key)
    assert row is not None and (row.status, row.attempts) == ("sent", 2)


async def test_logs_carry_references_only(activities: NotificationActivities) -> None:
    letters = [
        notification(LetterKind.ALLOCATION, Recipient.CLIENT),
        notification(LetterKind.ALLOCATION, Recipient.PRACTITIONER),
        notification(LetterKind.CHECKIN, Recipient.CLIENT, email=False),
    ]
    with structlog.testing.capture_logs() as captured:
        await activities.send_notifications(letters)
        await activities.send_notifications(letters)

    # The activity's own lines (the Notify stand-in runs in this process and logs too).
    logs = [entry for entry in captured if str(entry["event"]).startswith("notification.")]
    assert len(logs) == 6
    for entry in logs:
        assert set(entry) <= {
            "event",
            "log_level",
            "ref",
            "kind",
            "recipient_role",
            "key",
            "channel",
        }
        flat = " ".join(str(v) for v in entry.values())
        for personal in (CLIENT_EMAIL, PRACTITIONER_EMAIL, CLIENT_PHONE, "Sam", "Alex", "Patel"):
            assert personal not in flat


# --- the dev mailbox -----------------------------------------------------------------------


async def test_mailbox_sink_writes_readable_eml_files(
    smtp_settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    folder = smtp_settings.mailbox_dir
    port = free_port()
    controller = start_sink("127.0.0.1", port, folder)
    try:
        settings = smtp_settings.model_copy(update={"smtp_port": port})
        letter = notification(LetterKind.DISCHARGE, Recipient.CLIENT)
        await NotificationActivities(
            settings, db, TEST_PSEUDONYM_KEY, TEST_KEYRING
        ).send_notifications([letter])
    finally:
        controller.stop()

    [path] = list(folder.glob("*.eml"))
    assert re.fullmatch(r"\d{8}T\d{12}Z-[0-9a-f]{8}\.eml", path.name)
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == CLIENT_EMAIL
    assert message["X-Harbour-Kind"] == "discharge"
    text, html = parts(message)
    assert "RETURN" in text and "116 123" in text
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert not list(folder.glob(".*.part"))
