"""Service-level reports from the read model: waiting times, referrers, anonymised outcomes.

Pure reads: no Temporal, no personal data. Outcomes come from the anonymised ``outcomes``
table, which holds no referral and no practitioner: they are reported for the service as a
whole, by month, never per person or per practitioner.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import date, datetime, time, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.database import as_utc
from models.referral import Stage
from models.tables import OutcomeRow, ReferralRow

SessionFactory = async_sessionmaker[AsyncSession]

# Stages in which the wait (referral -> first session) is still running.
STILL_WAITING_STAGES = (Stage.TRIAGE, Stage.INFO_REQUESTED, Stage.WAITING, Stage.ALLOCATED)


class WaitStats(BaseModel):
    """Waits in days: how many, the median, the 90th percentile, how many over the standard."""

    count: int
    median_days: float | None
    p90_days: float | None
    over_standard: int


class WaitingTimesReport(BaseModel):
    """Waits from referral to first session, against the service's waiting standard."""

    standard_days: int = Field(description="the waiting standard (default 4 weeks)")
    seen: WaitStats = Field(description="referrals whose first session has happened")
    still_waiting: WaitStats = Field(description="referrals not yet seen: the wait so far")
    breaches_flagged: int = Field(description="referrals flagged as breaching the standard")


class ReferrerReport(BaseModel):
    """One referrer organisation: what it sent and what became of it."""

    organisation: str
    received: int
    in_triage: int
    accepted: int
    declined: int
    acceptance_rate: float | None = Field(description="accepted / (accepted + declined)")
    decline_reasons: dict[str, int]


class OutcomeSummary(BaseModel):
    """Anonymised outcomes of the episodes that ended in a period (``all`` for every one)."""

    period: str = Field(description="YYYY-MM of discharge, or 'all'")
    episodes: int
    mean_sessions_attended: float | None
    measured_pairs: int = Field(description="episodes with both a baseline and an end ReQoL-10")
    mean_change: float | None = Field(description="mean (end - baseline) ReQoL-10 total")
    change: dict[str, int] = Field(description="reliable improvement / no change / deterioration")
    recovered: int
    reliably_recovered: int
    baseline_skipped: int
    end_skipped: int
    discharge_reasons: dict[str, int]
    liaison: dict[str, int] = Field(description="episodes in which each kind of liaison happened")


class OutcomesReport(BaseModel):
    """Outcomes by month of discharge, and over all time. Never per practitioner."""

    periods: list[OutcomeSummary]
    overall: OutcomeSummary


def _day_start(day: date) -> datetime:
    return as_utc(datetime.combine(day, time.min))


def wait_stats(days: list[float], standard_days: float) -> WaitStats:
    """Count, median, 90th percentile (linear interpolation) and waits over the standard."""
    if not days:
        return WaitStats(count=0, median_days=None, p90_days=None, over_standard=0)
    ordered = sorted(days)
    p90 = (
        ordered[0]
        if len(ordered) == 1
        else statistics.quantiles(ordered, n=10, method="inclusive")[8]
    )
    return WaitStats(
        count=len(ordered),
        median_days=round(statistics.median(ordered), 1),
        p90_days=round(p90, 1),
        over_standard=sum(1 for d in ordered if d > standard_days),
    )


async def waiting_times(
    session_factory: SessionFactory,
    standard: timedelta,
    now: datetime,
    *,
    received_from: date | None = None,
    received_to: date | None = None,
) -> WaitingTimesReport:
    """Waits of referrals received in ``[received_from, received_to]`` (whole days, UTC)."""
    query = select(
        ReferralRow.received_at, ReferralRow.first_session_at, ReferralRow.stage, ReferralRow.breach
    )
    if received_from is not None:
        query = query.where(ReferralRow.received_at >= _day_start(received_from))
    if received_to is not None:
        query = query.where(ReferralRow.received_at < _day_start(received_to + timedelta(days=1)))
    async with session_factory() as session:
        rows = (await session.execute(query)).all()
    day = 86400.0
    seen: list[float] = []
    waiting: list[float] = []
    breaches = 0
    for received_at, first_session_at, stage, breach in rows:
        breaches += bool(breach)
        received = as_utc(received_at)
        if first_session_at is not None:
            seen.append(max(0.0, (as_utc(first_session_at) - received).total_seconds() / day))
        elif stage in STILL_WAITING_STAGES:
            waiting.append(max(0.0, (now - received).total_seconds() / day))
    standard_days = standard.total_seconds() / day
    return WaitingTimesReport(
        standard_days=round(standard_days),
        seen=wait_stats(seen, standard_days),
        still_waiting=wait_stats(waiting, standard_days),
        breaches_flagged=breaches,
    )


