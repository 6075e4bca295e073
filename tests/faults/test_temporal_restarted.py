"""The Temporal server restarted mid-timer on the same data — once stopped, once crashed with
``kill -9`` — while check-ins and triage reminders are running: each timer that came due while
the server was away fires once it is back (within a minute of its due time), nothing is lost,
and the worker, which is not restarted, carries on by itself.

The server stays down until at least ``DUE_WHILE_DOWN`` timers have come due: the wait is on
the clock against the due times the referrals report, not a pause of fixed length.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.faults.checks import FaultFigures, eventually, settle_and_check
from tests.faults.journeys import Journey, Referral, Staff, Timers, bounded, plan
from tests.faults.stack import FaultStack, open_stack

pytestmark = pytest.mark.slow

TIMERS = Timers(checkin_every=10, triage_deadline=8, triage_reminder_every=10)
PLAN = {Journey.WAITS: 8, Journey.DECLINED: 3, Journey.QUESTIONED: 5, Journey.EPISODE: 4}
SECOND_WAVE = 4  # referrals submitted after the restarts, to the restarted server
DUE_WHILE_DOWN = 3
AT_ONCE = 5
STEP_TIMEOUT = 120.0


async def test_temporal_restarted_mid_timer(
    tmp_path: Path, started: float, report: Callable[[FaultFigures], None]
) -> None:
    referrals = plan(PLAN)
    first, second = referrals[:-SECOND_WAVE], referrals[-SECOND_WAVE:]
    url = f"sqlite+aiosqlite:///{tmp_path / 'harbour.db'}"
    async with open_stack(tmp_path, url, capacity=PLAN[Journey.EPISODE]) as stack:
        staff = Staff(stack.client, stack.task_queue, TIMERS)
        figures = FaultFigures("Temporal restarted mid-timer", stack.backend)
        await bounded(AT_ONCE, [lambda r=r: staff.follow(r) for r in first])
        await eventually(
            lambda: _timers_running(staff, first), STEP_TIMEOUT, "timers running", stack
        )
        for crash in (False, True):
            figures.fault_seconds += await _restart_while_timers_come_due(
                stack, staff, first, crash=crash
            )
        faults_over = time.monotonic()
        # The restarted server takes new work too.
        await bounded(AT_ONCE, [lambda r=r: staff.follow(r) for r in second])
        figures.faults = {"Temporal stopped": 1, "Temporal kill -9": 1}
        await settle_and_check(stack, referrals, staff, figures, faults_over_at=faults_over)
        assert stack.worker.starts == 1 and stack.worker.running, "the worker did not carry on"
    figures.wall_seconds = time.monotonic() - started
    report(figures)
    print(figures.line())


async def _timers_running(staff: Staff, referrals: list[Referral]) -> None:
    """Every waiting referral has been checked in on, every questioned one reminded."""
    for referral in referrals:
        kinds = {e.kind for e in (await staff.read(referral.ref)).timeline}
        if referral.journey is Journey.WAITS:
            assert "checkin" in kinds, f"{referral.ref}: no check-in yet"
        if referral.journey is Journey.QUESTIONED:
            assert "triage_reminder" in kinds, f"{referral.ref}: no triage reminder yet"


async def _restart_while_timers_come_due(
    stack: FaultStack, staff: Staff, referrals: list[Referral], *, crash: bool
) -> float:
    """Take the server down with timers pending; bring it back (same port, same data) once
    ``DUE_WHILE_DOWN`` of them have come due. Returns how long it was down (seconds)."""
    views = [await staff.read(r.ref) for r in referrals]
    now = datetime.now(UTC)
    dues = sorted(v.next_deadline.at for v in views if v.next_deadline and v.next_deadline.at > now)
    assert len(dues) >= DUE_WHILE_DOWN, "too few timers pending"
    back_after = dues[DUE_WHILE_DOWN - 1] + timedelta(seconds=0.5)
    down = time.monotonic()
    if crash:
        stack.temporal.kill()
    else:
        stack.temporal.stop()

    async def timers_came_due() -> None:
        assert datetime.now(UTC) > back_after, "timers still to come due"

    await eventually(timers_came_due, STEP_TIMEOUT, "timers due while Temporal is down", stack)
    await stack.temporal.start()
    return time.monotonic() - down
