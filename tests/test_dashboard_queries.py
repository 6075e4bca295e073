"""The read model's queries (``readmodel/``) against plain Python over the same rows, on
SQLite and PostgreSQL: the waiting list in the allocator's order (``models.allocation``) with
positions on the whole list whatever the filters; weekly counts and the list's length over
time; and the reports, against the same figures worked out one row at a time in Python.
Plus the charts' SVG."""

from __future__ import annotations

import bisect
import re
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.dashboard import charts
from bench.dashboard_pages import fill, rows
from infra.database import as_utc
from models.allocation import WaitingReferral, allocation_order_key, returning_order_key
from models.referral import Urgency
from models.reports import STILL_WAITING_STAGES, OutcomeSummary, ReferrerReport, wait_stats
from models.tables import OutcomeRow, ReferralRow
from readmodel import overview, reports
from readmodel.waiting_list import WaitingFilters, waiting_page
from tests.fixtures.temporal import TEST_KEYRING

NOW = datetime(2026, 3, 30, 10, 17, 5, 123456, tzinfo=UTC)  # a week with a clock change
ZONE = ZoneInfo("Europe/London")
COUNT = 700

SessionFactory = async_sessionmaker[AsyncSession]


@pytest.fixture
async def filled(session_factory: SessionFactory) -> dict[str, list[dict[str, Any]]]:
    """COUNT referrals' rows, inserted, and the same rows for checking."""
    await fill(session_factory, COUNT, NOW, TEST_KEYRING)
    return rows(COUNT, NOW)


