"""The Overview's figures: stages, weekly flows, the list's length, what needs a person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from models.referral import Stage
from models.tables import (
    CaseloadRow,
    ReferralRow,
)
from readmodel.inbox import inbox_counts
from readmodel.sql import (
    OPEN_BREACH,
    at,
    run,
    sum_where,
    week_starts,
)
from readmodel.waiting_list import RETURNING_WAITING


@dataclass
class Overview:
    """The Overview page's figures."""

    stage_counts: dict[str, int]
    week_starts: list[datetime]
    referrals_in: list[int]
    allocations_out: list[int]
    waiting_length: list[int]
    breaches_open: int
    breaches_flagged: int
    validation_queue: int
    inbox_open: int
    inbox_crisis: int
    held: int

    @property
    def total(self) -> int:
        return sum(self.stage_counts.values())


async def stage_counts(session: AsyncSession) -> dict[str, int]:
    """How many referrals are at each stage (every stage listed, zeros included)."""
    rows = (
        await run(session, select(ReferralRow.stage, func.count()).group_by(ReferralRow.stage))
    ).all()
    found = {stage: count for stage, count in rows}
    return {stage.value: int(found.get(stage.value, 0)) for stage in Stage}


def _week_of(column: Any, starts: list[datetime], until: datetime) -> ColumnElement[Any]:
    """Which week (an index into ``starts``) ``column`` falls in: -1 before the first week,
    NULL when unset or after ``until``. A balanced tree of plain comparisons (about five per
    row for half a year of weeks), so weeks follow local midnights exactly."""

    def count_le(low: int, high: int) -> ColumnElement[Any]:
        # Every start before ``low`` is <= column, every start from ``high`` on is > column.
        if low == high:
            return literal(low - 1)
        middle = (low + high) // 2
        return case(
            (column < at(starts[middle]), count_le(low, middle)),
            else_=count_le(middle + 1, high),
        )

    return case(
        (column < at(starts[0]), -1),  # most rows, in a long history: one comparison
        (or_(column.is_(None), column > at(until)), None),
        else_=count_le(1, len(starts)),
    )


@dataclass
class _Weekly:
    """Counts before the first week and in each week."""

    before: int
    weeks: list[int]

    @classmethod
    def empty(cls, length: int) -> _Weekly:
        return cls(0, [0] * length)

    def add(self, week: int | None, count: int) -> None:
        if week is None:
            return
        if week < 0:
            self.before += count
        else:
            self.weeks[min(week, len(self.weeks) - 1)] += count


async def overview(session: AsyncSession, now: datetime, zone: Any, weeks: int = 26) -> Overview:
    """Counts per stage, demand against capacity by week, the list over time, the queues:
    one grouped pass over the referrals and one over the caseload, whatever the weeks.

    The waiting list's length at the end of each week (now, for this week) is reconstructed:
    a referral joined the list when it was accepted and left it at its first allocation (its
    first ``caseload`` row) or, if never allocated, when it was closed; a returning client
    now waiting counts from the day they came back. Earlier returns are not counted (a
    returning client goes to the front of their practitioner's queue: those waits are short),
    and a reservation released while the referral still waits (rare) counts as a departure.
    """
    starts = week_starts(now, weeks, zone)[:-1]
    counts = await stage_counts(session)

    async def weekly(
        column: Any, *where: Any, sums: tuple[Any, ...] = ()
    ) -> tuple[_Weekly, list[int]]:
        week = _week_of(column, starts, now).label("wk")
        found, totals = _Weekly.empty(len(starts)), [0] * len(sums)
        query = select(week, func.count(), *sums).where(*where).group_by(literal_column("wk"))
        for index, n, *more in await run(session, query):
            found.add(index, n)
            totals = [t + int(m) for t, m in zip(totals, more, strict=True)]
        return found, totals

    # In a SELECT list (no WHERE), plain comparisons: no index is involved.
    stage = ReferralRow.stage
    waiting = stage == Stage.WAITING.value
    received, _ = await weekly(ReferralRow.received_at, ReferralRow.received_at >= at(starts[0]))
    start = at(starts[0])
    # One pass over the whole table for every flag and the acceptances before the weeks
    # shown (an aggregate, no grouping); the weeks themselves group only their own rows.
    flags = (
        await run(
            session,
            select(
                sum_where(OPEN_BREACH),
                sum_where(ReferralRow.breach.is_(True)),
                sum_where(and_(waiting, ReferralRow.in_validation_queue.is_(True))),
                sum_where(and_(waiting, ReferralRow.held.is_(True))),
                sum_where(ReferralRow.accepted_at < start),
            ),
        )
    ).one()
    joined, _ = await weekly(ReferralRow.accepted_at, ReferralRow.accepted_at >= start)
    joined.before = int(flags[4])
    never_allocated = ~exists().where(CaseloadRow.ref == ReferralRow.ref, CaseloadRow.episode == 1)
    closed, _ = await weekly(
        ReferralRow.updated_at,
        ReferralRow.stage == Stage.CLOSED.value,
        ReferralRow.accepted_at.is_not(None),
        never_allocated,
    )
    returned, _ = await weekly(ReferralRow.waiting_since, RETURNING_WAITING)
    first = CaseloadRow.episode == 1
    allocations, first_allocations = _Weekly.empty(len(starts)), _Weekly.empty(len(starts))
    grouped = (
        select(
            _week_of(CaseloadRow.started_at, starts, now).label("wk"),
            first.label("first_episode"),
            func.count(),
        )
        .where(CaseloadRow.started_at >= start)
        .group_by(literal_column("wk"), literal_column("first_episode"))
    )
    for week, is_first, n in await run(session, grouped):
        allocations.add(week, n)
        if is_first:
            first_allocations.add(week, n)
    first_allocations.before = int(
        (
            await run(
                session,
                select(func.count())
                .select_from(CaseloadRow)
                .where(first, CaseloadRow.started_at < start),
            )
        ).scalar_one()
    )
    length = []
    running = joined.before - first_allocations.before - closed.before + returned.before
    for week in range(len(starts)):
        running += (
            joined.weeks[week]
            - first_allocations.weeks[week]
            - closed.weeks[week]
            + returned.weeks[week]
        )
        length.append(max(0, running))
    inbox_open, inbox_crisis = await inbox_counts(session)
    return Overview(
        stage_counts=counts,
        week_starts=starts,
        referrals_in=received.weeks,
        allocations_out=allocations.weeks,
        waiting_length=length,
        breaches_open=int(flags[0]),
        breaches_flagged=int(flags[1]),
        validation_queue=int(flags[2]),
        held=int(flags[3]),
        inbox_open=inbox_open,
        inbox_crisis=inbox_crisis,
    )
