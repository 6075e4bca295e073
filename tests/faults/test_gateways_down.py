"""The SMTP server and the SMS gateway down for a stretch — not listening, then answering 4xx,
5xx and 429 — then back: every letter still goes, none marked sent before a server took it.

The read model is on the shared test PostgreSQL here (the other scenarios use SQLite or a
PostgreSQL of their own). Each phase lasts until the fault has been met by the worker's retries
(counted by the servers, or in the outbox's attempts), not for a fixed time.

Outages stay short on purpose: a referral's letters are sent inside the step that writes them,
so a timer of that referral waits for them; a minute of outage would make its next timer a
minute late, which the final check forbids. Notify's 429 makes the worker wait a minute before
trying that text again (``RATE_LIMIT_BACKOFF``), so the check-in interval here is longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.tables import OutboxRow
from tests.faults.checks import FaultFigures, eventually, settle_and_check
from tests.faults.journeys import Journey, Staff, Timers, bounded, plan
from tests.faults.smtp_server import SmtpStage
from tests.faults.stack import FaultStack, open_stack

pytestmark = pytest.mark.slow

# A referral whose letters wait out the outage also waits to fire its timers: deadlines longer
# than the outage keep "no timer more than a minute late" a statement about the timers.
TIMERS = Timers(checkin_every=30, triage_deadline=60, triage_reminder_every=30)
PLAN = {Journey.WAITS: 6, Journey.DECLINED: 4, Journey.QUESTIONED: 4, Journey.EPISODE: 6}
WARM_UP = 4  # referrals taken through before anything breaks
AT_ONCE = 5
STEP_TIMEOUT = 120.0
FORCED = 1000  # Notify failures queued for a phase: every text fails until the phase ends


async def test_gateways_down_then_back(
    tmp_path: Path,
    shared_postgres: str,
    started: float,
    report: Callable[[FaultFigures], None],
) -> None:
    referrals = plan(PLAN, texts_every=2)
    early, late = referrals[:WARM_UP], referrals[WARM_UP:]
    async with open_stack(tmp_path, shared_postgres, capacity=PLAN[Journey.EPISODE]) as stack:
        staff = Staff(stack.client, stack.task_queue, TIMERS)
        figures = FaultFigures("SMTP and SMS gateway down", stack.backend)
        # A few referrals all the way through first: the stack works before it is broken.
        await bounded(AT_ONCE, [lambda r=r: staff.follow(r) for r in early])
        broken = asyncio.Event()

        async def the_rest() -> None:
            # Submitted as soon as both gateways are broken, all at once, so that letters of
            # every kind (emails and texts) are waiting through the whole outage.
            await broken.wait()
            await bounded(AT_ONCE, [lambda r=r: staff.submit(r) for r in late])
            await bounded(AT_ONCE, [lambda r=r: staff.walk(r) for r in late])

        driving = asyncio.create_task(the_rest())
        try:
            first_fault = time.monotonic()
            figures.faults = await _outage(stack, broken)
            faults_over = time.monotonic()
            figures.fault_seconds = faults_over - first_fault
            await eventually(lambda: _finished(driving), 240, "staff done", stack)
        finally:
            if not driving.done():
                driving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(driving, return_exceptions=True)
        driving.result()
        await settle_and_check(stack, referrals, staff, figures, faults_over_at=faults_over)
    figures.wall_seconds = time.monotonic() - started
    report(figures)
    print(figures.line())


async def _outage(stack: FaultStack, broken: asyncio.Event) -> dict[str, int]:
    """The outage, phase by phase (``broken`` is set once it has begun); returns the faults
    the worker met, by kind."""
    smtp, notify = stack.smtp, stack.notify

    # 1. SMTP not listening; Notify answers 429 (rate limited) once, then 500s.
    smtp.down()
    await notify.fail_next(429, 1)
    await notify.fail_next(500, FORCED)
    emails_tried = await _attempts(stack, "email")
    broken.set()

    async def phase_1() -> None:
        tried = await _attempts(stack, "email")
        assert tried >= emails_tried + 4, "too few emails tried against the closed port yet"
        answered = FORCED + 1 - await notify.pending_failures()
        assert answered >= 4, f"Notify answered {answered} forced failures"

    await eventually(phase_1, STEP_TIMEOUT, "SMTP down, Notify 429 and 500", stack)
    notify_429_and_500 = FORCED + 1 - await notify.pending_failures()

    # 2. SMTP answers 450 to every recipient; Notify not listening.
    smtp.up()
    smtp.refuse(SmtpStage.RCPT, "450 4.2.1 Mailbox busy, try again later")
    await notify.clear_failures()
    await notify.down()
    texts_tried = await _attempts(stack, "sms")

    async def phase_2() -> None:
        assert smtp.refused >= 5, f"SMTP refused {smtp.refused} recipients"
        tried = await _attempts(stack, "sms")
        assert tried >= texts_tried + 3, "too few texts tried against the closed port yet"

    await eventually(phase_2, STEP_TIMEOUT, "SMTP 450, Notify down", stack)
    rcpt_450 = smtp.refused

    # 3. SMTP answers 554 to the data; Notify answers 500s.
    smtp.refuse(SmtpStage.DATA, "554 5.3.0 Transaction failed")
    await notify.up()
    await notify.fail_next(500, FORCED)

    async def phase_3() -> None:
        assert smtp.refused - rcpt_450 >= 5, "SMTP refused too few messages yet"
        answered = FORCED - await notify.pending_failures()
        assert answered >= 3, f"Notify answered {answered} forced failures"

    await eventually(phase_3, STEP_TIMEOUT, "SMTP 554, Notify 500", stack)
    notify_500 = FORCED - await notify.pending_failures()

    # Back.
    smtp.refuse(None)
    await notify.clear_failures()
    return {
        "SMTP not listening": 1,
        "SMTP 450 at RCPT": rcpt_450,
        "SMTP 554 at DATA": smtp.refused - rcpt_450,
        "Notify 429 then 500": notify_429_and_500,
        "Notify not listening": notify.outages,
        "Notify 500": notify_500,
    }


async def _attempts(stack: FaultStack, channel: str) -> int:
    """Attempts recorded on the outbox rows of ``channel`` not yet sent."""
    async with stack.sessions() as session:
        total = await session.scalar(
            select(func.coalesce(func.sum(OutboxRow.attempts), 0)).where(
                OutboxRow.channel == channel, OutboxRow.status == "sending"
            )
        )
    return int(total or 0)


async def _finished(task: asyncio.Task[object]) -> None:
    if task.done():
        task.result()
        return
    raise AssertionError("staff still acting")
