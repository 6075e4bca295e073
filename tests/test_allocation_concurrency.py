"""The allocator under concurrent events, against the Temporal dev server in real time.

Issue 3: 200 referrals and 8 practitioners; submissions, acceptances, discharges, capacity
changes, leave, holds and coordinators' manual allocations all arriving at once — and still no
referral allocated twice, no caseload ever over capacity, everyone allocated in the end, and
the allocator's choices in the order of the rules.

The time-skipping server cannot run many workflows at once, so this runs on the dev server
(in memory) with the production worker (``worker.build_worker``), a real SMTP server and a
fresh read model on SQLite and on PostgreSQL. Policy durations are scaled (a day lasts
``SECONDS_PER_DAY``) so that no triage reminder or check-in comes due during the run: the only
events are the ones the test makes.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from infra.database import as_utc, make_engine, make_session_factory
from models.actions import (
    Allocation,
    Discharge,
    DischargeReason,
    Hold,
    HoldReason,
    HoldRelease,
    TriageDecision,
    TriageOutcome,
)
from models.policy import ServicePolicy
from models.records import allocator_id
from models.referral import ReferralView, Stage, Urgency
from models.settings import Settings
from models.tables import CaseloadRow, PractitionerRow, ReferralRow
from readmodel.caseloads import practitioner_rooms
from services import referrals
from services.referrals import ActionRejected
from tests.factories import save_practitioner, submission
from tests.fixtures.temporal import TEST_KEYRING, TEST_PSEUDONYM_KEY, dev_server
from tests.helpers import eventually
from worker import build_worker
from workflows.referral import workflow_id

# A tier of `make check` (and CI), not of `make test`: minutes of real time on the dev server.
pytestmark = pytest.mark.slow

T = TypeVar("T")

REFERRALS = 200
SUBMIT_AT_ONCE = 40
PRACTITIONERS = [f"p-{n}" for n in range(1, 9)]
START_CAPACITY = 2
ON_LEAVE_AT_START = "p-8"  # comes back from leave during the storm
GOES_ON_LEAVE = "p-7"  # goes on leave during the storm
RAISED = ("p-1", "p-2", "p-3")  # capacity raised during the storm
RAISED_CAPACITY = 4
FINAL_CAPACITY = 30  # 7 active practitioners x 30 places: room for everyone
DISCHARGES = 6
HOLDS = 2
COORDINATORS = 3
MANUAL_ATTEMPTS = 2  # per coordinator
# One day of the pathway lasts 30 s: the first timer (triage reminder, 5 days) is 150 s away,
# the first check-in 14 minutes; the test is over long before.
SECONDS_PER_DAY = 30.0
POLL_EVERY = 0.005  # the capacity monitor's period, seconds
# Bounds, not expectations (seconds): generous, so a slow or busy machine does not fail the
# test, while a stuck allocator still fails it with a clear message.
SETTLE_TIMEOUT = 60.0  # for the allocator and the read model to catch up after a phase
FINAL_TIMEOUT = 150.0  # for everyone to be allocated once there is room
STORM_TIMEOUT = 480.0  # the whole scenario

ACCEPT = TriageDecision(outcome=TriageOutcome.ACCEPT, coordinator="c-triage")
DONE = Discharge(reason=DischargeReason.COMPLETED, summary="episode completed")
HOLD = Hold(reason=HoldReason.CLIENT_UNAVAILABLE, coordinator="c-hold")
RELEASE = HoldRelease(coordinator="c-hold")
ALLOCATED_OR_DISCHARGED = (Stage.ALLOCATED.value, Stage.DISCHARGED.value)


# ---------------------------------------------------------------------------------- fixtures


@pytest_asyncio.fixture(scope="module")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server (in memory), with the production data converter."""
    async with dev_server() as env:
        yield env


# ---------------------------------------------------------------------------------- monitor


