"""The read-model queries behind the dashboard: a few aggregate or indexed queries per page,
never a workflow query per row (only the Referral page asks its workflow, once).

Everything here reads codes, counts and times: no client name, contact or free text, except
the inbox, whose messages coordinators are there to read.
"""

from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Float,
    Integer,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from infra.database import as_utc
from models.allocation import URGENCY_RANK
from models.referral import Stage, Urgency
from models.tables import (
    CaseloadRow,
    InboundMessageRow,
    LiaisonActionRow,
    OutboxRow,
    OutcomeRow,
    ReferralRow,
    SessionRow,
    TimelineEventRow,
)
from models.waiting_list import ALLOCATION_WINDOW_WEEKS, estimate_wait_weeks
from services.reports import (
    STILL_WAITING_STAGES,
    OutcomeSummary,
    ReferrerReport,
    WaitStats,
    wait_stats,
)

WAITING = ReferralRow.stage == Stage.WAITING.value
_STILL_WAITING = [s.value for s in STILL_WAITING_STAGES]
DAY = timedelta(days=1)


# ------------------------------------------------------------------------ portable SQL bits


class days_between(FunctionElement[float]):
    """``later - earlier`` in days, as a float, on SQLite and PostgreSQL."""

    type = Float()
    inherit_cache = True
    name = "days_between"


@compiles(days_between)
def _days_between_postgresql(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0)"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"(julianday({later}) - julianday({earlier}))"


class week_number(FunctionElement[int]):
    """Whole weeks in a number of days (floor of days / 7), on SQLite and PostgreSQL."""

    type = Integer()
    inherit_cache = True
    name = "week_number"


