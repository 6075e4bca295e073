"""Service reports from the read model, in SQL aggregates: waits, referrers, outcomes, re-entry."""

from __future__ import annotations

import bisect
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from infra.database import as_utc
from models.referral import Stage
from models.reports import (
    OutcomesReport,
    OutcomeSummary,
    ReferrerReport,
    WaitingTimesReport,
    WaitStats,
    wait_stats,
)
from models.tables import (
    OutcomeRow,
    ReferralRow,
    TimelineEventRow,
)
from readmodel.sql import (
    DAY,
    STILL_WAITING,
    at,
    days_between,
    run,
    scanned,
    sum_where,
    week_number,
)
from readmodel.waiting_list import RETURNING_WAITING


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


def _received_between(
    received_from: date | None, received_to: date | None
) -> list[ColumnElement[bool]]:
    """Referrals received in ``[received_from, received_to]``, whole days in UTC."""
    found: list[ColumnElement[bool]] = []
    if received_from is not None:
        found.append(ReferralRow.received_at >= _day_start(received_from))
    if received_to is not None:
        found.append(ReferralRow.received_at < _day_start(received_to + DAY))
    return found


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def waits(
    session: AsyncSession,
    now: datetime,
    standard_days: float,
    *,
    received_from: date | None = None,
    received_to: date | None = None,
) -> Waits:
    """Waits from referral to first session (never negative), for those seen and those still
    waiting, of referrals received in the range: ``WaitStats`` (``models.reports.wait_stats``
    or its SQL equivalent) and weekly histograms. PostgreSQL works them out itself — a
    grouped pass for the histogram and the counts, ``percentile_cont`` for the median and 90th
    percentile — since reading every wait over the network would take longer than the page
    may. SQLite is in-process: the waits are read straight off the driver (SQLAlchemy's
    per-row work would double the page's time)."""
    within = _received_between(received_from, received_to)
    if session.bind.dialect.name == "postgresql":
        return await _waits_postgresql(session, now, standard_days, within)
    values = await _waits_sqlite(session, now, received_from, received_to)
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


async def _waits_sqlite(
    session: AsyncSession,
    now: datetime,
    received_from: date | None,
    received_to: date | None,
) -> dict[bool, list[float]]:
    """Every wait in days (never negative), those seen and those still waiting."""
    connection = await session.connection()
    dialect = connection.dialect
    stored = ReferralRow.received_at.type.dialect_impl(dialect).bind_processor(dialect)

    def value(moment: datetime) -> Any:
        return stored(as_utc(moment)) if stored is not None else as_utc(moment)

    table = ReferralRow.__tablename__
    within, bounds = "", []
    if received_from is not None:
        within += " AND received_at >= ?"
        bounds.append(value(_day_start(received_from)))
    if received_to is not None:
        within += " AND received_at < ?"
        bounds.append(value(_day_start(received_to + DAY)))
    stages = ", ".join("?" for _ in STILL_WAITING)
    statements: dict[bool, tuple[str, tuple[Any, ...]]] = {
        True: (
            f"SELECT julianday(first_session_at) - julianday(received_at) FROM {table} "
            f"WHERE first_session_at IS NOT NULL{within}",
            (*bounds,),
        ),
        False: (
            f"SELECT julianday(?) - julianday(received_at) FROM {table} "
            f"WHERE first_session_at IS NULL AND stage || '' IN ({stages}){within}",
            (value(now), *STILL_WAITING, *bounds),
        ),
    }
    # Straight off the driver: thousands of floats, no row objects.
    driver = (await connection.get_raw_connection()).driver_connection
    values: dict[bool, list[float]] = {}
    for key, (sql, parameters) in statements.items():
        async with driver.execute(sql, parameters) as cursor:
            values[key] = [d if d > 0 else 0.0 for (d,) in await cursor.fetchall()]
    return values


