"""``kill -9`` of the worker in the middle of letter batches, several times, restarting it each
time: no referral lost, no letter lost, a letter repeated only under the same Message-ID.

Each kill comes while the SMTP server holds a message that follows another on its connection
(so a batch is half-sent, its outbox rows "sending"). After the kill the held message is
answered: accepted on even kills (the server took it, the worker never heard: the retry must
resend it under the same Message-ID), refused on odd ones (the retry must send it).

What the dead worker was doing is taken over only when its activities time out (30 s, the
workflow's ``ACTIVITY_TIMEOUT``). The next kill waits until that has happened and the
workflows concerned have moved on (no workflow task pending), so that no referral loses two of
those half-minutes in a row — which would make its next timer later than the minute the final
check allows, for a reason that is the test's, not Harbour's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.service import RPCError

from tests.faults.checks import FaultFigures, eventually, settle_and_check
from tests.faults.journeys import Journey, Referral, Staff, Timers, bounded, plan
from tests.faults.stack import FaultStack, open_stack
from workflows.referral import workflow_id

pytestmark = pytest.mark.slow

TIMERS = Timers(checkin_every=12, triage_deadline=8, triage_reminder_every=12)
PLAN = {Journey.WAITS: 6, Journey.DECLINED: 4, Journey.QUESTIONED: 4, Journey.EPISODE: 8}
KILLS = 3
AT_ONCE = 5  # referrals driven concurrently
STEP_TIMEOUT = 120.0  # for each fault to find the moment it waits for
TAKEOVER_TIMEOUT = 180.0  # for the work of a killed worker to be taken over


async def test_worker_killed_mid_letter_batches(
    tmp_path: Path, started: float, report: Callable[[FaultFigures], None]
) -> None:
    referrals = plan(PLAN)
    # One wave of referrals per kill, so that fresh batches of letters are in flight each time.
    waves = [referrals[k::KILLS] for k in range(KILLS)]
    url = f"sqlite+aiosqlite:///{tmp_path / 'harbour.db'}"
    async with open_stack(tmp_path, url, capacity=PLAN[Journey.EPISODE]) as stack:
        staff = Staff(stack.client, stack.task_queue, TIMERS)
        figures = FaultFigures("worker kill -9 mid-batch", stack.backend)
        driving: list[asyncio.Task[list[None]]] = []
        try:
            killed_at: list[float] = []
            for kill, wave in enumerate(waves):
                driving.append(
                    asyncio.create_task(
                        bounded(AT_ONCE, [lambda r=r: staff.follow(r) for r in wave])
                    )
                )
                killed_at.append(await _kill_mid_batch(stack, referrals, accept_held=kill % 2 == 0))
            faults_over = time.monotonic()
            first_fault = killed_at[0]
            figures.fault_seconds = faults_over - first_fault
            for task in driving:
                await eventually(lambda t=task: _finished(t), 240, "staff done", stack)
        finally:
            for task in driving:
                if not task.done():
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*driving, return_exceptions=True)
        for task in driving:
            task.result()
        figures.faults = {"worker kill -9": stack.worker.kills}
        await settle_and_check(stack, referrals, staff, figures, faults_over_at=faults_over)
        # The held letters were sent again by a later worker: twice in all when the server had
        # taken the first copy (the killed worker never heard), once when it had refused it.
        copies = stack.smtp.copies()
        assert len(stack.smtp.held) == KILLS
        for message_id, accepted in stack.smtp.held:
            assert len(copies.get(message_id, [])) == (2 if accepted else 1), (
                f"held {message_id} (accepted: {accepted}) reached the server "
                f"{len(copies.get(message_id, []))} times"
            )
    figures.wall_seconds = time.monotonic() - started
    report(figures)
    print(figures.line())


async def _kill_mid_batch(
    stack: FaultStack, referrals: list[Referral], *, accept_held: bool
) -> float:
    """Hold a letter in the middle of a batch (of a referral none of whose letters was held
    before), kill -9 the worker, answer the held message, start a new worker and wait until
    it has taken over every activity the dead one had started. Returns when it killed."""
    stack.smtp.hold_next()

    async def holding() -> None:
        assert stack.smtp.holding, "no message in the middle of a batch yet"

    await eventually(holding, STEP_TIMEOUT, "a letter held mid-batch", stack)
    dead = stack.worker.pid
    killed_at = time.monotonic()
    stack.worker.kill()
    orphaned = await _pending(stack, referrals, dead)
    assert orphaned, "the killed worker had no activity under way"
    stack.smtp.release(accept=accept_held)
    stack.worker.start()

    concerned = {key[0].split("/")[0] for key in orphaned}  # their workflow ids

    async def taken_over() -> None:
        pending = orphaned & await _pending(stack, referrals)
        assert not pending, f"{len(pending)} activities of the dead worker not finished yet"
        for wid in concerned:
            described = await stack.client.get_workflow_handle(wid).describe()
            assert not described.raw_description.HasField("pending_workflow_task"), (
                f"{wid} has not moved on yet"
            )

    await eventually(taken_over, TAKEOVER_TIMEOUT, "the dead worker's work taken over", stack)
    return killed_at


async def _pending(
    stack: FaultStack, referrals: list[Referral], worker_pid: int | None = None
) -> set[tuple[str, str]]:
    """(workflow id, activity id) of every pending activity of the referrals' workflows; with
    ``worker_pid``, only those that worker had started."""
    found: set[tuple[str, str]] = set()
    for referral in referrals:
        if not referral.ref:
            continue
        wid = workflow_id(referral.ref)
        try:
            described = await stack.client.get_workflow_handle(wid).describe()
        except RPCError:
            continue  # between two runs (continue-as-new): nothing under way
        for activity in described.raw_description.pending_activities:
            started = activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            by_it = activity.last_worker_identity.startswith(f"{worker_pid}@")
            if worker_pid is None or (started and by_it):
                found.add((f"{wid}/{described.run_id}", activity.activity_id))
    return found


async def _finished(task: asyncio.Task[object]) -> None:
    if task.done():
        task.result()  # a failure of the staff's actions surfaces here
        return
    raise AssertionError("staff still acting")
