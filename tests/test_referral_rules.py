"""Every action that does not fit the stage is rejected with a clear reason and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from models.actions import (
    Allocation,
    Closure,
    ClosureReason,
    Discharge,
    DischargeReason,
    Extension,
    InformationAnswer,
    ReqolSubmission,
    ReqolWhen,
    SessionBooking,
    SessionRecord,
    TriageDecision,
    TriageOutcome,
)
from models.referral import SessionOutcome, Stage
from readmodel.practitioners import add_practitioner
from services.referrals import ActionRejected, NotFound
from tests.factories import CLINICAL_MARKER, reqol, submission
from tests.fixtures.temporal import Harness

ACCEPT = TriageDecision(outcome=TriageOutcome.ACCEPT, coordinator="c-1")
ATTENDED = SessionRecord(outcome=SessionOutcome.ATTENDED)
DISCHARGE = Discharge(reason=DischargeReason.COMPLETED, summary="done")


async def rejected(h: Harness, ref: str, action: str, arg: Any, reason: str) -> None:
    """The action is rejected with ``reason`` and the referral's state is exactly as before."""
    before = await h.state(ref)
    with pytest.raises(ActionRejected) as caught:
        await h.act(ref, action, arg)
    assert reason in caught.value.reason
    assert CLINICAL_MARKER not in caught.value.reason
    assert await h.state(ref) == before


async def test_actions_out_of_stage_are_rejected(harness: Harness) -> None:
    h = harness
    await add_practitioner(h.session_factory, "p-full", "Full", "full@harbour.example", capacity=0)
    await add_practitioner(h.session_factory, "p-1", "One", "one@harbour.example", capacity=1)
    await add_practitioner(
        h.session_factory, "p-away", "Away", "away@harbour.example", capacity=5, active=False
    )
    async with h.worker():
        ref = await h.refer(submission())
        # In triage: nothing of the episode, no allocation, no answer without a question.
        await rejected(h, ref, "record_session", ATTENDED, "while the referral is triage")
        await rejected(
            h, ref, "discharge", DISCHARGE, "cannot discharge while the referral is triage"
        )
        await rejected(
            h, ref, "allocate", Allocation(practitioner_id="p-1", coordinator="c"), "allocate"
        )
        await rejected(
            h, ref, "answer_information", InformationAnswer(answer="x"), "triage question"
        )
        decline = TriageDecision(outcome=TriageOutcome.DECLINE, coordinator="c-1")
        await rejected(h, ref, "triage", decline, "decline_reason")
        ask = TriageDecision(outcome=TriageOutcome.REQUEST_INFORMATION, coordinator="c-1")
        await rejected(h, ref, "triage", ask, "question")

        await h.act(ref, "triage", ACCEPT)
        # A second triage, discharge while waiting, sessions before allocation.
        await rejected(h, ref, "triage", ACCEPT, "cannot triage while the referral is waiting")
        await rejected(h, ref, "discharge", DISCHARGE, "while the referral is waiting")
        await rejected(h, ref, "record_session", ATTENDED, "while the referral is waiting")
        # No caseload room, on leave, unknown: the allocation fails and nothing changes.
        for practitioner, reason in (
            ("p-full", "no caseload room"),
            ("p-away", "on leave"),
            ("p-nobody", "unknown practitioner"),
        ):
            await rejected(
                h,
                ref,
                "allocate",
                Allocation(practitioner_id=practitioner, coordinator="c"),
                reason,
            )

        await h.act(ref, "allocate", Allocation(practitioner_id="p-1", coordinator="c-1"))
        now = await h.env.get_current_time()
        await rejected(
            h,
            ref,
            "book_session",
            SessionBooking(at=now - timedelta(hours=1), location="café"),
            "in the future",
        )
        await rejected(
            h,
            ref,
            "record_session",
            SessionRecord(outcome=SessionOutcome.ATTENDED, session_id="e1s9"),
            "no booked session",
        )
        await rejected(
            h,
            ref,
            "record_session",
            SessionRecord(outcome=SessionOutcome.ATTENDED, at=now + timedelta(days=2)),
            "before it happens",
        )
        await rejected(
            h,
            ref,
            "record_reqol",
            ReqolSubmission(when=ReqolWhen.END, responses=reqol(20)),
            "baseline measure before the end",
        )
        await rejected(
            h,
            ref,
            "record_reqol",
            ReqolSubmission(when=ReqolWhen.BASELINE, responses={1: 2}),
            "items 1–10",
        )
        await rejected(
            h,
            ref,
            "record_reqol",
            ReqolSubmission(when=ReqolWhen.BASELINE, responses=reqol(20), skipped_reason="x"),
            "not both",
        )
        await h.act(
            ref, "record_reqol", ReqolSubmission(when=ReqolWhen.BASELINE, skipped_reason="no")
        )
        await rejected(
            h,
            ref,
            "record_reqol",
            ReqolSubmission(when=ReqolWhen.BASELINE, skipped_reason="no"),
            "already recorded",
        )

        # The plan: 6 sessions, extendable to 10, never an 11th.
        for _ in range(6):
            await h.act(ref, "record_session", ATTENDED)
        await rejected(h, ref, "record_session", ATTENDED, "plan of 6 sessions is complete")
        await rejected(h, ref, "extend", Extension(planned_sessions=11), "at most 10")
        await rejected(h, ref, "extend", Extension(planned_sessions=6), "more than the current 6")
        await h.act(ref, "extend", Extension(planned_sessions=10))
        for _ in range(4):
            await h.act(ref, "record_session", ATTENDED)
        await rejected(h, ref, "record_session", ATTENDED, "at most 10 sessions")
        view = await h.state(ref)
        assert (view.sessions_done, view.sessions_planned) == (10, 10)

        await h.act(ref, "discharge", DISCHARGE)
        await rejected(h, ref, "discharge", DISCHARGE, "while the referral is discharged")
        closed = await h.act(
            ref, "close", Closure(reason=ClosureReason.MOVED_AWAY, coordinator="c-1")
        )
        assert closed.stage == Stage.CLOSED
        await rejected(
            h,
            ref,
            "close",
            Closure(reason=ClosureReason.OTHER, coordinator="c-1"),
            # The run may still be finishing its letters ("already closed", from the rules)
            # or have ended ("is closed", from the service): either way, rejected.
            "closed",
        )


async def test_bad_input_is_refused_before_anything_happens(harness: Harness) -> None:
    with pytest.raises(ValidationError, match="consent is required"):
        submission(consent=False)
    with pytest.raises(ValidationError, match="email or a phone"):
        submission(client={"email": None, "phone": None})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        TriageDecision.model_validate({"outcome": "accept", "coordinator": "c", "stage": "waiting"})
    with pytest.raises(NotFound):
        await harness.state("RNOSUCHREF00")
