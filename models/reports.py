"""What the service reports say, as shapes: waits against the standard, referrers, outcomes.

The figures are worked out in SQL by ``readmodel/reports.py``; ``wait_stats`` is the one
definition of a median and a 90th percentile both the database paths and the tests use.
"""

from __future__ import annotations

import statistics

from pydantic import BaseModel, Field

from models.referral import Stage

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
