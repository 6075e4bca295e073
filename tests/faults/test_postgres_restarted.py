"""PostgreSQL restarted mid-transition (a fast restart: open transactions aborted, every
connection cut) under the worker and the staff: every step retried, nothing lost or doubled —
stages, timelines, letters and the practitioner's caseload all agree at the end.

The first restart comes while the SMTP server holds a letter in the middle of a batch: that
step has written its outbox rows and the transition it belongs to is under way; the server is
back at once. The second comes while staff actions are in flight, and the server stays down
until the worker has failed against it a few times.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.tables import CaseloadRow, TimelineEventRow
from tests.faults.checks import FaultFigures, eventually, settle_and_check
from tests.faults.journeys import Journey, Staff, Timers, bounded, plan
from tests.faults.postgres_server import PostgresServer
from tests.faults.stack import PRACTITIONER, FaultStack, open_stack

pytestmark = pytest.mark.slow

TIMERS = Timers(checkin_every=15, triage_deadline=10, triage_reminder_every=15)
PLAN = {Journey.WAITS: 4, Journey.DECLINED: 3, Journey.QUESTIONED: 3, Journey.EPISODE: 8}
AT_ONCE = 5
STEP_TIMEOUT = 120.0
FAILURES_WHILE_DOWN = 5  # activity attempts that fail against the stopped server


async def test_postgres_restarted_mid_transition(
    tmp_path: Path,
    own_postgres: PostgresServer,
    started: float,
    report: Callable[[FaultFigures], None],
) -> None:
    referrals = plan(PLAN)
    async with open_stack(tmp_path, own_postgres.url, capacity=PLAN[Journey.EPISODE]) as stack:
        staff = Staff(stack.client, stack.task_queue, TIMERS)
        figures = FaultFigures("PostgreSQL restarted mid-transition", stack.backend)
        driving = asyncio.create_task(
            bounded(AT_ONCE, [lambda r=r: staff.follow(r) for r in referrals])
        )
        try:
            # 1. Mid-transition: a letter of a batch held at the SMTP server.
            await _events_recorded(stack, 10)
            stack.smtp.hold_next()

            async def holding() -> None:
                assert stack.smtp.holding, "no letter in the middle of a batch yet"

            await eventually(holding, STEP_TIMEOUT, "a letter held mid-batch", stack)
            figures.fault_seconds += await asyncio.to_thread(own_postgres.restart)
            stack.smtp.release(accept=True)
            # 2. While staff are acting and the worker recording; down for a stretch.
            await _events_recorded(stack, 25)
            down = time.monotonic()
            failed = stack.activity_failures()
            await asyncio.to_thread(own_postgres.halt)

            async def failing() -> None:
                assert stack.activity_failures() >= failed + FAILURES_WHILE_DOWN, "no failures"

            await eventually(failing, STEP_TIMEOUT, "the worker failing on the database", stack)
            await asyncio.to_thread(own_postgres.start)
            figures.fault_seconds += time.monotonic() - down
            faults_over = time.monotonic()
            await eventually(lambda: _finished(driving), 240, "staff done", stack)
        finally:
            if not driving.done():
                driving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(driving, return_exceptions=True)
        driving.result()
        figures.faults = {"PostgreSQL fast restart": own_postgres.restarts}
        await settle_and_check(stack, referrals, staff, figures, faults_over_at=faults_over)
        await _caseload_agrees(stack)
    figures.wall_seconds = time.monotonic() - started
    report(figures)
    print(figures.line())


async def _events_recorded(stack: FaultStack, count: int) -> None:
    """Wait until the read model holds at least ``count`` timeline events."""

    async def enough() -> None:
        async with stack.sessions() as session:
            found = await session.scalar(select(func.count()).select_from(TimelineEventRow))
        assert (found or 0) >= count, f"{found} events recorded"

    await eventually(enough, STEP_TIMEOUT, f"{count} events recorded", stack)


async def _caseload_agrees(stack: FaultStack) -> None:
    """Every episode reserved one place, once, and gave it back at discharge."""
    async with stack.sessions() as session:
        rows = (
            await session.execute(
                select(CaseloadRow.ref, CaseloadRow.episode, CaseloadRow.ended_at).where(
                    CaseloadRow.practitioner_id == PRACTITIONER
                )
            )
        ).all()
    assert len(rows) == PLAN[Journey.EPISODE], f"caseload rows: {rows}"
    assert len({(r.ref, r.episode) for r in rows}) == len(rows), f"a place taken twice: {rows}"
    assert all(r.ended_at is not None for r in rows), f"a place never given back: {rows}"


async def _finished(task: asyncio.Task[object]) -> None:
    if task.done():
        task.result()
        return
    raise AssertionError("staff still acting")
