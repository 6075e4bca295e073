"""How long the allocator takes to decide, with 50 000 referrals waiting, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.allocation_latency [--waiting 50000] [--practitioners 15]
        [--rounds 300] [--history 20000] [--backends sqlite,sqlite-analyze,postgresql]
        [--postgres-url URL]

The read model is filled directly (no Temporal): ``--waiting`` referrals at stage "waiting" —
urgent/soon/routine 10/30/60%, received over the last two years, ``urgency_rank`` set from
``models.allocation.URGENCY_RANK`` as the service writes it, 0.5% returning clients waiting for
their own practitioner, 3% held — and ``--practitioners`` practitioners whose caseloads
(20 places each) are full of allocated referrals, as they are when a list exists.

Each round frees one to three places (ends random caseload rows, as discharges do), then times
the allocator's whole decision: the ``plan_allocations`` activity of
``activities.allocation.AllocationActivities`` called directly — one transaction that locks the
practitioners, reads their caseloads and the head of the list, applies the rules of
``models.allocation`` and reserves the places. Between rounds (untimed) the chosen referrals
become "allocated" in the read model, as their workflows would record. Goal: p95 < 100 ms.

It also times ``queue_position`` (the position in every letter and check-in) for a referral
deep in the list, and the ``waiting_position`` activity around it (position and estimate).

SQLite is measured twice: as the migrations leave it (no planner statistics), and after
``ANALYZE`` — the difference is the planner's choice of index for the returning clients' query.
PostgreSQL, with statistics gathered as autovacuum would after a bulk load: ``--postgres-url``
(default: HARBOUR_TEST_POSTGRES_URL, else the local server with trust auth, database ``test``),
in a fresh schema dropped afterwards; skipped with a message if unreachable.
A benchmark prints its figures; it asserts nothing (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.allocation import AllocationActivities
from activities.records import RecordActivities
from bench.common import KEYRING, machine_line, percentile, run_main
from infra.database import make_engine, make_session_factory, migrate
from infra.logging import configure_logging
from models.allocation import URGENCY_RANK
from models.records import PlanRequest, WaitingPositionRequest
from models.referral import Stage, Urgency
from models.tables import CaseloadRow, PractitionerRow, ReferralRow
from readmodel.waiting_list import queue_position

GOAL_P95_MS = 100.0
CAPACITY = 20
SHARE_URGENT, SHARE_SOON = 0.10, 0.30
SHARE_RETURNING, SHARE_HELD = 0.005, 0.03
LIST_SPAN = timedelta(days=730)
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
INSERT_CHUNK = 5_000
WARM_UP_ROUNDS = 5


@dataclass
class AllocationFigures:
    """What one backend measured, in seconds."""

    backend: str
    plan: list[float]
    allocations: list[int]
    freed: list[int]
    position: list[float]
    position_activity: list[float]
    deep_position: int
    waiting_total: int
    fill_seconds: float


def _quiet_logs() -> None:
    """Activities log every decision at INFO: keep the benchmark's output to its figures."""

    class _Quiet:
        log_format = "console"
        log_level = "WARNING"

    configure_logging(_Quiet())