@compiles(week_number)
def _week_number_postgresql(element: week_number, compiler: Any, **kw: Any) -> str:
    (days,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(floor(({days}) / 7.0) AS INTEGER)"


@compiles(week_number, "sqlite")
def _week_number_sqlite(element: week_number, compiler: Any, **kw: Any) -> str:
    # CAST truncates towards zero: floor for the waits that matter (a negative is clamped).
    (days,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(({days}) / 7.0 AS INTEGER)"


async def _run(session: AsyncSession, statement: Any) -> Any:
    """Run a Core statement on the session's connection: plain rows without the ORM's
    per-row work (several times cheaper when a scan returns thousands of rows)."""
    connection = await session.connection()
    return await connection.execute(statement)


def _at(value: datetime) -> ColumnElement[datetime]:
    return literal(as_utc(value), DateTime(timezone=True))


def scanned(column: Any) -> ColumnElement[Any]:
    """``column`` as an expression, so that SQLite reads the table straight through rather than
    visiting most of it through an index on ``column`` (random reads: several times slower
    when most rows match). PostgreSQL plans such scans well either way."""
    return column.concat("")


def week_starts(now: datetime, weeks: int, zone: Any) -> list[datetime]:
    """The starts (Monday 00:00 in ``zone``, in UTC) of the last ``weeks`` weeks, this one
    last, then the start of next week: ``weeks + 1`` boundaries."""
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    days = [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks + 1)]
    return [datetime.combine(d, time.min, tzinfo=zone).astimezone(UTC) for d in days]


# ------------------------------------------------------------------------------- overview


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
        await _run(session, select(ReferralRow.stage, func.count()).group_by(ReferralRow.stage))
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
            (column < _at(starts[middle]), count_le(low, middle)),
            else_=count_le(middle + 1, high),
        )

    return case(
        (column < _at(starts[0]), -1),  # most rows, in a long history: one comparison
        (or_(column.is_(None), column > _at(until)), None),
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
        for index, n, *more in await _run(session, query):
            found.add(index, n)
            totals = [t + int(m) for t, m in zip(totals, more, strict=True)]
        return found, totals

    # In a SELECT list (no WHERE), plain comparisons: no index is involved.
    stage = ReferralRow.stage
    waiting = stage == Stage.WAITING.value
    received, _ = await weekly(ReferralRow.received_at, ReferralRow.received_at >= _at(starts[0]))
    start = _at(starts[0])
    # One pass over the whole table for every flag and the acceptances before the weeks
    # shown (an aggregate, no grouping); the weeks themselves group only their own rows.
    flags = (
        await _run(
            session,
            select(
                _sum(and_(ReferralRow.breach.is_(True), stage.in_(_STILL_WAITING))),
                _sum(ReferralRow.breach.is_(True)),
                _sum(and_(waiting, ReferralRow.in_validation_queue.is_(True))),
                _sum(and_(waiting, ReferralRow.held.is_(True))),
                _sum(ReferralRow.accepted_at < start),
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
    returned, _ = await weekly(ReferralRow.waiting_since, _RETURNING)
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
    for week, is_first, n in await _run(session, grouped):
        allocations.add(week, n)
        if is_first:
            first_allocations.add(week, n)
    first_allocations.before = int(
        (
            await _run(
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
    inbox = (
        await _run(
            session,
            select(func.count(), _sum(InboundMessageRow.crisis.is_(True))).where(
                InboundMessageRow.in_inbox.is_(True)
            ),
        )
    ).one()
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
        inbox_open=int(inbox[0]),
        inbox_crisis=int(inbox[1]),
    )


def _sum(condition: Any) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# --------------------------------------------------------------------------- referrals list


@dataclass
class ReferralListRow:
    ref: str
    stage: str
    urgency: str
    referrer_organisation: str
    received_at: datetime
    practitioner_id: str | None
    breach: bool
    in_validation_queue: bool


async def referrals_page(
    session: AsyncSession, stage: str | None, offset: int, limit: int
) -> tuple[list[ReferralListRow], int]:
    """Referrals newest first (optionally of one stage), a page, and how many there are."""
    query = select(
        ReferralRow.ref,
        ReferralRow.stage,
        ReferralRow.urgency,
        ReferralRow.referrer_organisation,
        ReferralRow.received_at,
        ReferralRow.practitioner_id,
        ReferralRow.breach,
        ReferralRow.in_validation_queue,
    )
    count = select(func.count()).select_from(ReferralRow)
    if stage is not None:
        query = query.where(ReferralRow.stage == stage)
        count = count.where(ReferralRow.stage == stage)
    query = (
        query.order_by(ReferralRow.received_at.desc(), ReferralRow.ref.desc())
        .offset(offset)
        .limit(limit)
    )
    rows = (await _run(session, query)).all()
    total = int((await _run(session, count)).scalar_one())
    return [
        ReferralListRow(
            ref=r.ref,
            stage=r.stage,
            urgency=r.urgency,
            referrer_organisation=r.referrer_organisation,
            received_at=as_utc(r.received_at),
            practitioner_id=r.practitioner_id,
            breach=r.breach,
            in_validation_queue=r.in_validation_queue,
        )
        for r in rows
    ], total


async def referral_exists(session: AsyncSession, ref: str) -> bool:
    return (
        await _run(session, select(ReferralRow.ref).where(ReferralRow.ref == ref))
    ).scalar_one_or_none() is not None


# ----------------------------------------------------------------------------- waiting list


def returning_order(columns: Any = ReferralRow) -> tuple[Any, ...]:
    """``models.allocation.returning_order_key`` as SQL: returning clients in the order they
    asked to come back (waiting since — the allocator falls back on received — then ref)."""
    return (func.coalesce(columns.waiting_since, columns.received_at), columns.ref)


def new_order(columns: Any = ReferralRow) -> tuple[Any, ...]:
    """``models.allocation.allocation_order_key`` as SQL: urgency rank (``URGENCY_RANK``, kept
    in ``urgency_rank``), then the time the referral was received, then the reference — the
    order of ``ix_referrals_queue`` after (stage, held)."""
    return (columns.urgency_rank, columns.received_at, columns.ref)


@dataclass
class WaitingFilters:
    """The waiting list's filters; None means either."""

    breach: bool | None = None
    validation: bool | None = None
    held: bool | None = None
    returning: bool | None = None
    urgency: Urgency | None = None

    def conditions(self) -> list[Any]:
        """SQL conditions for the filters on flags (held and returning are structural)."""
        found = []
        if self.breach is not None:
            found.append(ReferralRow.breach.is_(self.breach))
        if self.validation is not None:
            found.append(ReferralRow.in_validation_queue.is_(self.validation))
        if self.urgency is not None:
            found.append(ReferralRow.urgency_rank == URGENCY_RANK[self.urgency])
        return found

    def matches(self, row: Any) -> bool:
        """The same filters, on a row already read."""
        return (
            (self.breach is None or bool(row.breach) == self.breach)
            and (self.validation is None or bool(row.in_validation_queue) == self.validation)
            and (self.held is None or bool(row.held) == self.held)
            and (self.urgency is None or row.urgency == self.urgency.value)
        )

    @property
    def active(self) -> bool:
        return any(
            v is not None
            for v in (self.breach, self.validation, self.held, self.returning, self.urgency)
        )


@dataclass
class WaitingRow:
    """One referral on the waiting list, at its place in allocation order."""

    position: int
    ref: str
    urgency: str
    referrer_organisation: str
    received_at: datetime
    waiting_since: datetime | None
    days_waited: int
    estimate_low: int | None
    estimate_high: int | None
    returning_to: str | None
    held: bool
    hold_reason: str | None
    breach: bool
    in_validation_queue: bool
    withdrawal_pending: bool


@dataclass
class EstimateInputs:
    """What the honest wait estimate needs (``models.waiting_list``): allocations in the
    trailing window, and how many new referrals of each urgency joined the list in it."""

    allocations: int
    joined_by_rank: dict[int, int] = field(default_factory=dict)

    def estimate(
        self, position: int, urgency: str, returning: bool
    ) -> tuple[int | None, int | None]:
        """The range of weeks the referral at ``position`` may still wait. More urgent
        referrals that joined recently will go ahead of a new one (none of a returning one)."""
        rank = URGENCY_RANK[Urgency(urgency)]
        overtaking = 0 if returning else sum(n for r, n in self.joined_by_rank.items() if r < rank)
        return estimate_wait_weeks(
            position, self.allocations, ALLOCATION_WINDOW_WEEKS, overtaking=overtaking
        )


async def estimate_inputs(session: AsyncSession, now: datetime) -> EstimateInputs:
    """Allocations and joins in the trailing ``ALLOCATION_WINDOW_WEEKS``."""
    since = now - timedelta(weeks=ALLOCATION_WINDOW_WEEKS)
    allocations = (
        await _run(
            session,
            select(func.count())
            .select_from(CaseloadRow)
            .where(CaseloadRow.started_at > since, CaseloadRow.started_at <= now),
        )
    ).scalar_one()
    joined = (
        await _run(
            session,
            select(ReferralRow.urgency_rank, func.count())
            .where(ReferralRow.accepted_at > since, ReferralRow.accepted_at <= now)
            .group_by(ReferralRow.urgency_rank),
        )
    ).all()
    return EstimateInputs(allocations=int(allocations), joined_by_rank=dict(joined))


_WAITING_COLUMNS = (
    ReferralRow.ref,
    ReferralRow.urgency,
    ReferralRow.urgency_rank,
    ReferralRow.referrer_organisation,
    ReferralRow.received_at,
    ReferralRow.waiting_since,
    ReferralRow.returning_to,
    ReferralRow.held,
    ReferralRow.hold_reason,
    ReferralRow.breach,
    ReferralRow.in_validation_queue,
    ReferralRow.withdrawal_pending,
)
_RETURNING = and_(WAITING, ReferralRow.returning_to.is_not(None))


def _held_values(filters: WaitingFilters) -> list[bool]:
    return [False, True] if filters.held is None else [filters.held]


def _new_in_order(filters: WaitingFilters, limit: int | None, *extra: Any) -> Any:
    """New (not returning) waiting referrals' keys in allocation order, as a subquery.

    One ordered, limited scan of ``ix_referrals_queue`` per value of ``held`` (a hold keeps a
    referral's place, so both are merged): the head of the list costs a few index entries,
    not a sort of the whole list. Unfiltered, the scans stay inside the index and returning
    clients are dropped afterwards (the caller allows for them in ``limit``); filtered, rows
    are read anyway, so returning clients are left out as the scan goes.
    """
    conditions = filters.conditions()
    if conditions:
        # An expression, not ``IS NULL``: SQLite would take ix_referrals_returning instead.
        conditions.append(func.coalesce(ReferralRow.returning_to, "") == "")
    parts = []
    for held in _held_values(filters):
        inner = (
            select(ReferralRow.ref, ReferralRow.urgency_rank, ReferralRow.received_at)
            .where(WAITING, ReferralRow.held == (true() if held else false()))
            .where(*conditions, *extra)
            .order_by(*new_order())
            .limit(limit)
            .subquery()
        )
        parts.append(select(inner.c.ref, inner.c.urgency_rank, inner.c.received_at))
    merged = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("candidates")
    query = select(merged.c.ref, merged.c.urgency_rank, merged.c.received_at)
    if not conditions:
        query = query.where(merged.c.ref.not_in(select(ReferralRow.ref).where(_RETURNING)))
    return query.order_by(*new_order(merged.c))


async def _rows_by_ref(session: AsyncSession, refs: list[str]) -> list[Any]:
    """Full waiting-list rows for ``refs``, in that order."""
    if not refs:
        return []
    found = {
        r.ref: r
        for r in (
            await _run(session, select(*_WAITING_COLUMNS).where(ReferralRow.ref.in_(refs)))
        ).all()
    }
    return [found[ref] for ref in refs if ref in found]


async def _new_positions(
    session: AsyncSession, filters: WaitingFilters, rows: list[Any], returning: list[Any]
) -> list[int]:
    """Where filtered new referrals stand on the whole list: count those ahead of the first
    (a ranged count on the index per value of held), then walk the keys between the first
    and the last (an index range) — never the whole list."""
    first = (rows[0].urgency_rank, as_utc(rows[0].received_at), rows[0].ref)
    last = (rows[-1].urgency_rank, as_utc(rows[-1].received_at), rows[-1].ref)
    key = tuple_(ReferralRow.urgency_rank, ReferralRow.received_at, ReferralRow.ref)
    ahead = 0
    for held in (False, True):
        ahead += int(
            (
                await _run(
                    session,
                    select(func.count())
                    .select_from(ReferralRow)
                    .where(WAITING, ReferralRow.held == (true() if held else false()))
                    .where(key < first),
                )
            ).scalar_one()
        )
    # Returning clients are in the index too, but stand at the front: not "ahead" here.
    ahead -= sum(1 for r in returning if (r.urgency_rank, as_utc(r.received_at), r.ref) < first)
    span = _new_in_order(WaitingFilters(), len(returning) + 10_000_000, key >= first, key <= last)
    order = [r.ref for r in (await _run(session, span)).all()]
    index = {ref: i for i, ref in enumerate(order)}
    start = len(returning) + ahead + 1
    return [start + index[r.ref] for r in rows]


async def waiting_page(
    session: AsyncSession,
    filters: WaitingFilters,
    offset: int,
    limit: int,
    now: datetime,
) -> tuple[list[WaitingRow], int, int]:
    """A page of the waiting list in allocation order; each row keeps its position on the
    whole list, whatever the filters. Returns (rows, how many match, how many wait)."""
    total = int(
        (
            await _run(session, select(func.count()).select_from(ReferralRow).where(WAITING))
        ).scalar_one()
    )
    # Returning clients stand first. They are few (each waits for their own practitioner).
    returning = (
        await _run(
            session, select(*_WAITING_COLUMNS).where(_RETURNING).order_by(*returning_order())
        )
    ).all()
    picked: list[tuple[int, Any]] = []
    returning_matching = (
        []
        if filters.returning is False
        else [(i, r) for i, r in enumerate(returning, start=1) if filters.matches(r)]
    )
    picked += returning_matching[offset : offset + limit]
    if filters.returning is True:
        new_matching = 0
    elif not filters.active:
        new_matching = total - len(returning)
    else:
        new_matching = int(
            (
                await _run(
                    session,
                    select(func.count())
                    .select_from(ReferralRow)
                    .where(scanned(ReferralRow.stage) == Stage.WAITING.value)
                    .where(ReferralRow.returning_to.is_(None), *filters.conditions())
                    .where(*([] if filters.held is None else [ReferralRow.held.is_(filters.held)])),
                )
            ).scalar_one()
        )
    wanted = limit - len(picked)
    new_offset = max(0, offset - len(returning_matching))
    if wanted > 0 and new_matching > 0:
        keys = (
            await _run(
                session,
                _new_in_order(
                    filters,
                    new_offset + wanted + (0 if filters.conditions() else len(returning)),
                )
                .offset(new_offset)
                .limit(wanted),
            )
        ).all()
        rows = await _rows_by_ref(session, [k.ref for k in keys])
        if rows:
            if filters.active:
                positions = await _new_positions(session, filters, rows, list(returning))
            else:
                positions = [len(returning) + new_offset + i + 1 for i in range(len(rows))]
            picked += list(zip(positions, rows, strict=True))
    inputs = await estimate_inputs(session, now)
    items = []
    for position, r in picked:
        received = as_utc(r.received_at)
        low, high = inputs.estimate(position, r.urgency, r.returning_to is not None)
        items.append(
            WaitingRow(
                position=position,
                ref=r.ref,
                urgency=r.urgency,
                referrer_organisation=r.referrer_organisation,
                received_at=received,
                waiting_since=None if r.waiting_since is None else as_utc(r.waiting_since),
                days_waited=max(0, (now - received).days),
                estimate_low=low,
                estimate_high=high,
                returning_to=r.returning_to,
                held=r.held,
                hold_reason=r.hold_reason,
                breach=r.breach,
                in_validation_queue=r.in_validation_queue,
                withdrawal_pending=r.withdrawal_pending,
            )
        )
    return items, len(returning_matching) + new_matching, total


# -------------------------------------------------------------------------------- caseloads


@dataclass
class CaseloadLine:
    """A practitioner's caseload as the Caseloads page shows it."""

    id: str
    name: str
    capacity: int
    active: bool
    caseload: int
    returning_waiting: int

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.caseload) if self.active else 0


async def returning_waiting(session: AsyncSession) -> dict[str, int]:
    """Returning clients waiting, by the practitioner they wait for (``ix_referrals_returning``)."""
    rows = (
        await _run(
            session,
            select(ReferralRow.returning_to, func.count())
            .where(_RETURNING)
            .group_by(ReferralRow.returning_to),
        )
    ).all()
    return {p: int(n) for p, n in rows}


# ------------------------------------------------------------------------------------ inbox


@dataclass
class InboxLine:
    id: str
    channel: str
    received_at: datetime
    body: str
    ref: str | None
    status: str
    intent: str | None
    crisis: bool
    resolved_at: datetime | None
    resolution_note: str | None


def _inbox_line(row: InboundMessageRow) -> InboxLine:
    return InboxLine(
        id=row.id,
        channel=row.channel,
        received_at=as_utc(row.received_at),
        body=row.body,
        ref=row.ref,
        status=row.status,
        intent=row.intent,
        crisis=row.crisis,
        resolved_at=None if row.resolved_at is None else as_utc(row.resolved_at),
        resolution_note=row.resolution_note,
    )


async def inbox_page(
    session: AsyncSession, offset: int, limit: int
) -> tuple[list[InboxLine], int, int]:
    """Open inbox messages, crisis first then oldest first (``readmodel.inbox``'s order):
    a page, how many are open, how many of those are crisis."""
    rows = (
        (
            await session.execute(
                select(InboundMessageRow)
                .where(InboundMessageRow.in_inbox.is_(True))
                .order_by(
                    InboundMessageRow.crisis.desc(),
                    InboundMessageRow.received_at,
                    InboundMessageRow.id,
                )
                .offset(offset)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    counts = (
        await _run(
            session,
            select(func.count(), _sum(InboundMessageRow.crisis.is_(True))).where(
                InboundMessageRow.in_inbox.is_(True)
            ),
        )
    ).one()
    return [_inbox_line(r) for r in rows], int(counts[0]), int(counts[1])


async def recently_resolved(session: AsyncSession, limit: int = 10) -> list[InboxLine]:
    """The last messages coordinators resolved, newest first."""
    rows = (
        (
            await session.execute(
                select(InboundMessageRow)
                .where(InboundMessageRow.resolved_at.is_not(None))
                .order_by(InboundMessageRow.resolved_at.desc(), InboundMessageRow.id)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    return [_inbox_line(r) for r in rows]


# ---------------------------------------------------------------------------------- referral


@dataclass
class Letter:
    """A letter or alert sent for a referral: what and to whom (a role), never the body."""

    kind: str
    recipient_role: str
    channel: str
    subject: str
    status: str
    created_at: datetime
    sent_at: datetime | None


@dataclass
class SessionLine:
    episode: int
    session_id: str
    at: datetime
    outcome: str


@dataclass
class LiaisonLine:
    episode: int
    session_id: str
    kind: str
    at: datetime


async def letters(session: AsyncSession, ref: str) -> list[Letter]:
    """The outbox rows of a referral, oldest first (``ix_outbox_ref``)."""
    rows = (
        await _run(
            session,
            select(
                OutboxRow.kind,
                OutboxRow.recipient_role,
                OutboxRow.channel,
                OutboxRow.subject,
                OutboxRow.status,
                OutboxRow.created_at,
                OutboxRow.sent_at,
            )
            .where(OutboxRow.ref == ref)
            .order_by(OutboxRow.created_at, OutboxRow.key),
        )
    ).all()
    return [
        Letter(
            kind=r.kind,
            recipient_role=r.recipient_role,
            channel=r.channel,
            subject=r.subject,
            status=r.status,
            created_at=as_utc(r.created_at),
            sent_at=None if r.sent_at is None else as_utc(r.sent_at),
        )
        for r in rows
    ]


async def sessions(session: AsyncSession, ref: str) -> list[SessionLine]:
    """Recorded sessions of every episode (where they happened is not shown: free text)."""
    rows = (
        await _run(
            session,
            select(SessionRow.episode, SessionRow.session_id, SessionRow.at, SessionRow.outcome)
            .where(SessionRow.ref == ref)
            .order_by(SessionRow.episode, SessionRow.at),
        )
    ).all()
    return [
        SessionLine(episode=r.episode, session_id=r.session_id, at=as_utc(r.at), outcome=r.outcome)
        for r in rows
    ]


async def liaison(session: AsyncSession, ref: str) -> list[LiaisonLine]:
    rows = (
        await _run(
            session,
            select(
                LiaisonActionRow.episode,
                LiaisonActionRow.session_id,
                LiaisonActionRow.kind,
                LiaisonActionRow.at,
            )
            .where(LiaisonActionRow.ref == ref)
            .order_by(LiaisonActionRow.episode, LiaisonActionRow.at, LiaisonActionRow.kind),
        )
    ).all()
    return [
        LiaisonLine(episode=r.episode, session_id=r.session_id, kind=r.kind, at=as_utc(r.at))
        for r in rows
    ]


# ----------------------------------------------------------------------------------- reports


@dataclass
class WaitGroup:
    """Waits of one group (seen, or still waiting): the figures and a weekly histogram."""

    stats: WaitStats
    weeks: list[int]  # how many waited 0-1, 1-2, ... weeks; the last bin is open-ended


@dataclass
class Waits:
    """Waits from referral to first session: those seen, and those still waiting so far."""

    seen: WaitGroup
    still_waiting: WaitGroup


HISTOGRAM_WEEKS = 16


async def waits(session: AsyncSession, now: datetime, standard_days: float) -> Waits:
    """Waits as ``services.reports.waiting_times`` counts them (the same ``WaitStats``, by
    ``wait_stats`` or its SQL equivalent) and weekly histograms, for those seen and those still
    waiting. PostgreSQL works them out itself — a grouped pass for the histogram and the
    counts, ``percentile_cont`` for the median and 90th percentile — since reading every wait
    over the network would take longer than the page may. SQLite is in-process: the waits are
    read straight off the driver (SQLAlchemy's per-row work would double the page's time)."""
    if session.bind.dialect.name == "postgresql":
        return await _waits_postgresql(session, now, standard_days)
    values = await _waits_sqlite(session, now)
    edges = [7.0 * week for week in range(1, HISTOGRAM_WEEKS)]
    found = {}
    for key, days in values.items():
        days.sort()
        below = [0, *(bisect.bisect_left(days, edge) for edge in edges), len(days)]
        found[key] = WaitGroup(
            stats=wait_stats(days, standard_days),
            weeks=[below[i + 1] - below[i] for i in range(HISTOGRAM_WEEKS)],
        )
    return Waits(seen=found[True], still_waiting=found[False])


async def _waits_sqlite(session: AsyncSession, now: datetime) -> dict[bool, list[float]]:
    """Every wait in days (never negative), those seen and those still waiting."""
    connection = await session.connection()
    dialect = connection.dialect
    stored = ReferralRow.received_at.type.dialect_impl(dialect).bind_processor(dialect)
    now_value = stored(as_utc(now)) if stored is not None else as_utc(now)
    table = ReferralRow.__tablename__
    stages = ", ".join("?" for _ in _STILL_WAITING)
    statements: dict[bool, tuple[str, tuple[Any, ...]]] = {
        True: (
            f"SELECT julianday(first_session_at) - julianday(received_at) FROM {table} "
            "WHERE first_session_at IS NOT NULL",
            (),
        ),
        False: (
            f"SELECT julianday(?) - julianday(received_at) FROM {table} "
            f"WHERE first_session_at IS NULL AND stage || '' IN ({stages})",
            (now_value, *_STILL_WAITING),
        ),
    }
    driver = (await connection.get_raw_connection()).driver_connection
    values: dict[bool, list[float]] = {}
    for key, (sql, parameters) in statements.items():
        async with driver.execute(sql, parameters) as cursor:
            values[key] = [d if d > 0 else 0.0 for (d,) in await cursor.fetchall()]
    return values


async def _waits_postgresql(session: AsyncSession, now: datetime, standard_days: float) -> Waits:
    seen = ReferralRow.first_session_at.is_not(None)
    waiting = and_(ReferralRow.first_session_at.is_(None), ReferralRow.stage.in_(_STILL_WAITING))
    groups = {
        True: (days_between(ReferralRow.first_session_at, ReferralRow.received_at), seen),
        False: (days_between(_at(now), ReferralRow.received_at), waiting),
    }
    found: dict[bool, WaitGroup] = {}
    for key, (raw, condition) in groups.items():
        days = case((raw < 0, 0.0), else_=raw)  # as the service's report: never negative
        week = week_number(days).label("week")
        histogram = [0] * HISTOGRAM_WEEKS
        over = 0
        grouped = (
            select(week, func.count(), _sum(days > standard_days))
            .where(condition)
            .group_by(literal_column("week"))
        )
        for index, n, beyond in await _run(session, grouped):
            histogram[min(max(int(index), 0), HISTOGRAM_WEEKS - 1)] += int(n)
            over += int(beyond)
        median, p90 = (
            await _run(
                session,
                select(
                    func.percentile_cont(0.5).within_group(days),
                    func.percentile_cont(0.9).within_group(days),
                ).where(condition),
            )
        ).one()
        stats = WaitStats(
            count=sum(histogram),
            median_days=None if median is None else round(median, 1),
            p90_days=None if p90 is None else round(p90, 1),
            over_standard=over,
        )
        found[key] = WaitGroup(stats=stats, weeks=histogram)
    return Waits(seen=found[True], still_waiting=found[False])


async def referrers(session: AsyncSession) -> list[ReferrerReport]:
    """``services.reports.referrers``, in two grouped scans: what each organisation referred
    and what became of it, with decline reasons (a declined referral is closed)."""
    organisation = scanned(ReferralRow.referrer_organisation).label("organisation")
    counts = (
        await _run(
            session,
            select(
                organisation,
                func.count(),
                _sum(ReferralRow.stage.in_([Stage.TRIAGE.value, Stage.INFO_REQUESTED.value])),
                _sum(ReferralRow.accepted_at.is_not(None)),
                _sum(ReferralRow.decline_reason.is_not(None)),
            ).group_by(organisation),
        )
    ).all()
    reasons = (
        await _run(
            session,
            select(ReferralRow.referrer_organisation, ReferralRow.decline_reason, func.count())
            .where(ReferralRow.stage == Stage.CLOSED.value, ReferralRow.decline_reason.is_not(None))
            .group_by(ReferralRow.referrer_organisation, ReferralRow.decline_reason),
        )
    ).all()
    reasons_of: dict[str, dict[str, int]] = {}
    for name, reason, n in reasons:
        reasons_of.setdefault(name, {})[reason] = int(n)
    report = []
    for name, received, in_triage, accepted, declined in sorted(counts, key=lambda r: r[0]):
        decided = int(accepted) + int(declined)
        report.append(
            ReferrerReport(
                organisation=name,
                received=int(received),
                in_triage=int(in_triage),
                accepted=int(accepted),
                declined=int(declined),
                acceptance_rate=round(int(accepted) / decided, 3) if decided else None,
                decline_reasons=dict(sorted(reasons_of.get(name, {}).items())),
            )
        )
    return report


@dataclass
class ServiceOutcomes:
    """Anonymised outcomes for the whole service, and the mean change by month."""

    overall: OutcomeSummary
    by_month: list[tuple[str, float | None, int]]  # (YYYY-MM, mean change, measured pairs)


async def outcomes(session: AsyncSession) -> ServiceOutcomes:
    """``services.reports.outcomes``' overall summary (and the mean change by month) from
    grouped aggregates instead of one object per episode. Never per practitioner: the
    ``outcomes`` table holds neither practitioner nor referral."""
    o = OutcomeRow
    paired = and_(o.baseline_total.is_not(None), o.end_total.is_not(None))
    by_period = (
        await _run(
            session,
            select(
                o.period,
                func.count(),
                func.coalesce(func.sum(o.sessions_attended), 0),
                _sum(paired),
                func.coalesce(func.sum(case((paired, o.end_total - o.baseline_total))), 0),
                _sum(o.recovered.is_(True)),
                _sum(o.reliably_recovered.is_(True)),
                _sum(func.coalesce(o.baseline_skipped_reason, "") != ""),
                _sum(func.coalesce(o.end_skipped_reason, "") != ""),
            )
            .group_by(o.period)
            .order_by(o.period),
        )
    ).all()
    changes = (
        await _run(
            session, select(o.change, func.count()).where(o.change.is_not(None)).group_by(o.change)
        )
    ).all()
    reasons = (
        await _run(session, select(o.discharge_reason, func.count()).group_by(o.discharge_reason))
    ).all()
    liaison = await _liaison_kinds(session)
    episodes = sum(int(r[1]) for r in by_period)
    sessions_attended = sum(int(r[2]) for r in by_period)
    pairs = sum(int(r[3]) for r in by_period)
    delta = sum(int(r[4]) for r in by_period)
    overall = OutcomeSummary(
        period="all",
        episodes=episodes,
        mean_sessions_attended=round(sessions_attended / episodes, 2) if episodes else None,
        measured_pairs=pairs,
        mean_change=round(delta / pairs, 2) if pairs else None,
        change=dict(sorted((k, int(n)) for k, n in changes if k)),
        recovered=sum(int(r[5]) for r in by_period),
        reliably_recovered=sum(int(r[6]) for r in by_period),
        baseline_skipped=sum(int(r[7]) for r in by_period),
        end_skipped=sum(int(r[8]) for r in by_period),
        discharge_reasons=dict(sorted((k, int(n)) for k, n in reasons)),
        liaison=liaison,
    )
    by_month = [
        (r[0], round(int(r[4]) / int(r[3]), 2) if int(r[3]) else None, int(r[3])) for r in by_period
    ]
    return ServiceOutcomes(overall=overall, by_month=by_month)


async def _liaison_kinds(session: AsyncSession) -> dict[str, int]:
    """Episodes in which each kind of liaison happened (each outcome's ``liaison`` is a JSON
    list of distinct kinds), counted by the database's own JSON functions."""
    table = OutcomeRow.__tablename__
    if session.bind.dialect.name == "postgresql":
        sql = (
            f"SELECT kind.value, count(*) FROM {table}, "
            f"json_array_elements_text({table}.liaison) AS kind(value) GROUP BY kind.value"
        )
    else:
        sql = (
            f"SELECT kind.value, count(*) FROM {table}, json_each({table}.liaison) AS kind "
            "GROUP BY kind.value"
        )
    return dict(sorted((str(k), int(n)) for k, n in await _run(session, text(sql))))


@dataclass
class Reentry:
    """Open re-entry: how many discharged clients came back, and after how long."""

    discharged: int
    returned: int
    days_to_return: list[float]

    @property
    def rate(self) -> float | None:
        return self.returned / self.discharged if self.discharged else None

    @property
    def median_days(self) -> float | None:
        return round(statistics.median(self.days_to_return), 1) if self.days_to_return else None


async def reentry(session: AsyncSession) -> Reentry:
    """Re-entry rate (clients discharged at least once who came back) and the time from each
    discharge to the client's message that brought them back: for the referrals that
    returned, the first ``reactivated_waiting`` or ``allocated`` event after a ``discharged``
    one (nothing else follows a discharge with those). Worked out in SQL: one float back per
    return."""
    returned_condition = or_(ReferralRow.episode_number >= 2, _RETURNING)
    counts = (
        await _run(
            session,
            select(_sum(ReferralRow.discharged_at.is_not(None)), _sum(returned_condition)),
        )
    ).one()
    discharge = aliased(TimelineEventRow)
    after = aliased(TimelineEventRow)
    back = (
        select(func.min(after.at))
        .where(
            after.ref == discharge.ref,
            after.seq > discharge.seq,
            after.kind.in_(["reactivated_waiting", "allocated"]),
        )
        .scalar_subquery()
    )
    pairs = (
        select(discharge.at.label("left_at"), back.label("back_at"))
        .where(
            discharge.ref.in_(select(ReferralRow.ref).where(returned_condition)),
            discharge.kind == "discharged",
        )
        .subquery()
    )
    days = (
        await _run(
            session,
            select(days_between(pairs.c.back_at, pairs.c.left_at)).where(
                pairs.c.back_at.is_not(None)
            ),
        )
    ).scalars()
    return Reentry(
        discharged=int(counts[0]),
        returned=int(counts[1]),
        days_to_return=[max(0.0, float(d)) for d in days],
    )