async def referrers(session_factory: SessionFactory) -> list[ReferrerReport]:
    """Per referrer organisation: received, in triage, accepted, declined and why."""
    org = ReferralRow.referrer_organisation
    declined = ReferralRow.decline_reason.is_not(None)
    counts = (
        select(
            org,
            func.count(),
            func.sum(
                case(
                    (ReferralRow.stage.in_([Stage.TRIAGE.value, Stage.INFO_REQUESTED.value]), 1),
                    else_=0,
                )
            ),
            func.sum(case((ReferralRow.accepted_at.is_not(None), 1), else_=0)),
            func.sum(case((declined, 1), else_=0)),
        )
        .group_by(org)
        .order_by(org)
    )
    reasons = (
        select(org, ReferralRow.decline_reason, func.count())
        .where(declined)
        .group_by(org, ReferralRow.decline_reason)
    )
    async with session_factory() as session:
        rows = (await session.execute(counts)).all()
        by_reason = (await session.execute(reasons)).all()
    reasons_of: dict[str, dict[str, int]] = {}
    for organisation, reason, n in by_reason:
        reasons_of.setdefault(organisation, {})[reason] = n
    report = []
    for organisation, received, in_triage, accepted, n_declined in rows:
        decided = int(accepted or 0) + int(n_declined or 0)
        report.append(
            ReferrerReport(
                organisation=organisation,
                received=received,
                in_triage=int(in_triage or 0),
                accepted=int(accepted or 0),
                declined=int(n_declined or 0),
                acceptance_rate=round(int(accepted or 0) / decided, 3) if decided else None,
                decline_reasons=dict(sorted(reasons_of.get(organisation, {}).items())),
            )
        )
    return report


def summarise_outcomes(period: str, rows: list[OutcomeRow]) -> OutcomeSummary:
    """One period's anonymised outcomes."""
    pairs = [
        (r.baseline_total, r.end_total)
        for r in rows
        if r.baseline_total is not None and r.end_total is not None
    ]
    liaison: Counter[str] = Counter()
    for r in rows:
        liaison.update(set(r.liaison or []))
    return OutcomeSummary(
        period=period,
        episodes=len(rows),
        mean_sessions_attended=round(statistics.fmean(r.sessions_attended for r in rows), 2)
        if rows
        else None,
        measured_pairs=len(pairs),
        mean_change=round(statistics.fmean(end - base for base, end in pairs), 2)
        if pairs
        else None,
        change=dict(sorted(Counter(r.change for r in rows if r.change).items())),
        recovered=sum(1 for r in rows if r.recovered),
        reliably_recovered=sum(1 for r in rows if r.reliably_recovered),
        baseline_skipped=sum(1 for r in rows if r.baseline_skipped_reason),
        end_skipped=sum(1 for r in rows if r.end_skipped_reason),
        discharge_reasons=dict(sorted(Counter(r.discharge_reason for r in rows).items())),
        liaison=dict(sorted(liaison.items())),
    )


async def outcomes(session_factory: SessionFactory) -> OutcomesReport:
    """Anonymised outcomes by month of discharge and overall."""
    async with session_factory() as session:
        rows = list((await session.scalars(select(OutcomeRow).order_by(OutcomeRow.period))).all())
    by_period: dict[str, list[OutcomeRow]] = {}
    for row in rows:
        by_period.setdefault(row.period, []).append(row)
    return OutcomesReport(
        periods=[summarise_outcomes(period, group) for period, group in by_period.items()],
        overall=summarise_outcomes("all", rows),
    )
