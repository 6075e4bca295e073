"""A staff action answers once its decision is durable — the workflow's state and the read
model — and its letters follow outside the referral's lock (docs/actions.md): a text held back
by the hourly limit per number never holds up a coordinator, and every letter still goes."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from models.actions import Hold, HoldReason, HoldRelease, TriageDecision, TriageOutcome
from models.notifications import SEND_NOTIFICATIONS
from models.policy import ServicePolicy
from models.referral import Stage
from models.tables import OutboxRow, ReferralRow
from tests.factories import REFERRER_EMAIL, submission
from tests.fixtures.temporal import Harness
from tests.helpers import eventually, mails_for
from workflows.referral import workflow_id

ACCEPT = TriageDecision(outcome=TriageOutcome.ACCEPT, coordinator="c-1")
HOLD = Hold(reason=HoldReason.OTHER, coordinator="c-1")
RELEASE = HoldRelease(coordinator="c-1")
PHONE = "+447700900990"


async def _read_model_stage(h: Harness, ref: str) -> str | None:
    async with h.session_factory() as session:
        return await session.scalar(select(ReferralRow.stage).where(ReferralRow.ref == ref))


async def test_the_read_model_has_the_decision_when_the_action_answers(
    harness: Harness, smtp_server: object
) -> None:
    h = harness
    async with h.worker():
        ref = await h.refer(submission())
        await eventually(lambda: _read_model_stage(h, ref))
        view = await h.act(ref, "triage", ACCEPT)
        # No waiting here: a page shown after the action's redirect reads this row.
        assert view.stage == Stage.WAITING
        assert await _read_model_stage(h, ref) == Stage.WAITING.value
        held = await h.act(ref, "hold", HOLD)
        async with h.session_factory() as session:
            row = await session.get(ReferralRow, ref)
            assert row is not None and row.held and row.last_seq == held.timeline[-1].seq
        # The letters follow the answer.
        await eventually(
            lambda: [
                m
                for m in mails_for(smtp_server, REFERRER_EMAIL)
                if m["X-Harbour-Kind"] == "accepted"
            ]
        )


async def _sent(h: Harness, ref: str, kind: str) -> bool:
    async with h.session_factory() as session:
        rows = await session.scalars(
            select(OutboxRow).where(OutboxRow.ref == ref, OutboxRow.kind == kind)
        )
        return any(row.status == "sent" for row in rows)


async def _deferred_text(h: Harness, ref: str) -> bool:
    """Whether the referral's letters are waiting for the hourly limit per number."""
    described = await h.client.get_workflow_handle(workflow_id(ref)).describe()
    return any(
        # Scheduled or started: the test server skips the hour, the limit is in real time.
        pending.activity_type.name == SEND_NOTIFICATIONS
        and pending.last_failure.application_failure_info.type == "SmsHourlyLimit"
        for pending in described.raw_description.pending_activities
    )


async def test_a_text_held_back_by_the_hourly_limit_never_blocks_the_next_action(
    harness: Harness,
) -> None:
    h = harness
    # One text an hour to a number: the acknowledgement goes (it is let go first: letters of
    # two events may go side by side), then the "on the list" text waits for its hour.
    h.settings = h.settings.model_copy(
        update={"policy": ServicePolicy(texts_per_number_per_hour=1)}
    )
    async with h.worker():
        ref = await h.refer(
            submission(client={"email": None, "phone": PHONE, "preferred_channel": "sms"})
        )
        await eventually(lambda: _sent(h, ref, "acknowledgement"))
        accepted = await asyncio.wait_for(h.act(ref, "triage", ACCEPT), timeout=60)
        assert accepted.stage == Stage.WAITING
        await eventually(lambda: _deferred_text(h, ref))
        # Before, the text held the referral's lock for up to an hour and this waited with
        # it; the bound only turns such a hang into a failure.
        held = await asyncio.wait_for(h.act(ref, "hold", HOLD), timeout=60)
        assert held.held_reason == HoldReason.OTHER.value
        released = await asyncio.wait_for(h.act(ref, "release_hold", RELEASE), timeout=60)
        assert released.held_reason is None
        assert await _deferred_text(h, ref)  # still waiting for its hour: nothing dropped
        async with h.session_factory() as session:
            kinds = {
                (row.kind, row.status)
                for row in await session.scalars(select(OutboxRow).where(OutboxRow.ref == ref))
            }
        assert ("waiting_list", "sent") not in kinds
        # The hour is not waited for here: end the referral's run so nothing is left pending.
        await h.client.get_workflow_handle(workflow_id(ref)).terminate("test finished")
        # The test server still lists the ended run's activity as pending: leave it out of
        # the harness's settling, which would wait for it in vain.
        h.handles = [handle for handle in h.handles if handle.id != workflow_id(ref)]
