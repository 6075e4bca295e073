"""Automatic allocation in the running service (time-skipping server, real SQLite, real SMTP):
order, holds, returning clients, leave, capacity changes, honest waits, validation removal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from models.actions import (
    Allocation,
    AllocationOffer,
    Discharge,
    DischargeReason,
    Hold,
    HoldReason,
    HoldRelease,
    Removal,
    RemovalReason,
    TriageDecision,
    TriageOutcome,
)
from models.messages import Channel
from models.referral import Stage, Urgency
from models.tables import CaseloadRow, ReferralRow
from services import inbound_messages
from services.referrals import ActionRejected
from tests.factories import REFERRER_EMAIL, save_practitioner, submission
from tests.fixtures.temporal import TEST_KEYRING, TEST_PSEUDONYM_KEY, Harness
from tests.helpers import eventually, mails_for
from workflows.referral import ReferralWorkflow, workflow_id

ACCEPT = TriageDecision(outcome=TriageOutcome.ACCEPT, coordinator="c-1")
DONE = Discharge(reason=DischargeReason.COMPLETED, summary="x")


async def add(h: Harness, pid: str, capacity: int, active: bool = True) -> None:
    await save_practitioner(h.client, h.session_factory, h.task_queue, pid, capacity, active)


async def waiting_referral(h: Harness, n: int, urgency: Urgency = Urgency.ROUTINE) -> str:
    ref = await h.refer(
        submission(
            client={"email": f"client{n}@example.org", "phone": f"+4477009{n:05d}"},
            urgency=urgency.value,
        )
    )
    await h.act(ref, "triage", ACCEPT)
    return ref


async def practitioner_of(h: Harness, ref: str) -> str | None:
    view = await h.state(ref)
    return view.practitioner_id if view.stage == Stage.ALLOCATED else None


async def allocated(h: Harness, *refs: str) -> bool:
    return all([await practitioner_of(h, r) is not None for r in refs])


async def recorded_as(h: Harness, stage: Stage, *refs: str) -> bool:
    """The read model (which positions are counted from) has caught up with the workflows."""
    async with h.session_factory() as session:
        stages = dict(
            (
                await session.execute(
                    select(ReferralRow.ref, ReferralRow.stage).where(ReferralRow.ref.in_(refs))
                )
            ).all()
        )
    return all(stages.get(r) == stage.value for r in refs)


@pytest.fixture
def auto(harness: Harness) -> Harness:
    harness.auto_allocate()
    return harness


async def test_urgency_then_longest_wait_and_reasons_on_the_timeline(auto: Harness) -> None:
    h = auto
    async with h.worker():
        await h.allocator()
        oldest = await waiting_referral(h, 1)
        await h.advance(timedelta(days=1))
        newer = await waiting_referral(h, 2)
        await h.advance(timedelta(days=1))
        urgent = await waiting_referral(h, 3, Urgency.URGENT)
        assert (await h.state(urgent)).stage == Stage.WAITING  # nobody has room yet
        assert (await h.state(newer)).position == 2
        await add(h, "p-a", capacity=1)
        await eventually(lambda: allocated(h, urgent))
        assert await practitioner_of(h, oldest) is None
        await add(h, "p-b", capacity=1)
        await eventually(lambda: allocated(h, oldest))
        assert await practitioner_of(h, newer) is None

        event = next(e for e in (await h.state(oldest)).timeline if e.kind == "allocated")
        assert event.detail["allocated_by"] == "allocator"
        assert "routine" in str(event.detail["reason"])

        # Capacity frees at discharge: the next in line is allocated, to where the room is.
        await h.act(urgent, "discharge", DONE)
        await eventually(lambda: allocated(h, newer))
        assert await practitioner_of(h, newer) == "p-a"


async def test_holds_are_skipped_and_keep_their_place(auto: Harness) -> None:
    h = auto
    async with h.worker():
        await h.allocator()
        first = await waiting_referral(h, 1)
        second = await waiting_referral(h, 2)
        third = await waiting_referral(h, 3)
        view = await h.act(
            first, "hold", Hold(reason=HoldReason.CLIENT_UNAVAILABLE, coordinator="c-1")
        )
        assert view.held_reason == "client_unavailable"
        with pytest.raises(ActionRejected, match="already held"):
            await h.act(first, "hold", Hold(reason=HoldReason.OTHER, coordinator="c-1"))
        await add(h, "p-a", capacity=1)
        await eventually(lambda: allocated(h, second))
        assert await practitioner_of(h, first) is None
        await h.act(first, "release_hold", HoldRelease(coordinator="c-1"))
        await add(h, "p-a", capacity=2)
        # Released, it is first again: ahead of the third, who was referred later.
        await eventually(lambda: allocated(h, first))
        assert await practitioner_of(h, third) is None
        kinds = [e.kind for e in (await h.state(first)).timeline]
        assert kinds.index("held") < kinds.index("hold_released") < kinds.index("allocated")


async def test_returning_client_goes_first_to_their_own_practitioner(auto: Harness) -> None:
    h = auto
    async with h.worker():
        await h.allocator()
        await add(h, "p-own", capacity=1)
        returning = await waiting_referral(h, 1)
        await eventually(lambda: allocated(h, returning))
        await h.act(returning, "discharge", DONE)
        # Now the practitioner is full with someone new, and another new referral waits.
        filler = await waiting_referral(h, 2)
        await eventually(lambda: allocated(h, filler))
        waiting_new = await waiting_referral(h, 3)
        await h.advance(timedelta(days=30))
        await inbound_messages.receive(
            h.client,
            h.session_factory,
            TEST_PSEUDONYM_KEY,
            TEST_KEYRING,
            channel=Channel.SMS,
            sender="+447700900001",
            body="RETURN",
            task_queue=h.task_queue,
        )
        await eventually(lambda: _stage(h, returning, Stage.WAITING))
        view = await h.state(returning)
        assert view.returning and view.position == 1
        # Room elsewhere does not take a returning client away from their practitioner.
        await add(h, "p-other", capacity=1)
        await eventually(lambda: allocated(h, waiting_new))
        assert await practitioner_of(h, returning) is None
        await h.act(filler, "discharge", DONE)
        await eventually(lambda: allocated(h, returning))
        view = await h.state(returning)
        assert (view.practitioner_id, view.episode_number) == ("p-own", 2)


async def test_leave_and_capacity_changes(auto: Harness) -> None:
    h = auto
    async with h.worker():
        await h.allocator()
        await add(h, "p-away", capacity=3, active=False)
        ref = await waiting_referral(h, 1)
        await h.advance(timedelta(days=2))
        assert await practitioner_of(h, ref) is None
        await add(h, "p-away", capacity=3, active=True)  # back from leave
        await eventually(lambda: allocated(h, ref))
        async with h.session_factory() as session:
            active = await session.scalar(
                select(func.count()).where(CaseloadRow.ended_at.is_(None))
            )
        assert active == 1


async def test_position_and_estimate_reach_letters_and_state(
    auto: Harness, smtp_server: Any
) -> None:
    h = auto
    smtp_server.clear()
    async with h.worker():
        await h.allocator()
        refs = [await waiting_referral(h, n) for n in range(1, 4)]
        view = await h.state(refs[2])
        assert (view.position, view.waiting_total) == (3, 3)
        # No allocations yet: the letter says honestly that it cannot estimate.
        assert view.estimate_weeks_low is None
        await add(h, "p-a", capacity=2)
        await eventually(lambda: allocated(h, refs[0], refs[1]))
        # The workflow reports "allocated" a moment before the read model records it.
        await eventually(lambda: recorded_as(h, Stage.ALLOCATED, refs[0], refs[1]))
        later = await waiting_referral(h, 4)
        view = await h.state(later)
        assert view.position == 2 and view.estimate_weeks_high is not None
        assert view.estimate_weeks_low is not None
        assert view.estimate_weeks_low <= view.estimate_weeks_high


async def test_a_late_offer_never_frees_a_place_taken_by_hand(harness: Harness) -> None:
    """The allocator reserved p-a for this referral; before its offer arrived, a coordinator
    allocated the referral to p-a by hand, taking that very place. The late offer must leave
    the place with the referral (it once freed it, letting a caseload go over capacity)."""
    h = harness
    async with h.worker():
        await add(h, "p-a", capacity=1)
        ref = await waiting_referral(h, 1)
        await h.act(ref, "allocate", Allocation(practitioner_id="p-a", coordinator="c-1"))
        handle = h.client.get_workflow_handle(workflow_id(ref))
        late = AllocationOffer(practitioner_id="p-a", episode=1, reason="routine, longest wait")
        await handle.signal(ReferralWorkflow.allocation_offered, late)
        await eventually(lambda: _signal_handled(h, ref))
        await h.settle()
        async with h.session_factory() as session:
            places = (
                await session.execute(
                    select(CaseloadRow.practitioner_id, CaseloadRow.ended_at).where(
                        CaseloadRow.ref == ref
                    )
                )
            ).all()
        assert places == [("p-a", None)]
        view = await h.state(ref)
        assert (view.stage, view.practitioner_id, view.episode_number) == (
            Stage.ALLOCATED,
            "p-a",
            1,
        )


async def _signal_handled(h: Harness, ref: str) -> bool:
    """The workflow has completed a workflow task after receiving the signal."""
    events = [
        e async for e in h.client.get_workflow_handle(workflow_id(ref)).fetch_history_events()
    ]
    signalled = [
        i
        for i, e in enumerate(events)
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    completed = [
        i for i, e in enumerate(events) if e.HasField("workflow_task_completed_event_attributes")
    ]
    return bool(signalled) and any(c > signalled[-1] for c in completed)


async def test_validation_removal_tells_referrer_and_client_why(
    harness: Harness, smtp_server: Any
) -> None:
    h = harness
    smtp_server.clear()
    async with h.worker():
        ref = await waiting_referral(h, 7)
        removal = Removal(reason=RemovalReason.NO_RESPONSE, coordinator="c-1")
        with pytest.raises(ActionRejected, match="validation queue"):
            await h.act(ref, "remove_from_waiting_list", removal)
        await h.advance(timedelta(weeks=12, days=1))
        assert (await h.state(ref)).in_validation_queue
        view = await h.act(ref, "remove_from_waiting_list", removal)
        assert (view.stage, view.closed_reason) == (Stage.CLOSED, "removed_no_response")
        referrer = await eventually(
            lambda: [
                m
                for m in mails_for(smtp_server, REFERRER_EMAIL)
                if m["X-Harbour-Kind"] == "removed_from_list"
            ]
        )
        # The letters follow the action (not part of it): the client's may come a moment later.
        await eventually(
            lambda: any(
                m["X-Harbour-Kind"] == "removed_from_list"
                for m in mails_for(smtp_server, "client7@example.org")
            )
        )
        assert "not heard back" in referrer[0].get_body(("plain",)).get_content()


async def _stage(h: Harness, ref: str, stage: Stage) -> bool:
    return (await h.state(ref)).stage == stage