class CapacityMonitor:
    """Polls the caseload table every few milliseconds while the storm runs.

    Each of its two checks is one statement, so one consistent snapshot on both databases: a
    practitioner whose active caseload exceeds their capacity, or a referral with two active
    caseload rows, is a violation. Capacities only ever go up in this test, so a snapshot that
    shows either is a real breach, never an artefact of reading while capacity changes.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._stop = asyncio.Event()
        self.polls = 0
        self.violations: list[str] = []
        self.highest: dict[str, tuple[int, int]] = {}  # practitioner -> (caseload, capacity)
        active = (
            select(func.count())
            .select_from(CaseloadRow)
            .where(
                CaseloadRow.practitioner_id == PractitionerRow.id, CaseloadRow.ended_at.is_(None)
            )
            .correlate(PractitionerRow)
            .scalar_subquery()
        )
        self._caseloads = select(PractitionerRow.id, PractitionerRow.capacity, active)
        self._doubles = (
            select(CaseloadRow.ref, func.count())
            .where(CaseloadRow.ended_at.is_(None))
            .group_by(CaseloadRow.ref)
            .having(func.count() > 1)
        )

    async def check(self) -> None:
        """One look at the caseload table."""
        async with self._sessions() as session:
            for pid, capacity, caseload in (await session.execute(self._caseloads)).all():
                seen = self.highest.get(pid, (0, capacity))
                if caseload > seen[0]:
                    self.highest[pid] = (caseload, capacity)
                if caseload > capacity:
                    self.violations.append(
                        f"{pid} had {caseload} active episodes, capacity {capacity}"
                    )
            for ref, count in (await session.execute(self._doubles)).all():
                self.violations.append(f"{ref} had {count} active caseload rows")
        self.polls += 1

    async def run(self) -> None:
        """Check until stopped."""
        while not self._stop.is_set():
            await self.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), POLL_EVERY)

    def stop(self) -> None:
        """Stop after the current check."""
        self._stop.set()


# ---------------------------------------------------------------------------------- the storm


@dataclass
class Storm:
    """Everything one run of the scenario needs, and what it observed."""

    client: Client
    sessions: async_sessionmaker[AsyncSession]
    task_queue: str
    policy: ServicePolicy
    refs: list[str] = field(default_factory=list)
    # Wall time at which each referral's acceptance had returned: by then its row in the read
    # model said "waiting" (the update returns only after the transition is recorded).
    accepted_by: dict[str, datetime] = field(default_factory=dict)
    ever_held: set[str] = field(default_factory=set)
    manual: list[tuple[str, str, str]] = field(default_factory=list)  # (ref, practitioner, outcome)
    phase: str = "starting"

    async def practitioner(self, pid: str, capacity: int, active: bool = True) -> None:
        """Add or change a practitioner the way coordinators do (which wakes the allocator)."""
        await save_practitioner(self.client, self.sessions, self.task_queue, pid, capacity, active)

    async def refer_and_accept(self, n: int, urgency: Urgency) -> None:
        """Submit referral ``n`` and accept it at triage: it joins the list."""
        ref = await referrals.submit(
            self.client,
            submission(
                client={"email": f"client{n}@example.org", "phone": f"+4477009{n:05d}"},
                urgency=urgency.value,
            ),
            self.policy,
            task_queue=self.task_queue,
        )
        self.refs.append(ref)
        await referrals.act(self.client, ref, "triage", ACCEPT)
        self.accepted_by[ref] = datetime.now(UTC)

    async def count(self, *stages: str) -> int:
        """Referrals in these stages, per the read model."""
        async with self.sessions() as session:
            return (
                await session.execute(
                    select(func.count())
                    .select_from(ReferralRow)
                    .where(ReferralRow.stage.in_(stages))
                )
            ).scalar_one()

    async def refs_in(self, stage: Stage, limit: int | None = None) -> list[str]:
        """Referrals in ``stage`` per the read model; waiting ones in the allocation order."""
        query = select(ReferralRow.ref).where(ReferralRow.stage == stage.value)
        if stage == Stage.WAITING:
            query = query.where(ReferralRow.held.is_(False)).order_by(
                ReferralRow.urgency_rank, ReferralRow.received_at, ReferralRow.ref
            )
        else:
            query = query.order_by(ReferralRow.ref)
        async with self.sessions() as session:
            return list((await session.scalars(query.limit(limit))).all())

    async def free_places(self) -> dict[str, int]:
        """Free places of each active practitioner, from the caseload table."""
        async with self.sessions() as session:
            rooms = await practitioner_rooms(session)
        return {room.id: room.free for room in rooms if room.active}

    async def coordinator(self, name: str, attempts: int) -> None:
        """A coordinator allocating by hand as a person would: the referral at the top of the
        list they see, to the practitioner with the most room — racing the allocator."""
        for attempt in range(attempts):
            head = await self.refs_in(Stage.WAITING, limit=COORDINATORS)
            rooms = await self.free_places()
            if not head or not rooms:
                return
            ref = head[(attempt + int(name[-1])) % len(head)]
            pid = max(sorted(rooms), key=lambda p: rooms[p])
            try:
                await referrals.act(
                    self.client, ref, "allocate", Allocation(practitioner_id=pid, coordinator=name)
                )
                outcome = "allocated"
            except ActionRejected as rejected:
                outcome = f"rejected: {rejected.reason}"
            self.manual.append((ref, pid, outcome))

    async def hold_head(self, count: int) -> None:
        """Hold the first ``count`` referrals of the list (a coordinator, during the storm)."""
        for ref in await self.refs_in(Stage.WAITING, limit=count):
            self.ever_held.add(ref)
            with contextlib.suppress(ActionRejected):  # allocated in the meantime: fine
                await referrals.act(self.client, ref, "hold", HOLD)

    async def release_holds(self) -> None:
        """Release every hold still in place."""
        for ref in sorted(self.ever_held):
            view = await referrals.read(self.client, ref)
            # A coordinator may have allocated a held referral by hand meanwhile: that is allowed.
            if view.stage == Stage.WAITING and view.held_reason is not None:
                await referrals.act(self.client, ref, "release_hold", RELEASE)


async def bounded(limit: int, jobs: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run the jobs concurrently, at most ``limit`` at a time."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


def urgencies(count: int, seed: int = 3) -> list[Urgency]:
    """A realistic mix: 15% urgent, 30% soon, the rest routine, in random order."""
    rng = random.Random(seed)
    return [
        Urgency.URGENT
        if (x := rng.random()) < 0.15
        else Urgency.SOON
        if x < 0.45
        else Urgency.ROUTINE
        for _ in range(count)
    ]


# ---------------------------------------------------------------------------------- the test


async def test_allocation_under_concurrent_events(
    dev_env: WorkflowEnvironment, db_url: str, smtp_settings: Settings
) -> None:
    """200 referrals, 8 practitioners, everything at once: the allocator stays exact."""
    settings = smtp_settings.model_copy(
        update={"database_url": db_url, "allocator_sweep_every": None}
    )
    engine = make_engine(db_url)
    observer = make_engine(db_url)  # the test's own reads never take the worker's connections
    storm = Storm(
        client=dev_env.client,
        sessions=make_session_factory(observer),
        task_queue=f"concurrency-{uuid.uuid4()}",
        policy=ServicePolicy.fast(seconds_per_day=SECONDS_PER_DAY, auto_allocate=True),
    )
    monitor = CapacityMonitor(storm.sessions)
    watching = asyncio.create_task(monitor.run())
    worker = build_worker(
        dev_env.client,
        settings,
        engine,
        TEST_PSEUDONYM_KEY,
        task_queue=storm.task_queue,
        keyring=TEST_KEYRING,
    )
    try:
        async with worker:
            try:
                await _play(storm)
                monitor.stop()
                await watching
                await monitor.check()  # and once more at the very end
                await _check_outcome(storm, monitor)
            finally:
                await _terminate_all(storm)
    finally:
        monitor.stop()
        await asyncio.gather(watching, return_exceptions=True)
        await engine.dispose()
        await observer.dispose()


async def _play(storm: Storm) -> None:
    """Run the scenario, bounded in time; a failure says in which phase, and what the
    allocator is stuck on if it is."""
    try:
        await asyncio.wait_for(_run_storm(storm), timeout=STORM_TIMEOUT)
    except TimeoutError:
        counts = {s.value: await storm.count(s.value) for s in Stage}
        raise AssertionError(
            f"the scenario did not finish within {STORM_TIMEOUT} s, during {storm.phase!r}; "
            f"read model by stage: {counts}; {await _allocator_trouble(storm)}"
        ) from None
    except AssertionError as failed:
        raise AssertionError(
            f"during {storm.phase!r}: {failed}; {await _allocator_trouble(storm)}"
        ) from None


async def _run_storm(storm: Storm) -> None:
    """The scenario: a list builds up, the storm hits, then there is room for everyone."""
    storm.phase = "registering practitioners"
    # Small caseloads at first: 7 practitioners with 2 places, one on leave.
    for pid in PRACTITIONERS:
        await storm.practitioner(pid, START_CAPACITY, active=pid != ON_LEAVE_AT_START)
    active_places = START_CAPACITY * (len(PRACTITIONERS) - 1)

    storm.phase = "submitting and accepting referrals"
    # 200 referrals submitted and accepted concurrently (40 at a time); the allocator fills the
    # 14 places as they join the list.
    await bounded(
        SUBMIT_AT_ONCE,
        [
            lambda n=n, u=u: storm.refer_and_accept(n, u)
            for n, u in enumerate(urgencies(REFERRALS), start=1)
        ],
    )
    await eventually(
        lambda: _expect_count(storm, (Stage.ALLOCATED.value,), active_places),
        timeout=SETTLE_TIMEOUT,
    )
    assert await storm.count(Stage.WAITING.value) == REFERRALS - active_places

    storm.phase = "the storm"
    # The storm, all at once: discharges, raised capacities, one practitioner going on leave
    # and another coming back, holds, and coordinators allocating by hand.
    allocated = await storm.refs_in(Stage.ALLOCATED)
    storm_events: list[Awaitable[object]] = [
        *(referrals.act(storm.client, ref, "discharge", DONE) for ref in allocated[:DISCHARGES]),
        *(storm.practitioner(pid, RAISED_CAPACITY) for pid in RAISED),
        storm.practitioner(GOES_ON_LEAVE, START_CAPACITY, active=False),
        storm.practitioner(ON_LEAVE_AT_START, START_CAPACITY, active=True),
        storm.hold_head(HOLDS),
        *(storm.coordinator(f"c-{n}", MANUAL_ATTEMPTS) for n in range(1, COORDINATORS + 1)),
    ]
    await asyncio.gather(*storm_events)

    storm.phase = "filling the free places after the storm"
    # The dust settles: every active practitioner's caseload fills up (the list is long).
    await eventually(lambda: _expect_full(storm), timeout=SETTLE_TIMEOUT)

    storm.phase = "room for everyone"
    # Holds released; then room for everyone.
    await storm.release_holds()
    await asyncio.gather(
        *(storm.practitioner(pid, FINAL_CAPACITY) for pid in PRACTITIONERS if pid != GOES_ON_LEAVE)
    )
    await eventually(
        lambda: _expect_count(storm, ALLOCATED_OR_DISCHARGED, REFERRALS), timeout=FINAL_TIMEOUT
    )


async def _expect_count(storm: Storm, stages: tuple[str, ...], expected: int) -> bool:
    """True when ``expected`` referrals are in ``stages``; else an assertion that says where
    everyone is."""
    counts = {stage: await storm.count(stage) for stage in Stage}
    now = sum(counts[Stage(s)] for s in stages)
    assert now == expected, (
        f"expected {expected} referrals {'/'.join(stages)}, read model has {now}; "
        f"by stage: { {str(s): c for s, c in counts.items() if c} }"
    )
    return True


async def _expect_full(storm: Storm) -> bool:
    """True when no active practitioner has a free place."""
    free = await storm.free_places()
    assert not any(free.values()), f"free places left while referrals wait: {free}"
    return True


# ---------------------------------------------------------------------------------- the checks


async def _check_outcome(storm: Storm, monitor: CapacityMonitor) -> None:
    """Every invariant of the issue, on what the workflows and the read model say at the end."""
    assert monitor.polls > 0, "the capacity monitor never ran"
    assert not monitor.violations, (
        f"caseload table broke its invariants {len(monitor.violations)} times in "
        f"{monitor.polls} polls; first: {monitor.violations[:5]}"
    )
    views = dict(
        zip(
            storm.refs,
            await bounded(20, [lambda r=r: referrals.read(storm.client, r) for r in storm.refs]),
            strict=True,
        )
    )

    # Everyone ended up allocated (or was discharged after being allocated).
    stuck = {r: v.stage for r, v in views.items() if v.stage.value not in ALLOCATED_OR_DISCHARGED}
    assert not stuck, f"{len(stuck)} referrals not allocated: {list(stuck.items())[:10]}"

    # Nobody allocated twice: one "allocated" event per episode, and one episode each.
    for ref, view in views.items():
        episodes = [e.detail.get("episode") for e in view.timeline if e.kind == "allocated"]
        assert episodes == [1] and view.episode_number == 1, (
            f"{ref} was allocated {len(episodes)} times (episodes {episodes}, "
            f"episode number {view.episode_number})"
        )

    # The caseload table agrees with the referrals: each allocated referral holds exactly one
    # active place, with its own practitioner; nobody else holds one; nobody over capacity.
    await eventually(lambda: _caseload_matches(storm, views), timeout=SETTLE_TIMEOUT)

    # The allocator chose in the order of the rules.
    compared = await _check_allocator_order(storm, views)
    assert compared > 0, "the order check compared no pair of allocations: scenario too small"


async def _caseload_matches(storm: Storm, views: dict[str, ReferralView]) -> bool:
    """True when the caseload table holds exactly the referrals' allocations (and nobody's
    real caseload exceeds capacity); else an assertion listing the differences."""
    async with storm.sessions() as session:
        active = (
            await session.execute(
                select(CaseloadRow.ref, CaseloadRow.episode, CaseloadRow.practitioner_id).where(
                    CaseloadRow.ended_at.is_(None)
                )
            )
        ).all()
        capacities = dict(
            (await session.execute(select(PractitionerRow.id, PractitionerRow.capacity))).all()
        )
    places: dict[str, list[tuple[int, str]]] = {}
    for ref, episode, pid in active:
        places.setdefault(ref, []).append((episode, pid))
    problems = []
    holding: dict[str, int] = {}
    for ref, view in views.items():
        held_places = places.pop(ref, [])
        if view.stage == Stage.ALLOCATED:
            expected = [(view.episode_number, view.practitioner_id)]
            assert view.practitioner_id is not None
            holding[view.practitioner_id] = holding.get(view.practitioner_id, 0) + 1
        else:
            expected = []
        if held_places != expected:
            problems.append(
                f"{ref} ({view.stage}, {view.practitioner_id}, episode {view.episode_number}) "
                f"holds active caseload places {held_places}"
            )
    problems += [f"unknown referral {ref} holds {rows}" for ref, rows in places.items()]
    problems += [
        f"{pid} has {count} clients allocated, capacity {capacities[pid]}"
        for pid, count in holding.items()
        if count > capacities[pid]
    ]
    assert not problems, (
        f"{len(problems)} caseload inconsistencies: {problems[:10]}; "
        f"manual allocations during the storm: {storm.manual}"
    )
    return True


async def _check_allocator_order(storm: Storm, views: dict[str, ReferralView]) -> int:
    """No referral allocated by the allocator was chosen while one earlier in the order was
    eligible and passed over. Returns how many (chosen, passed-over candidate) pairs it checked.

    What is exact, concurrency notwithstanding: a round of the allocator runs one transaction
    that starts after ``t`` (its ``PlanRequest.at``, stamped on every caseload row it creates)
    and gives the free places to the first referrals in the order (urgency, received, ref) among
    those waiting, unheld and not being allocated. So if the allocator chose A in the round at
    ``t``, every referral B earlier in the order that was surely eligible then must have been
    allocated (or reserved) no later than that round. B was surely eligible at ``t`` when:

    - its acceptance had returned before ``t`` (so the read model said "waiting"),
    - it was never held (holds are timing-dependent here, so held referrals are left out),
    - its own place was reserved after A's round had finished: in a later allocator round
      (a later ``t``), or by a coordinator after A had taken its place (A's "allocated" event).
    """
    async with storm.sessions() as session:
        rows = (
            await session.execute(
                select(
                    ReferralRow.ref,
                    ReferralRow.urgency_rank,
                    ReferralRow.received_at,
                    CaseloadRow.started_at,
                ).join(
                    CaseloadRow,
                    (CaseloadRow.ref == ReferralRow.ref) & (CaseloadRow.episode == 1),
                )
            )
        ).all()
    key = {row.ref: (row.urgency_rank, as_utc(row.received_at), row.ref) for row in rows}
    reserved_at = {row.ref: as_utc(row.started_at) for row in rows}
    allocated_event = {
        ref: next(e for e in view.timeline if e.kind == "allocated") for ref, view in views.items()
    }
    by_allocator = {
        ref
        for ref, event in allocated_event.items()
        if event.detail.get("allocated_by") == "allocator"
    }
    assert by_allocator, "the allocator allocated nobody"
    rounds = sorted({reserved_at[ref] for ref in by_allocator})
    next_round = dict(zip(rounds, [*rounds[1:], None], strict=True))

    violations = []
    compared = 0
    for a in by_allocator:
        t = reserved_at[a]
        round_over = allocated_event[a].at
        if (following := next_round[t]) is not None:
            round_over = min(round_over, following)
        for b, b_key in key.items():
            if b == a or b in storm.ever_held or b_key >= key[a]:
                continue
            if storm.accepted_by[b] >= t:
                continue  # not surely on the list when A's round read it
            later = reserved_at[b] > t if b in by_allocator else reserved_at[b] > round_over
            compared += 1
            if later:
                violations.append(
                    f"{a} {key[a][:2]} allocated in the round at {t.isoformat()} while {b} "
                    f"{b_key[:2]}, waiting since before it, was only placed at "
                    f"{reserved_at[b].isoformat()}"
                )
    assert not violations, (
        f"{len(violations)} allocations out of order (of {compared} pairs): {violations[:5]}"
    )
    return compared


async def _allocator_trouble(storm: Storm) -> str:
    """What the allocator is stuck on, if anything (its failing activity's last error)."""
    try:
        raw = (
            await storm.client.get_workflow_handle(allocator_id(storm.task_queue)).describe()
        ).raw_description
    except RPCError as error:
        return f"allocator not described: {error}"
    failing = [
        f"{p.activity_type.name} attempt {p.attempt}: {p.last_failure.message[:300]}"
        for p in raw.pending_activities
        if p.HasField("last_failure")
    ]
    return f"allocator activity failing: {failing}" if failing else "allocator not stuck"


async def _terminate_all(storm: Storm) -> None:
    """End the allocator and every referral workflow this test started."""
    ids = [allocator_id(storm.task_queue), *(workflow_id(ref) for ref in storm.refs)]

    async def terminate(wid: str) -> None:
        with contextlib.suppress(RPCError):
            await storm.client.get_workflow_handle(wid).terminate("test finished")

    await bounded(20, [lambda w=w: terminate(w) for w in ids])
