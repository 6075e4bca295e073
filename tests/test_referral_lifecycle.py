"""The whole lifecycle on the time-skipping server with real SMTP and a real SQLite read model:
months of waiting, two episodes, re-entry by message, letters in order, nothing clinical in
any email, no duplicate after forced activity retries, and nothing personal in history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from models.actions import (
    Allocation,
    Discharge,
    DischargeReason,
    InformationAnswer,
    ReqolSubmission,
    ReqolWhen,
    SessionBooking,
    SessionRecord,
    TriageDecision,
    TriageOutcome,
)
from models.messages import Channel
from models.referral import LiaisonKind, SessionOutcome, Stage
from models.tables import OutboxRow, OutcomeRow, ReferralRow, SessionRow, TimelineEventRow
from readmodel.practitioners import add_practitioner
from readmodel.sealed_text import open_optional
from services import inbound_messages
from tests.factories import (
    CLIENT_EMAIL,
    CLIENT_NAME,
    CLIENT_PHONE,
    CLINICAL_MARKER,
    REFERRER_EMAIL,
    reqol,
    submission,
)
from tests.fixtures.temporal import TEST_KEYRING, TEST_PSEUDONYM_KEY, Harness
from tests.helpers import body, eventually, mails_for, raw_history_text

SUMMARY = f"{CLINICAL_MARKER} discharge summary: mood improved"
QUESTION = f"{CLINICAL_MARKER} what medication?"


class RetryAfterSuccess(Interceptor):
    """Force Temporal to retry every notification activity once *after* it succeeded, as if
    the worker crashed just after sending: the outbox must stop a second email."""

    def __init__(self) -> None:
        self.forced = 0

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        outer = self

        class _Inbound(ActivityInboundInterceptor):
            async def execute_activity(self, input: ExecuteActivityInput) -> Any:
                result = await super().execute_activity(input)
                info = activity.info()
                if info.activity_type == "send_notifications" and info.attempt == 1:
                    outer.forced += 1
                    # A retry as Temporal makes it, but at once: the policy's 1 s backoff
                    # runs in real time while an update waits (about a second per letter).
                    raise ApplicationError(
                        "forced retry after a successful send",
                        next_retry_delay=timedelta(milliseconds=1),
                    )
                return result

        return _Inbound(next)


async def _session(h: Harness, ref: str, **kw: Any) -> None:
    await h.act(ref, "record_session", SessionRecord(outcome=SessionOutcome.ATTENDED, **kw))


async def test_two_episodes_with_reentry_by_message(harness: Harness, smtp_server: Any) -> None:
    h = harness
    smtp_server.clear()
    await add_practitioner(
        h.session_factory, "p-ana", "Ana Lowry", "ana.lowry@harbour.example", capacity=3
    )
    retries = RetryAfterSuccess()
    async with h.worker(interceptors=[retries]):
        start = await h.env.get_current_time()
        ref = await h.refer(submission())
        await eventually(lambda: mails_for(smtp_server, REFERRER_EMAIL, "acknowledg"))
        assert (await h.state(ref)).stage == Stage.TRIAGE

        # Triage: a question to the referrer, their answer, then acceptance.
        info = TriageDecision(
            outcome=TriageOutcome.REQUEST_INFORMATION, coordinator="c-1", question=QUESTION
        )
        assert (await h.act(ref, "triage", info)).stage == Stage.INFO_REQUESTED
        answer = InformationAnswer(answer=f"{CLINICAL_MARKER} answer")
        await h.act(ref, "answer_information", answer)
        view = await h.act(
            ref, "triage", TriageDecision(outcome=TriageOutcome.ACCEPT, coordinator="c-1")
        )
        assert view.stage == Stage.WAITING

        # Months of waiting: check-ins every 4 weeks, the 4-week standard breached once.
        await h.advance(timedelta(weeks=9))
        view = await h.state(ref)
        assert view.breach is True
        kinds = [e.kind for e in view.timeline]
        assert kinds.count("checkin") == 2
        assert kinds.count("wait_breach") == 1

        # Allocation, a booked session with its reminder, then the episode.
        view = await h.act(ref, "allocate", Allocation(practitioner_id="p-ana", coordinator="c-1"))
        assert (view.stage, view.episode_number, view.practitioner_id) == (
            Stage.ALLOCATED,
            1,
            "p-ana",
        )
        now = await h.env.get_current_time()
        booked = await h.act(
            ref, "book_session", SessionBooking(at=now + timedelta(days=3), location="café")
        )
        session_id = booked.booked_sessions[0].session_id
        await h.advance(timedelta(days=2, hours=6))
        await eventually(lambda: mails_for(smtp_server, CLIENT_EMAIL, "reminder"))
        await h.advance(timedelta(days=1))
        await h.act(
            ref,
            "record_reqol",
            ReqolSubmission(when=ReqolWhen.BASELINE, responses=reqol(16)),
        )
        await _session(h, ref, session_id=session_id, liaison=[LiaisonKind.HOUSING])
        for _ in range(5):
            await _session(h, ref, liaison=[LiaisonKind.BENEFITS])
        view = await h.state(ref)
        assert (view.stage, view.sessions_done, view.sessions_planned) == (Stage.IN_EPISODE, 6, 6)
        await h.act(ref, "record_reqol", ReqolSubmission(when=ReqolWhen.END, responses=reqol(30)))
        view = await h.act(
            ref, "discharge", Discharge(reason=DischargeReason.COMPLETED, summary=SUMMARY)
        )
        assert view.stage == Stage.DISCHARGED

        # Open re-entry: three months later the client texts from their registered phone.
        await h.advance(timedelta(days=90))
        await eventually(lambda: _stage_is(h, ref, Stage.DISCHARGED))
        stored = await inbound_messages.receive(
            h.client,
            h.session_factory,
            TEST_PSEUDONYM_KEY,
            TEST_KEYRING,
            channel=Channel.SMS,
            sender="07700 900461",
            body="Hi, I'd like to come back please",
            task_queue=h.task_queue,
        )
        assert stored.ref == ref
        await eventually(lambda: _episode_is(h, ref, 2))
        view = await h.state(ref)
        assert (view.stage, view.practitioner_id) == (Stage.ALLOCATED, "p-ana")
        await _session(h, ref)
        await h.act(
            ref, "record_reqol", ReqolSubmission(when=ReqolWhen.BASELINE, skipped_reason="unwell")
        )
        await h.act(
            ref,
            "discharge",
            Discharge(reason=DischargeReason.ENDED_EARLY_BY_AGREEMENT, summary=SUMMARY),
        )
        await eventually(lambda: _stage_is(h, ref, Stage.DISCHARGED))
        elapsed = await h.env.get_current_time() - start
        assert elapsed > timedelta(days=150)

        await eventually(lambda: _outbox_settled(h))

    # Letters: to the right people, in lifecycle order, never twice despite forced retries.
    assert retries.forced > 0
    subjects_client = [m["Subject"] for m in mails_for(smtp_server, CLIENT_EMAIL)]
    subjects_referrer = [m["Subject"] for m in mails_for(smtp_server, REFERRER_EMAIL)]
    message_ids = [m["Message-ID"] for m in smtp_server.messages]
    assert len(message_ids) == len(set(message_ids)), "an email was sent twice"
    client_kinds = [m["X-Harbour-Kind"] for m in mails_for(smtp_server, CLIENT_EMAIL)]
    assert client_kinds == [
        "acknowledgement",
        "waiting_list",
        "checkin",
        "checkin",
        "allocation",
        "session_reminder",
        "discharge",
        "reentry_confirmation",
        "discharge",
    ], subjects_client
    referrer_kinds = [m["X-Harbour-Kind"] for m in mails_for(smtp_server, REFERRER_EMAIL)]
    assert referrer_kinds == [
        "acknowledgement",
        "information_request",
        "accepted",
        "allocation",
        "discharge",
        "discharge",
    ], subjects_referrer
    practitioner = [
        m["X-Harbour-Kind"] for m in mails_for(smtp_server, "ana.lowry@harbour.example")
    ]
    assert practitioner == ["practitioner_alert", "practitioner_alert"]
    for message in smtp_server.messages:
        text = body(message)
        for secret in (CLINICAL_MARKER, "psychosis", "medication", "diagnosis", "risk history"):
            assert secret not in text, (message["Subject"], secret)
    discharge_letter = body(mails_for(smtp_server, CLIENT_EMAIL, "")[6])
    assert "RETURN" in discharge_letter

    # The read model: stages, timeline, sessions, anonymised outcomes.
    async with h.session_factory() as session:
        row = await session.get(ReferralRow, ref)
        assert row is not None and row.stage == "discharged" and row.episode_number == 2
        events = (
            await session.scalars(
                select(TimelineEventRow.kind)
                .where(TimelineEventRow.ref == ref)
                .order_by(TimelineEventRow.seq)
            )
        ).all()
        assert events[0] == "received" and "accepted" in events and events[-1] == "discharged"
        assert events.count("allocated") == 2
        sessions = await session.scalar(select(func.count()).select_from(SessionRow))
        assert sessions == 7
        outcomes = (await session.scalars(select(OutcomeRow).order_by(OutcomeRow.episode))).all()
        assert [o.change for o in outcomes] == ["reliable_improvement", None]
        assert outcomes[0].recovered is True
        assert open_optional(TEST_KEYRING, outcomes[1].baseline_skipped_reason) == "unwell"
        assert all(ref not in o.pseudonym for o in outcomes)
        assert "housing" in outcomes[0].liaison and "benefits" in outcomes[0].liaison
        statuses = (await session.scalars(select(OutboxRow.status))).all()
        assert set(statuses) == {"sent"}

    # Raw history (what Temporal stores) holds no name, contact or free text.
    raw = await raw_history_text(h.client, f"referral-{ref}")
    assert raw.count("ContinuedAsNew") >= 1 or "continued_execution_run_id" in raw
    for secret in (CLIENT_NAME, CLIENT_EMAIL, CLIENT_PHONE, "900461", CLINICAL_MARKER, "Robin"):
        assert secret not in raw, secret


async def _stage_is(h: Harness, ref: str, stage: Stage) -> bool:
    return (await h.state(ref)).stage == stage


async def _episode_is(h: Harness, ref: str, episode: int) -> bool:
    return (await h.state(ref)).episode_number == episode


async def _outbox_settled(h: Harness) -> bool:
    async with h.session_factory() as session:
        pending = await session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.status != "sent")
        )
    return pending == 0