@asynccontextmanager
async def _sqlite_url() -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory(prefix="harbour-alloc-bench-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'harbour.db'}"
        await migrate(url)
        yield url


class Unreachable(Exception):
    """The PostgreSQL server did not answer."""


@asynccontextmanager
async def _postgres_url(base_url: str) -> AsyncIterator[str]:
    """A fresh schema on the PostgreSQL server, migrated, dropped afterwards."""
    base = make_url(base_url)
    schema = f"bench_{secrets.token_hex(6)}"
    admin = make_engine(base, connect_args={"timeout": 5})
    try:
        try:
            async with admin.begin() as connection:
                await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        except OSError as error:
            raise Unreachable(f"{type(error).__name__}: {error}") from error
        try:
            url = base.update_query_dict({"search_path": schema}).render_as_string(
                hide_password=False
            )
            await migrate(url)
            yield url
        finally:
            async with admin.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await admin.dispose()


def _referral(
    ref: str, rng: random.Random, now: datetime, practitioners: list[str]
) -> dict[str, Any]:
    """One waiting referral as the read model holds it (what ``record_transition`` writes)."""
    x = rng.random()
    urgency = (
        Urgency.URGENT
        if x < SHARE_URGENT
        else Urgency.SOON
        if x < SHARE_URGENT + SHARE_SOON
        else Urgency.ROUTINE
    )
    received = now - LIST_SPAN * rng.random()
    accepted = received + timedelta(days=rng.uniform(1, 7))
    row: dict[str, Any] = {
        "ref": ref,
        "stage": Stage.WAITING.value,
        "urgency": urgency.value,
        "urgency_rank": URGENCY_RANK[urgency],
        "referrer_organisation": f"GP practice {rng.randrange(60)}",
        "received_at": received,
        "accepted_at": accepted,
        "waiting_since": accepted,
        "practitioner_id": None,
        "returning_to": None,
        "episode_number": 0,
        "held": False,
        "hold_reason": None,
        "last_seq": 3,
        "updated_at": accepted,
    }
    if rng.random() < SHARE_RETURNING:
        # Back after an episode: waits for the practitioner of that episode, first in line.
        own = rng.choice(practitioners)
        row |= {
            "practitioner_id": own,
            "returning_to": own,
            "episode_number": 1,
            "waiting_since": max(accepted, now - timedelta(days=rng.uniform(0, 120))),
        }
    elif rng.random() < SHARE_HELD:
        row |= {"held": True, "hold_reason": "client_unavailable"}
    return row


async def _fill(
    sessions: async_sessionmaker[AsyncSession],
    waiting: int,
    practitioners: int,
    history: int,
    seed: int,
    *,
    analyze: bool = False,
) -> tuple[datetime, str]:
    """The read model of a service with a long list: ``waiting`` referrals waiting, full
    caseloads, and ``history`` past episodes (discharged). Returns "now" and a referral deep
    in the list (the routine one received last)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    pids = [f"p-{n:02d}" for n in range(1, practitioners + 1)]
    rows = [_referral(f"W{n:07d}", rng, now, pids) for n in range(waiting)]
    others: list[dict[str, Any]] = []
    caseload: list[dict[str, Any]] = []
    for n in range(practitioners * CAPACITY + history):
        current = n < practitioners * CAPACITY
        pid = pids[n % practitioners]
        started = now - (
            timedelta(days=rng.uniform(1, 60)) if current else LIST_SPAN * rng.random()
        )
        ref = f"{'A' if current else 'D'}{n:07d}"
        others.append(
            _referral(ref, rng, started, pids)
            | {
                "stage": Stage.ALLOCATED.value if current else Stage.DISCHARGED.value,
                "practitioner_id": pid,
                "returning_to": None,
                "held": False,
                "hold_reason": None,
                "episode_number": 1,
                "waiting_since": None,
            }
        )
        caseload.append(
            {
                "ref": ref,
                "episode": 1,
                "practitioner_id": pid,
                "started_at": started,
                "ended_at": None if current else started + timedelta(weeks=rng.uniform(6, 12)),
            }
        )
    async with sessions.begin() as session:
        await session.execute(
            insert(PractitionerRow),
            [
                {"id": pid, "name": f"Practitioner {pid}", "email": f"{pid}@bench.example"}
                | {"capacity": CAPACITY, "active": True}
                for pid in pids
            ],
        )
        for table, values in ((ReferralRow, rows + others), (CaseloadRow, caseload)):
            for start in range(0, len(values), INSERT_CHUNK):
                await session.execute(insert(table), values[start : start + INSERT_CHUNK])
    if engine_dialect(sessions) == "postgresql":
        async with sessions.begin() as session:
            await session.execute(text("ANALYZE"))  # what autovacuum does after a bulk load
    elif analyze:
        # SQLite keeps no statistics unless asked; the migrations never ask (see the report).
        async with sessions.begin() as session:
            await session.execute(text("ANALYZE"))
    deep = max(
        (r for r in rows if r["urgency"] == "routine" and not r["held"] and not r["returning_to"]),
        key=lambda r: r["received_at"],
    )
    return now, deep["ref"]


def engine_dialect(sessions: async_sessionmaker[AsyncSession]) -> str:
    """The database dialect behind a session factory."""
    bind = sessions.kw["bind"]
    return bind.dialect.name


async def _free_places(
    sessions: async_sessionmaker[AsyncSession], rng: random.Random, count: int, at: datetime
) -> int:
    """End ``count`` random active episodes (discharges): places free up."""
    async with sessions.begin() as session:
        active = (
            await session.execute(
                select(CaseloadRow.ref, CaseloadRow.episode).where(CaseloadRow.ended_at.is_(None))
            )
        ).all()
        chosen = rng.sample(active, min(count, len(active)))
        for ref, episode in chosen:
            await session.execute(
                update(CaseloadRow)
                .where(CaseloadRow.ref == ref, CaseloadRow.episode == episode)
                .values(ended_at=at)
            )
            await session.execute(
                update(ReferralRow)
                .where(ReferralRow.ref == ref)
                .values(stage=Stage.DISCHARGED.value, discharged_at=at, practitioner_id=None)
            )
    return len(chosen)


async def _mark_allocated(
    sessions: async_sessionmaker[AsyncSession], planned: list[Any], at: datetime
) -> None:
    """What each referral's workflow records once it takes its place (untimed)."""
    async with sessions.begin() as session:
        for allocation in planned:
            await session.execute(
                update(ReferralRow)
                .where(ReferralRow.ref == allocation.ref)
                .values(
                    stage=Stage.ALLOCATED.value,
                    practitioner_id=allocation.practitioner_id,
                    episode_number=allocation.episode,
                    returning_to=None,
                    waiting_since=None,
                    updated_at=at,
                )
            )


async def _seconds(work: Awaitable[object]) -> float:
    """Wall time of one awaited call."""
    started = time.perf_counter()
    await work
    return time.perf_counter() - started


async def measure(
    backend: str, url: str, args: argparse.Namespace, client: Client, *, analyze: bool = False
) -> AllocationFigures:
    """Fill the read model at ``url``, then time the allocator's rounds and the position."""
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        started = time.perf_counter()
        now, deep_ref = await _fill(
            sessions, args.waiting, args.practitioners, args.history, args.seed, analyze=analyze
        )
        fill_seconds = time.perf_counter() - started
        # The activity exactly as build_worker wires it; plan_allocations uses only the database.
        activities = AllocationActivities(sessions, client, f"bench-{uuid.uuid4().hex[:8]}")
        records = RecordActivities(sessions, secrets.token_bytes(32), KEYRING)
        rng = random.Random(args.seed + 1)
        plan: list[float] = []
        allocations: list[int] = []
        freed: list[int] = []
        positions: list[float] = []
        position_activity: list[float] = []

        async def position() -> tuple[int, int]:
            async with sessions() as session:
                return await queue_position(session, deep_ref)

        for round_number in range(WARM_UP_ROUNDS + args.rounds):
            at = now + timedelta(hours=round_number)
            count = await _free_places(sessions, rng, rng.randint(1, 3), at)
            begun = time.perf_counter()
            planned = await activities.plan_allocations(PlanRequest(at=at))
            took = time.perf_counter() - begun
            await _mark_allocated(sessions, planned, at)
            # The letters of the same moment: the position of a referral deep in the list, alone
            # and inside the waiting_position activity (with the estimate's allocation count).
            request = WaitingPositionRequest(ref=deep_ref, at=at)
            position_took = await _seconds(position())
            activity_took = await _seconds(records.waiting_position(request))
            if round_number >= WARM_UP_ROUNDS:
                plan.append(took)
                allocations.append(len(planned))
                freed.append(count)
                positions.append(position_took)
                position_activity.append(activity_took)
        deep_position, waiting_total = await position()
        return AllocationFigures(
            backend=backend,
            plan=plan,
            allocations=allocations,
            freed=freed,
            position=positions,
            position_activity=position_activity,
            deep_position=deep_position,
            waiting_total=waiting_total,
            fill_seconds=fill_seconds,
        )
    finally:
        await engine.dispose()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def report(figures: list[AllocationFigures], args: argparse.Namespace) -> None:
    """The table of figures."""
    print()
    header = f"  {'':<44}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'mean ms':>9}  goal"
    for f in figures:
        print(
            f"{f.backend}: {args.waiting:,} waiting at the start, {args.practitioners} "
            f"practitioners x {CAPACITY} places, {args.history:,} past episodes; filled in "
            f"{f.fill_seconds:.1f} s"
        )
        print(header)
        p95 = percentile(f.plan, 95)
        verdict = "p95 < 100 ms: " + ("met" if p95 * 1000 < GOAL_P95_MS else "MISSED")
        rows = [
            (
                f"plan_allocations, {len(f.plan)} rounds",
                f.plan,
                verdict,
            ),
            (
                f"queue_position, {f.deep_position:,} of {f.waiting_total:,}",
                f.position,
                "",
            ),
            ("waiting_position activity (same referral)", f.position_activity, ""),
        ]
        for label, values, goal in rows:
            print(
                f"  {label:<44}{_ms(percentile(values, 50)):>9}{_ms(percentile(values, 95)):>9}"
                f"{_ms(max(values)):>9}{_ms(statistics.fmean(values)):>9}  {goal}"
            )
        print(
            f"  places freed per round {statistics.fmean(f.freed):.1f} (1-3), allocations per "
            f"round {statistics.fmean(f.allocations):.1f}, {sum(f.allocations)} in all"
        )
        print()


async def main_async(args: argparse.Namespace) -> int:
    """Measure each backend asked for; print the figures."""
    _quiet_logs()
    print(
        f"allocation decision latency — {machine_line()}; load average "
        + " / ".join(f"{load:.1f}" for load in os.getloadavg())
    )
    # A real client, never used: plan_allocations needs only the database, and a lazy client
    # connects on first use (the constructor's signature is the one the worker uses).
    client = await Client.connect("127.0.0.1:7233", lazy=True)
    figures = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            async with _sqlite_url() as url:
                figures.append(await measure("SQLite (as migrated)", url, args, client))
        elif backend == "sqlite-analyze":
            async with _sqlite_url() as url:
                figures.append(
                    await measure("SQLite after ANALYZE", url, args, client, analyze=True)
                )
        elif backend == "postgresql":
            try:
                async with _postgres_url(args.postgres_url) as url:
                    figures.append(await measure("PostgreSQL", url, args, client))
            except Unreachable as error:
                shown = make_url(args.postgres_url).render_as_string(hide_password=True)
                print(f"PostgreSQL skipped: unreachable at {shown} ({error})")
        else:
            raise SystemExit(f"unknown backend {backend!r} (sqlite, sqlite-analyze, postgresql)")
    report(figures, args)
    print(
        "load average (1/5/15 min) at the end: "
        + " / ".join(f"{load:.1f}" for load in os.getloadavg())
        + " — other work on the machine inflates every figure"
    )
    return 0


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiting", type=int, default=50_000)
    parser.add_argument("--practitioners", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument(
        "--history", type=int, default=20_000, help="past (discharged) episodes in the tables"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backends", default="sqlite,sqlite-analyze,postgresql")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HARBOUR_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
    )
    run_main(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
