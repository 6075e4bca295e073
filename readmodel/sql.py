"""Portable SQL pieces the read-model queries share (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Float, Integer, and_, case, func, literal
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from infra.database import as_utc
from models.referral import Stage
from models.reports import STILL_WAITING_STAGES
from models.tables import ReferralRow

WAITING = ReferralRow.stage == Stage.WAITING.value
DAY = timedelta(days=1)
# Stages in which the wait (referral -> first session) is still running.
STILL_WAITING = [stage.value for stage in STILL_WAITING_STAGES]
# A breach still open: flagged, and the wait (referral -> first session) still running.
OPEN_BREACH = and_(ReferralRow.breach.is_(True), ReferralRow.stage.in_(STILL_WAITING))


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


async def run(session: AsyncSession, statement: Any) -> Any:
    """Run a Core statement on the session's connection: plain rows without the ORM's
    per-row work (several times cheaper when a scan returns thousands of rows)."""
    connection = await session.connection()
    return await connection.execute(statement)


def at(value: datetime) -> ColumnElement[datetime]:
    return literal(as_utc(value), DateTime(timezone=True))


def scanned(column: Any) -> ColumnElement[Any]:
    """``column`` as an expression, so that SQLite reads the table straight through rather than
    visiting most of it through an index on ``column`` (random reads: several times slower
    when most rows match). PostgreSQL plans such scans well either way."""
    return column.concat("")


def sum_where(condition: Any) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def week_starts(now: datetime, weeks: int, zone: Any) -> list[datetime]:
    """The starts (Monday 00:00 in ``zone``, in UTC) of the last ``weeks`` weeks, this one
    last, then the start of next week: ``weeks + 1`` boundaries."""
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    days = [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks + 1)]
    return [datetime.combine(d, time.min, tzinfo=zone).astimezone(UTC) for d in days]