async def _waits_postgresql(
    session: AsyncSession, now: datetime, standard_days: float, within: list[ColumnElement[bool]]
) -> Waits:
    seen = and_(ReferralRow.first_session_at.is_not(None), *within)
    waiting = and_(
        ReferralRow.first_session_at.is_(None), ReferralRow.stage.in_(STILL_WAITING), *within
    )
    groups = {
        True: (days_between(ReferralRow.first_session_at, ReferralRow.received_at), seen),
        False: (days_between(at(now), ReferralRow.received_at), waiting),
    }
    found: dict[bool, WaitGroup] = {}
    for key, (raw, condition) in groups.items():
        days = case((raw < 0, 0.0), else_=raw)  # as the service's report: never negative
        week = week_number(days).label("week")
        histogram = [0] * HISTOGRAM_WEEKS
        over = 0
        grouped = (
            select(week, func.count(), sum_where(days > standard_days))
            .where(condition)
            .group_by(literal_column("week"))
        )
        for index, n, beyond in await run(session, grouped):
            histogram[min(max(int(index), 0), HISTOGRAM_WEEKS - 1)] += int(n)
            over += int(beyond)
        median, p90 = (
            await run(
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


async def waiting_times(
    session: AsyncSession,
    standard: timedelta,
    now: datetime,
    *,
    received_from: date | None = None,
    received_to: date | None = None,
) -> WaitingTimesReport:
    """Waits of referrals received in ``[received_from, received_to]`` (whole days, UTC)
    against the waiting standard, and how many were flagged as breaching it."""
    standard_days = standard / DAY
    found = await waits(
        session, now, standard_days, received_from=received_from, received_to=received_to
    )
    flagged = (
        await run(
            session,
            select(sum_where(ReferralRow.breach.is_(True))).where(
                *_received_between(received_from, received_to)
            ),
        )
    ).scalar_one()
    return WaitingTimesReport(
        standard_days=round(standard_days),
        seen=found.seen.stats,
        still_waiting=found.still_waiting.stats,
        breaches_flagged=int(flagged),
    )


async def referrers(session: AsyncSession) -> list[ReferrerReport]:
    """Per referrer organisation, in two grouped scans: received, in triage, accepted,
    declined, and why (the reasons add up to the declined)."""
    organisation = scanned(ReferralRow.referrer_organisation).label("organisation")
    counts = (
        await run(
            session,
            select(
                organisation,
                func.count(),
                sum_where(ReferralRow.stage.in_([Stage.TRIAGE.value, Stage.INFO_REQUESTED.value])),
                sum_where(ReferralRow.accepted_at.is_not(None)),
                sum_where(ReferralRow.decline_reason.is_not(None)),
            ).group_by(organisation),
        )
    ).all()
    reasons = (
        await run(
            session,
            select(ReferralRow.referrer_organisation, ReferralRow.decline_reason, func.count())
            .where(ReferralRow.decline_reason.is_not(None))
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


async def outcomes(session: AsyncSession) -> OutcomesReport:
    """Anonymised outcomes by month of discharge and over all time, from grouped aggregates
    (never one object per episode). Never per practitioner: the ``outcomes`` table holds
    neither practitioner nor referral."""
    o = OutcomeRow
    paired = and_(o.baseline_total.is_not(None), o.end_total.is_not(None))
    by_period = (
        await run(
            session,
            select(
                o.period,
                func.count(),
                func.coalesce(func.sum(o.sessions_attended), 0),
                sum_where(paired),
                func.coalesce(func.sum(case((paired, o.end_total - o.baseline_total))), 0),
                sum_where(o.recovered.is_(True)),
                sum_where(o.reliably_recovered.is_(True)),
                sum_where(func.coalesce(o.baseline_skipped_reason, "") != ""),
                sum_where(func.coalesce(o.end_skipped_reason, "") != ""),
            )
            .group_by(o.period)
            .order_by(o.period),
        )
    ).all()
    changes = await _counted(
        session, select(o.period, o.change, func.count()).where(o.change.is_not(None))
    )
    reasons = await _counted(session, select(o.period, o.discharge_reason, func.count()))
    liaison = await _liaison_kinds(session)
    periods = [
        _summary(
            period=row[0],
            figures=[int(v) for v in row[1:]],
            change=changes.get(row[0], {}),
            reasons=reasons.get(row[0], {}),
            liaison=liaison.get(row[0], {}),
        )
        for row in by_period
    ]
    overall = _summary(
        period="all",
        figures=[sum(int(row[i]) for row in by_period) for i in range(1, 9)],
        change=_added(changes.values()),
        reasons=_added(reasons.values()),
        liaison=_added(liaison.values()),
    )
    return OutcomesReport(periods=periods, overall=overall)


def _summary(
    *,
    period: str,
    figures: list[int],
    change: dict[str, int],
    reasons: dict[str, int],
    liaison: dict[str, int],
) -> OutcomeSummary:
    episodes, sessions_attended, pairs, delta, recovered, reliably, base_skip, end_skip = figures
    return OutcomeSummary(
        period=period,
        episodes=episodes,
        mean_sessions_attended=round(sessions_attended / episodes, 2) if episodes else None,
        measured_pairs=pairs,
        mean_change=round(delta / pairs, 2) if pairs else None,
        change=dict(sorted(change.items())),
        recovered=recovered,
        reliably_recovered=reliably,
        baseline_skipped=base_skip,
        end_skipped=end_skip,
        discharge_reasons=dict(sorted(reasons.items())),
        liaison=dict(sorted(liaison.items())),
    )


def _added(groups: Iterable[dict[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for group in groups:
        total.update(group)
    return dict(total)


async def _counted(session: AsyncSession, statement: Any) -> dict[str, dict[str, int]]:
    """(period, code, count) rows grouped by period and code, as {period: {code: count}}."""
    columns = list(statement.selected_columns)
    found: dict[str, dict[str, int]] = {}
    for period, code, n in await run(session, statement.group_by(*columns[:2])):
        found.setdefault(period, {})[str(code)] = int(n)
    return found


async def _liaison_kinds(session: AsyncSession) -> dict[str, dict[str, int]]:
    """Episodes in which each kind of liaison happened, by period (each outcome's
    ``liaison`` is a JSON list of distinct kinds), counted by the database's own JSON
    functions."""
    table = OutcomeRow.__tablename__
    if session.bind.dialect.name == "postgresql":
        sql = (
            f"SELECT {table}.period, kind.value, count(*) FROM {table}, "
            f"json_array_elements_text({table}.liaison) AS kind(value) "
            f"GROUP BY {table}.period, kind.value"
        )
    else:
        sql = (
            f"SELECT {table}.period, kind.value, count(*) FROM {table}, "
            f"json_each({table}.liaison) AS kind GROUP BY {table}.period, kind.value"
        )
    found: dict[str, dict[str, int]] = {}
    for period, kind, n in await run(session, text(sql)):
        found.setdefault(period, {})[str(kind)] = int(n)
    return found


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
    returned_condition = or_(ReferralRow.episode_number >= 2, RETURNING_WAITING)
    counts = (
        await run(
            session,
            select(
                sum_where(ReferralRow.discharged_at.is_not(None)), sum_where(returned_condition)
            ),
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
        await run(
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
