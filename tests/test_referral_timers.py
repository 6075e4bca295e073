"""Every timer path: triage reminders, check-ins -> validation queue, wait breach, session
reminder, silence and non-attendance nudges, crisis alerts, withdrawal, re-entry window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from infra.notify_standin import NotifyStandinServer
from models.actions import (
    Allocation,
    Discharge,
    DischargeReason,
    SessionRecord,
    TriageDecision,
    TriageOutcome,
)
from models.messages import Channel
from models.policy import ServicePolicy
from models.referral import SessionOutcome, Stage
from models.tables import InboundMessageRow
from readmodel.practitioners import add_practitioner
from readmodel.sealed_text import open_text
from services import inbound_messages
from tests.factories import CLIENT_EMAIL, CLIENT_PHONE, submission
from tests.fixtures.temporal import TEST_KEYRING, TEST_PSEUDONYM_KEY, Harness
from tests.helpers import body, eventually, mails_for

ACCEPT = TriageDecision(outcome=TriageOutcome.ACCEPT, coordinator="c-1")
COORDINATORS = "coordinators@harbour.example"


def alerts(smtp_server: Any, alert: str, to: str = COORDINATORS) -> list[Any]:
    """Alerts of one kind (by their X-Harbour-Alert code) sent to ``to``."""
    return [m for m in mails_for(smtp_server, to) if m["X-Harbour-Alert"] == alert]


def letters(smtp_server: Any, kind: str, to: str = CLIENT_EMAIL) -> list[Any]:
    return [m for m in mails_for(smtp_server, to) if m["X-Harbour-Kind"] == kind]


async def message(h: Harness, text: str, sender: str = CLIENT_PHONE) -> Any:
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


async def kinds(h: Harness, ref: str) -> list[str]:
    return [e.kind for e in (await h.state(ref)).timeline]


async def test_triage_reminders_repeat_until_triaged(harness: Harness, smtp_server: Any) -> None:
    h = harness
    async with h.worker():
        ref = await h.refer(submission())
        await h.advance(timedelta(days=4))
        assert "triage_reminder" not in await kinds(h, ref)
        await h.advance(timedelta(days=1, hours=1))
        assert (await kinds(h, ref)).count("triage_reminder") == 1
        await h.advance(timedelta(days=4))
        assert (await kinds(h, ref)).count("triage_reminder") == 3
        await h.act(ref, "triage", ACCEPT)
        await h.advance(timedelta(days=6))
        assert (await kinds(h, ref)).count("triage_reminder") == 3


async def test_silent_waiting_client_goes_to_validation_never_off_the_list(
    harness: Harness, smtp_server: Any
) -> None:
    h = harness
    smtp_server.clear()
    async with h.worker():
        ref = await h.refer(submission())
        await h.act(ref, "triage", ACCEPT)
        await h.advance(timedelta(weeks=8, days=1))
        view = await h.state(ref)
        assert not view.in_validation_queue  # one unanswered check-in so far
        await h.advance(timedelta(weeks=4))
        view = await h.state(ref)
        assert view.in_validation_queue and view.stage == Stage.WAITING
        await eventually(lambda: alerts(smtp_server, "validation_needed"))
        # A year of silence later: still waiting, still checked in with, alerted once.
        await h.advance(timedelta(weeks=40))
        view = await h.state(ref)
        assert view.stage == Stage.WAITING
        assert len(alerts(smtp_server, "validation_needed")) == 1
        await eventually(lambda: len(mails_for(smtp_server, CLIENT_EMAIL, "")) >= 13)
        # The client answers: the check-in counts as answered and the flag clears.
        await message(h, "yes")
        await eventually(lambda: _not_in_validation(h, ref))
        # A coordinator may also keep someone on the list after validating.
        await h.advance(timedelta(weeks=12, days=1))
        assert (await h.state(ref)).in_validation_queue
        view = await h.act(ref, "keep_on_waiting_list", "c-1")
        assert not view.in_validation_queue and view.stage == Stage.WAITING


async def _not_in_validation(h: Harness, ref: str) -> bool:
    return not (await h.state(ref)).in_validation_queue


async def test_wait_breach_is_flagged_once(harness: Harness, smtp_server: Any) -> None:
    h = harness
    smtp_server.clear()
    async with h.worker():
        ref = await h.refer(submission())
        await h.act(ref, "triage", ACCEPT)
        await h.advance(timedelta(weeks=3, days=6))
        assert not (await h.state(ref)).breach
        await h.advance(timedelta(days=2))
        assert (await h.state(ref)).breach
        await h.advance(timedelta(weeks=10))
        assert (await kinds(h, ref)).count("wait_breach") == 1
        await eventually(lambda: alerts(smtp_server, "wait_breach"))
        assert len(alerts(smtp_server, "wait_breach")) == 1


async def test_silence_and_non_attendance_nudge_never_discharge(
    harness: Harness, smtp_server: Any
) -> None:
    h = harness
    smtp_server.clear()
    await add_practitioner(h.session_factory, "p-n", "Nia Hart", "nia@harbour.example", capacity=2)
    async with h.worker():
        ref = await h.refer(submission())
        await h.act(ref, "triage", ACCEPT)
        await h.act(ref, "allocate", Allocation(practitioner_id="p-n", coordinator="c-1"))
        await h.act(ref, "record_session", SessionRecord(outcome=SessionOutcome.ATTENDED))
        await h.advance(timedelta(weeks=3, hours=1))
        assert (await kinds(h, ref)).count("silence_nudge") == 1
        await h.advance(timedelta(weeks=12))
        view = await h.state(ref)
        assert view.stage == Stage.IN_EPISODE  # nudged, never discharged
        assert (await kinds(h, ref)).count("silence_nudge") == 5
        dna = SessionRecord(outcome=SessionOutcome.DID_NOT_ATTEND)
        await h.act(ref, "record_session", dna)
        await h.act(ref, "record_session", dna)
        nia = "nia@harbour.example"
        await eventually(lambda: alerts(smtp_server, "repeated_non_attendance", to=nia))
        assert len(alerts(smtp_server, "silence", to=nia)) == 5
        await h.act(ref, "record_session", dna)
        assert (await h.state(ref)).stage == Stage.IN_EPISODE


async def test_crisis_message_alerts_at_once_and_replies_with_crisis_contacts(
    harness: Harness, smtp_server: Any, notify_standin: NotifyStandinServer
) -> None:
    h = harness
    smtp_server.clear()
    async with h.worker():
        ref = await h.refer(submission())
        await h.act(ref, "triage", ACCEPT)
        text = "I can't cope, I've been thinking about suicide"
        stored = await message(h, text)
        await eventually(lambda: alerts(smtp_server, "crisis_message"))
        # The crisis contacts go back the way the message came: by text.
        reference = f"message:{stored.id}:first:crisis_reply:client"
        reply = await eventually(
            lambda: [t for t in notify_standin.sent_texts() if t["reference"] == reference]
        )
        reply_text = reply[0]["body"]
        assert "116 123" in reply_text and "111" in reply_text and "999" in reply_text
        for m in smtp_server.messages:
            assert "suicide" not in body(m).lower()
        async with h.session_factory() as session:
            row = await session.get(InboundMessageRow, stored.id)
            assert row is not None and row.crisis and row.in_inbox
            assert open_text(TEST_KEYRING, row.body) == text  # kept, sealed
        assert (await h.state(ref)).stage == Stage.WAITING


async def test_withdrawal_needs_confirmation_through_the_registered_contact(
    harness: Harness, smtp_server: Any, notify_standin: NotifyStandinServer
) -> None:
    h = harness
    smtp_server.clear()
    async with h.worker():
        ref = await h.refer(submission())
        await h.act(ref, "triage", ACCEPT)
        # An unknown sender cannot act on anyone's referral: the message goes to the inbox.
        stranger = await message(h, "STOP", sender="+447700900999")
        assert stranger.ref is None
        await message(h, "STOP please")
        await eventually(lambda: _withdrawal_pending(h, ref))
        # The confirmation request goes to the registered contact the message came from (by
        # text, the way it came), never to the unknown sender.
        await eventually(
            lambda: [
                t
                for t in notify_standin.sent_texts(CLIENT_PHONE)
                if t["reference"].startswith(f"{ref}:")
                and ":withdrawal_confirmation_request:" in t["reference"]
            ]
        )
        assert not [
            t for t in notify_standin.sent_texts("+447700900999") if "withdrawal" in t["reference"]
        ]
        assert (await h.state(ref)).stage == Stage.WAITING
        await message(h, "CONFIRM")
        await eventually(lambda: _stage(h, ref, Stage.CLOSED))
        assert (await h.state(ref)).closed_reason == "withdrawn"
        # After closure, a message still is kept, and goes to the inbox.
        late = await message(h, "actually can I come back")
        assert late.ref is None
        async with h.session_factory() as session:
            rows = (await session.scalars(select(InboundMessageRow))).all()
        assert len(rows) == 4 and all(r.body for r in rows)


async def test_reentry_when_practitioner_is_full_waits_at_front(
    harness: Harness, smtp_server: Any
) -> None:
    h = harness
    await add_practitioner(h.session_factory, "p-solo", "Sol", "sol@harbour.example", capacity=1)
    async with h.worker():
        first = await h.refer(submission())
        await h.act(first, "triage", ACCEPT)
        await h.act(first, "allocate", Allocation(practitioner_id="p-solo", coordinator="c"))
        await h.act(first, "discharge", Discharge(reason=DischargeReason.NOT_ENGAGED, summary="x"))
        other = await h.refer(
            submission(client={"email": "other@example.org", "phone": "+447700900111"})
        )
        await h.act(other, "triage", ACCEPT)
        await h.act(other, "allocate", Allocation(practitioner_id="p-solo", coordinator="c"))
        await message(h, "RETURN", sender=CLIENT_EMAIL)
        await eventually(lambda: _stage(h, first, Stage.WAITING))
        view = await h.state(first)
        assert view.returning and view.episode_number == 1


async def test_reentry_window_closes_an_open_referral(harness: Harness) -> None:
    h = harness
    h.policy = ServicePolicy(reentry_window=timedelta(days=180))
    await add_practitioner(h.session_factory, "p-w", "W", "w@harbour.example", capacity=1)
    async with h.worker():
        ref = await h.refer(submission())
        await h.act(ref, "triage", ACCEPT)
        await h.act(ref, "allocate", Allocation(practitioner_id="p-w", coordinator="c"))
        await h.act(ref, "discharge", Discharge(reason=DischargeReason.COMPLETED, summary="x"))
        await h.advance(timedelta(days=179))
        assert (await h.state(ref)).stage == Stage.DISCHARGED
        await h.advance(timedelta(days=2))
        await eventually(lambda: _stage(h, ref, Stage.CLOSED))
        assert (await h.state(ref)).closed_reason == "reentry_window_ended"


async def _withdrawal_pending(h: Harness, ref: str) -> bool:
    return (await h.state(ref)).withdrawal_pending


async def _stage(h: Harness, ref: str, stage: Stage) -> bool:
    return (await h.state(ref)).stage == stage