def _expected_waiting(data: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The waiting list in allocation order, by the rules' own sort keys."""

    def model(r: dict[str, Any]) -> WaitingReferral:
        return WaitingReferral(
            ref=r["ref"],
            urgency=Urgency(r["urgency"]),
            received_at=r["received_at"],
            waiting_since=r["waiting_since"] or r["received_at"],
            returning_to=r["returning_to"],
            held=r["held"],
        )

    waiting = [r for r in data["referrals"] if r["stage"] == "waiting"]
    returning = sorted(
        (r for r in waiting if r["returning_to"]), key=lambda r: returning_order_key(model(r))
    )
    new = sorted(
        (r for r in waiting if not r["returning_to"]), key=lambda r: allocation_order_key(model(r))
    )
    return [{**r, "position": i} for i, r in enumerate([*returning, *new], start=1)]


def _matches(row: dict[str, Any], f: WaitingFilters) -> bool:
    return (
        (f.breach is None or row["breach"] == f.breach)
        and (f.validation is None or row["in_validation_queue"] == f.validation)
        and (f.held is None or row["held"] == f.held)
        and (f.returning is None or bool(row["returning_to"]) == f.returning)
        and (f.urgency is None or row["urgency"] == f.urgency.value)
    )


FILTERS = [
    WaitingFilters(),
    WaitingFilters(breach=True),
    WaitingFilters(breach=False),
    WaitingFilters(validation=True),
    WaitingFilters(held=True),
    WaitingFilters(held=False),
    WaitingFilters(returning=True),
    WaitingFilters(returning=False),
    WaitingFilters(urgency=Urgency.SOON),
    WaitingFilters(urgency=Urgency.URGENT, breach=True),
]


async def test_waiting_list_follows_the_allocation_rules(
    session_factory: SessionFactory, filled: dict[str, list[dict[str, Any]]]
) -> None:
    expected = _expected_waiting(filled)
    assert any(r["returning_to"] for r in expected) and any(r["held"] for r in expected)
    size = 23
    for f in FILTERS:
        wanted = [(r["position"], r["ref"]) for r in expected if _matches(r, f)]
        got: list[tuple[int, str]] = []
        page = 0
        async with session_factory() as session:
            while True:
                listed = await waiting_page(session, f, NOW, limit=size, offset=page * size)
                items, matching, total = listed.items, listed.matching, listed.total_waiting
                assert matching == len(wanted), f
                assert total == len(expected)
                got += [(i.position, i.ref) for i in items]
                page += 1
                if page * size >= matching:
                    break
        assert got == wanted, f
    # Waits and estimates come with every row.
    async with session_factory() as session:
        first = (await waiting_page(session, WaitingFilters(), NOW, limit=5)).items
    top = expected[0]
    assert first[0].days_waited == (NOW - top["received_at"]).days
    assert all(i.estimate_weeks_high is None or i.estimate_weeks_high >= 1 for i in first)


async def test_overview_counts_weeks_and_the_list_over_time(
    session_factory: SessionFactory, filled: dict[str, list[dict[str, Any]]]
) -> None:
    async with session_factory() as session:
        figures = await overview.overview(session, NOW, ZONE, weeks=12)
    referrals = filled["referrals"]
    assert figures.stage_counts == {
        stage: Counter(r["stage"] for r in referrals)[stage] for stage in figures.stage_counts
    }
    starts = figures.week_starts
    assert len(starts) == 12 and starts[-1] <= NOW < starts[-1] + timedelta(days=8)
    assert all(s.astimezone(ZONE).weekday() == 0 and s.astimezone(ZONE).hour == 0 for s in starts)

    def weekly(values: list[datetime]) -> list[int]:
        counts = [0] * len(starts)
        for value in values:
            if starts[0] <= value <= NOW:
                counts[bisect.bisect_right(starts, value) - 1] += 1
        return counts

    assert figures.referrals_in == weekly([r["received_at"] for r in referrals])
    assert figures.allocations_out == weekly([c["started_at"] for c in filled["caseload"]])
    assert sum(figures.referrals_in) > 0 and sum(figures.allocations_out) > 0

    first_episode = {c["ref"]: c["started_at"] for c in filled["caseload"] if c["episode"] == 1}

    def on_list(at: datetime) -> int:
        count = 0
        for r in referrals:
            left = first_episode.get(r["ref"]) or (
                r["updated_at"] if r["stage"] == "closed" else None
            )
            if (
                r["accepted_at"] is not None
                and r["accepted_at"] <= at
                and (left is None or left > at)
            ):
                count += 1
            if r["stage"] == "waiting" and r["returning_to"] and r["waiting_since"] <= at:
                count += 1
        return count

    assert figures.waiting_length == [on_list(t) for t in [*starts[1:], NOW]]
    assert figures.waiting_length[-1] == figures.stage_counts["waiting"]
    still = {"triage", "info_requested", "waiting", "allocated"}
    assert figures.breaches_open == sum(1 for r in referrals if r["breach"] and r["stage"] in still)
    assert figures.validation_queue == sum(
        1 for r in referrals if r["stage"] == "waiting" and r["in_validation_queue"]
    )
    assert figures.inbox_open > 0 and 0 < figures.inbox_crisis < figures.inbox_open


async def test_reports_say_what_the_service_reports_say(
    session_factory: SessionFactory, filled: dict[str, list[dict[str, Any]]]
) -> None:
    async with session_factory() as session:
        waits = await reports.waits(session, NOW, 28)
        referrers = await reports.referrers(session)
        outcomes = await reports.outcomes(session)
        reentry = await reports.reentry(session)
    standard = timedelta(weeks=4)
    official = await _waiting_times_one_by_one(session_factory, standard, NOW)
    assert waits.seen.stats == official.seen
    assert waits.still_waiting.stats == official.still_waiting
    assert sum(waits.seen.weeks) == official.seen.count > 0
    assert sum(waits.still_waiting.weeks) == official.still_waiting.count > 0
    assert referrers == await _referrers_one_by_one(session_factory)
    assert sum(sum(r.decline_reasons.values()) for r in referrers) == sum(
        r.declined for r in referrers
    )
    by_period = await _outcomes_one_by_one(session_factory)
    assert outcomes.periods == by_period[:-1]
    expected = by_period[-1]
    assert outcomes.overall == expected
    assert expected.episodes > 0 and expected.liaison and expected.change

    # Re-entry: discharged at least once, and the time from a discharge to the return.
    referrals = filled["referrals"]
    assert reentry.discharged == sum(1 for r in referrals if r["discharged_at"] is not None)
    assert reentry.returned == sum(
        1
        for r in referrals
        if r["episode_number"] >= 2 or (r["stage"] == "waiting" and r["returning_to"])
    )
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for event in filled["timeline"]:
        by_ref.setdefault(event["ref"], []).append(event)
    days = []
    for events in by_ref.values():
        kinds = [e["kind"] for e in events]
        if "discharged" in kinds:
            after = events[kinds.index("discharged") + 1 :]
            back = [e for e in after if e["kind"] in ("reactivated_waiting", "allocated")]
            if back:
                days.append(
                    (back[0]["at"] - events[kinds.index("discharged")]["at"]) / timedelta(days=1)
                )
    assert sorted(round(d, 6) for d in reentry.days_to_return) == sorted(round(d, 6) for d in days)
    assert reentry.rate is not None and 0 < reentry.rate < 1


def test_charts_are_escaped_svg_with_their_data() -> None:
    chart = str(
        charts.bar_chart(
            title="Weekly <script>",
            description="in & out",
            labels=["a<b", "c"],
            series=[charts.Series("x", [3, -2]), charts.Series("y", [None, 5], charts.AMBER)],
            head="week",
        )
    )
    assert "<script>" not in chart and "a&lt;b" in chart and "in &amp; out" in chart
    assert chart.count('class="bar"') == 3
    assert re.search(r'<svg class="chart"[^>]*role="img"', chart)
    values = [float(v) for v in re.findall(r'data-value="([^"]+)"', chart)]
    assert values == [3.0, -2.0, 5.0]
    heights = [float(h) for h in re.findall(r'height="([0-9.]+)" fill', chart)]
    assert all(h >= 0 for h in heights)
    assert "<table>" in chart and "<caption>" in chart  # the figures, for screen readers
    empty = str(
        charts.line_chart(
            title="t", description="d", labels=["a"], series=[charts.Series("s", [0])]
        )
    )
    assert "No data yet" in empty
    edges, counts = charts.bins([0.0, 0.99, 1.0, 2.5, 40.0], 1, 4)
    assert edges == [0, 1, 2, 3, 4] and counts == [2, 1, 1, 1]
    histogram = str(
        charts.histogram(
            title="h",
            description="d",
            edges=edges,
            counts=counts,
            markers=[charts.Marker(1.5, "median"), charts.Marker(99, "p90")],
        )
    )
    assert histogram.count('class="marker"') == 2


# ------------------------------------------------- the reports, one row at a time in Python


async def _waiting_times_one_by_one(
    session_factory: SessionFactory, standard: timedelta, now: datetime
) -> Any:
    async with session_factory() as session:
        rows = (
            await session.execute(
                select(ReferralRow.received_at, ReferralRow.first_session_at, ReferralRow.stage)
            )
        ).all()
    day = 86400.0
    seen: list[float] = []
    waiting: list[float] = []
    for received_at, first_session_at, stage in rows:
        received = as_utc(received_at)
        if first_session_at is not None:
            seen.append(max(0.0, (as_utc(first_session_at) - received).total_seconds() / day))
        elif stage in STILL_WAITING_STAGES:
            waiting.append(max(0.0, (now - received).total_seconds() / day))
    standard_days = standard.total_seconds() / day
    return SimpleNamespace(
        seen=wait_stats(seen, standard_days), still_waiting=wait_stats(waiting, standard_days)
    )


async def _referrers_one_by_one(session_factory: SessionFactory) -> list[ReferrerReport]:
    async with session_factory() as session:
        rows = (await session.scalars(select(ReferralRow))).all()
    by_organisation: dict[str, list[ReferralRow]] = {}
    for row in rows:
        by_organisation.setdefault(row.referrer_organisation, []).append(row)
    report = []
    for organisation, group in sorted(by_organisation.items()):
        accepted = sum(1 for r in group if r.accepted_at is not None)
        declined = [r.decline_reason for r in group if r.decline_reason is not None]
        decided = accepted + len(declined)
        report.append(
            ReferrerReport(
                organisation=organisation,
                received=len(group),
                in_triage=sum(1 for r in group if r.stage in ("triage", "info_requested")),
                accepted=accepted,
                declined=len(declined),
                acceptance_rate=round(accepted / decided, 3) if decided else None,
                decline_reasons=dict(sorted(Counter(declined).items())),
            )
        )
    return report


def _summarise(period: str, rows: list[OutcomeRow]) -> OutcomeSummary:
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


async def _outcomes_one_by_one(session_factory: SessionFactory) -> list[OutcomeSummary]:
    """Each period's summary, then the overall one."""
    async with session_factory() as session:
        rows = list((await session.scalars(select(OutcomeRow).order_by(OutcomeRow.period))).all())
    by_period: dict[str, list[OutcomeRow]] = {}
    for row in rows:
        by_period.setdefault(row.period, []).append(row)
    return [
        *(_summarise(period, group) for period, group in by_period.items()),
        _summarise("all", rows),
    ]
