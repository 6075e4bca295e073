"""Years of open re-entry: many open referrals, mostly idle, what they cost a worker and Temporal.

    .venv/bin/python -m bench.open_reentry [--referrals 5000] [--waiting-share 0.1] [--cache 500]

Discharged clients stay open for years. This sets up ``--referrals`` open referrals on the dev
server (file-backed, as ``make run``) with Harbour's worker in this process: most idle in open
re-entry (discharged, no timer: the default policy has no re-entry window), ``--waiting-share``
of them waiting with their check-in and breach timers running. Each is started the way a
continue-as-new starts a run — ``ReferralInput(carried=state)`` — so thousands can be set up in
minutes rather than driven through triage, an episode and discharge one by one; the run that
starts is the very run an idle referral lives in. Then it measures:

1. the worker's memory (this process's RSS: client, worker, SQLite read model) with the
   workflow cache bounded by ``--cache`` (``Settings.worker_max_cached_workflows``): after the
   set-up, and after every referral has been asked its state once (each query of a workflow
   that is not cached replays it, so the cache turns over N times);
2. Temporal's stored bytes per open referral: the dev server's SQLite file (with its WAL)
   before and after the set-up, divided by N (history, mutable state, visibility, timers);
3. a restarted worker's first action: the worker is stopped, a fresh one (empty cache, the
   sandbox importing the workflows anew) is started, and the time to the first answered
   ``hold`` on a waiting referral, then the first ``state`` query of an idle one, is taken;
4. how fast due timers fire: ``--burst`` more waiting referrals whose check-in falls due a few
   seconds after they start, all at once; check-ins handled per second until every one has
   written its read-model row (each: a workflow task, the read-model write, the position, a
   letter to the client);
5. under time-skipping, one year of one idle re-entry referral and of one waiting referral:
   history events and bytes (the history as Temporal stores it, protobuf) at the end.

The figures are printed; nothing is asserted (BENCHMARKS.md records runs, docs/scale.md uses them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from temporalio.client import Client, WorkflowHandle

from bench.common import (
    PRACTITIONER_ID,
    PSEUDONYM_KEY,
    BenchStack,
    cpu_seconds,
    harbour_stack,
    machine_line,
    ms,
    percentile,
    run_main,
    submission,
)
from models.actions import Hold, HoldReason
from models.policy import ServicePolicy
from models.referral import Episode, ReferralInput, ReferralState, Stage
from models.tables import TimelineEventRow
from readmodel.practitioners import add_practitioner
from services import referrals
from worker import build_worker
from workflows.referral import ReferralWorkflow, workflow_id

YEAR = timedelta(days=365)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def open_ref(n: int) -> str:
    return f"B{n:010d}"


def open_state(n: int, now: datetime, policy: ServicePolicy, *, waiting: bool) -> ReferralState:
    """A referral as continue-as-new carries it: discharged after one episode (idle in
    re-entry), or waiting since a week ago with its check-ins running."""
    ref = open_ref(n)
    received = now - timedelta(days=200 if not waiting else 7)
    state = ReferralState(
        ref=ref,
        submission=submission(n),
        policy=policy,
        stage=Stage.DISCHARGED if not waiting else Stage.WAITING,
        received_at=received,
        stage_since=now - timedelta(days=30),
        acknowledged=True,
        accepted_at=received + timedelta(days=3),
        seq=12,
    )
    if waiting:
        state.waiting_since = received + timedelta(days=3)
        state.stage_since = state.waiting_since
    else:
        state.first_session_at = received + timedelta(days=60)
        state.practitioner_id = PRACTITIONER_ID
        state.practitioner_history = [PRACTITIONER_ID]
        state.episode_number = 1
        state.discharged_at = now - timedelta(days=30)
        state.episode = Episode(
            number=1,
            practitioner_id=PRACTITIONER_ID,
            allocated_at=received + timedelta(days=50),
            planned_sessions=6,
            last_contact_at=now - timedelta(days=30),
        )
    return state


async def start_open(
    client: Client, queue: str, states: Iterable[ReferralState], concurrency: int = 50
) -> float:
    """Start one run per state (as continue-as-new would); returns starts per second. The
    states are made as they are started, so this process never holds them all (its memory is
    the worker's figure)."""
    sem = asyncio.Semaphore(concurrency)
    count = 0

    async def start(state: ReferralState) -> None:
        nonlocal count
        count += 1
        async with sem:
            await client.start_workflow(
                ReferralWorkflow.run,
                ReferralInput(ref=state.ref, carried=state),
                id=workflow_id(state.ref),
                task_queue=queue,
            )

    began = time.perf_counter()
    pending: set[asyncio.Task[None]] = set()
    for state in states:
        pending.add(asyncio.ensure_future(start(state)))
        if len(pending) >= concurrency:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.gather(*pending)
    return count / (time.perf_counter() - began)


async def until_idle(seconds: float = 1.0, below: float = 0.05, timeout: float = 600.0) -> None:
    """Wait until this process (the worker) used less than ``below`` of a core for
    ``seconds``: every workflow task has been handled."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        before = time.process_time()
        await asyncio.sleep(seconds)
        if time.process_time() - before < below * seconds:
            return


async def query_all(client: Client, refs: list[str], concurrency: int = 20) -> float:
    """Ask each referral its state once (the answers are dropped); returns queries per second."""
    sem = asyncio.Semaphore(concurrency)

    async def one(ref: str) -> None:
        async with sem:
            await client.get_workflow_handle(workflow_id(ref)).query(ReferralWorkflow.state)

    began = time.perf_counter()
    for start in range(0, len(refs), 500):
        await asyncio.gather(*(one(r) for r in refs[start : start + 500]))
    return len(refs) / (time.perf_counter() - began)


async def checkins_recorded(stack: BenchStack, refs: list[str]) -> int:
    async with stack.session_factory() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(TimelineEventRow)
            .where(TimelineEventRow.kind == "checkin", TimelineEventRow.ref.in_(refs))
        )
    return int(count or 0)


@dataclass
class ReentryFigures:
    referrals: int
    waiting: int
    start_rate: float = 0.0
    rss_before: float = 0.0
    rss_after_start: float = 0.0
    rss_after_queries: float = 0.0
    query_rate: float = 0.0
    db_bytes_per_referral: float = 0.0
    restart_first_update: float = 0.0
    restart_first_query: float = 0.0
    warm_update_p50: float = 0.0
    burst: int = 0
    burst_rate: float = 0.0
    burst_cpu_python: float = 0.0
    burst_cpu_server: float = 0.0
    idle_year_events: int = 0
    idle_year_bytes: int = 0
    waiting_year_events: int = 0
    waiting_year_bytes: int = 0
    waiting_year_checkins: int = 0


async def on_dev_server(args: argparse.Namespace, figures: ReentryFigures) -> None:
    async with harbour_stack(time_skipping=False, sink="memory") as stack:
        await add_practitioner(
            stack.session_factory, PRACTITIONER_ID, "Pat Bench", "pat@bench.example.org", capacity=0
        )
        stack.settings = stack.settings.model_copy(
            update={"worker_max_cached_workflows": args.cache}
        )
        queue = f"bench-open-{uuid.uuid4().hex[:8]}"
        temporal_db = stack.workdir / "temporal.db"
        policy = stack.policy
        now = datetime.now(UTC)
        states = (
            open_state(n, now, policy, waiting=n < figures.waiting)
            for n in range(figures.referrals)
        )
        refs = [open_ref(n) for n in range(figures.referrals)]
        waiting_refs, idle_refs = refs[: figures.waiting], refs[figures.waiting :]
        figures.rss_before = _rss_mb()
        await until_idle()
        db_before = _db_bytes(temporal_db)
        async with stack.worker(queue):
            figures.start_rate = await start_open(stack.client, queue, states)
            await until_idle()
            figures.rss_after_start = _rss_mb()
            figures.query_rate = await query_all(stack.client, refs)
            await until_idle()
            figures.rss_after_queries = _rss_mb()
            warm = []
            for ref in waiting_refs[1:21]:
                began = time.perf_counter()
                await referrals.act(
                    stack.client, ref, "hold", Hold(reason=HoldReason.OTHER, coordinator="c-b")
                )
                warm.append(time.perf_counter() - began)
            figures.warm_update_p50 = percentile(warm, 50)
        await asyncio.sleep(2)  # let the server's own writes settle before sizing its file
        figures.db_bytes_per_referral = (_db_bytes(temporal_db) - db_before) / figures.referrals

        # A restarted worker: fresh sandbox, empty cache.
        worker = build_worker(
            stack.client, stack.settings, stack.engine, PSEUDONYM_KEY, task_queue=queue
        )
        began = time.perf_counter()
        async with worker:
            await referrals.act(
                stack.client,
                waiting_refs[0],
                "hold",
                Hold(reason=HoldReason.OTHER, coordinator="c-b"),
            )
            figures.restart_first_update = time.perf_counter() - began
            began = time.perf_counter()
            await referrals.read(stack.client, idle_refs[0])
            figures.restart_first_query = time.perf_counter() - began

            # A burst of due check-ins: waiting referrals whose check-in falls due in 5 s.
            due_in = timedelta(seconds=5)
            burst = [
                open_state(1_000_000 + n, now, policy, waiting=True) for n in range(args.burst)
            ]
            start = datetime.now(UTC)
            for state in burst:
                assert state.waiting_since is not None
                state.last_checkin_at = start + due_in - policy.checkin_every
            await start_open(stack.client, queue, burst)
            refs = [s.ref for s in burst]
            del burst
            await asyncio.sleep(max(0.0, (start + due_in - datetime.now(UTC)).total_seconds()))
            began, cpu = time.perf_counter(), cpu_seconds()
            while True:
                if await checkins_recorded(stack, refs) >= len(refs):
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - began
            python, server = cpu_seconds()
            figures.burst = len(refs)
            figures.burst_rate = len(refs) / elapsed
            figures.burst_cpu_python = (python - cpu[0]) / len(refs)
            figures.burst_cpu_server = (server - cpu[1]) / len(refs)
            await until_idle()


async def _history_size(handle: WorkflowHandle) -> tuple[int, int]:
    history = await handle.fetch_history()
    events = list(history.events)
    return len(events), sum(e.ByteSize() for e in events)


async def on_time_skipping(figures: ReentryFigures) -> None:
    async with harbour_stack(time_skipping=True, sink="memory") as stack:
        await add_practitioner(
            stack.session_factory, PRACTITIONER_ID, "Pat Bench", "pat@bench.example.org", capacity=0
        )
        queue = f"bench-year-{uuid.uuid4().hex[:8]}"
        now = datetime.fromtimestamp(time.time(), UTC)
        async with stack.worker(queue):
            for waiting in (False, True):
                state = open_state(2_000_000 + int(waiting), now, stack.policy, waiting=waiting)
                # The server's clock, not this machine's: it starts far in the future.
                handle = await stack.client.start_workflow(
                    ReferralWorkflow.run,
                    ReferralInput(ref=state.ref, carried=state),
                    id=workflow_id(state.ref),
                    task_queue=queue,
                )
                view = await handle.query(ReferralWorkflow.state)
                del view
                await stack.env.sleep(YEAR)
                events, size = await _history_size(handle)
                if waiting:
                    figures.waiting_year_events, figures.waiting_year_bytes = events, size
                    view = await handle.query(ReferralWorkflow.state)
                    figures.waiting_year_checkins = sum(
                        1 for e in view.timeline if e.kind == "checkin"
                    )
                else:
                    figures.idle_year_events, figures.idle_year_bytes = events, size
                await handle.terminate("bench finished")


def report(figures: ReentryFigures, args: argparse.Namespace, load: str) -> None:
    f = figures
    print()
    print(
        f"Open re-entry — dev server (file-backed), worker in this process; {machine_line()}; "
        f"load {load} → {_load()}"
    )
    print(
        f"  open referrals: {f.referrals} ({f.referrals - f.waiting} idle in re-entry, "
        f"{f.waiting} waiting), started as continue-as-new does at {f.start_rate:.0f}/s"
    )
    print(f"  workflow cache bound (max_cached_workflows): {args.cache}")
    print(
        f"  worker RSS: {f.rss_before:.0f} MB before, {f.rss_after_start:.0f} MB with all "
        f"started, {f.rss_after_queries:.0f} MB after each was queried once "
        f"({f.query_rate:.0f} queries/s, the cache turning over)"
    )
    print(
        f"  Temporal's file (SQLite + WAL) grew {f.db_bytes_per_referral / 1024:.1f} KiB "
        f"per open referral"
    )
    print(
        f"  restarted worker: first action (hold) answered {ms(f.restart_first_update)} after "
        f"the worker started, first query of an idle referral then {ms(f.restart_first_query)}; "
        f"a warm hold p50 {ms(f.warm_update_p50)}"
    )
    print(
        f"  due check-ins, {f.burst} at once: {f.burst_rate:.1f}/s handled; CPU per check-in "
        f"python {1000 * f.burst_cpu_python:.0f} ms, server {1000 * f.burst_cpu_server:.0f} ms"
    )
    print(
        f"  one year under time-skipping: idle re-entry referral {f.idle_year_events} events, "
        f"{f.idle_year_bytes / 1024:.1f} KiB of history; waiting referral "
        f"{f.waiting_year_events} events, {f.waiting_year_bytes / 1024:.1f} KiB, "
        f"{f.waiting_year_checkins} check-ins"
    )


async def main(args: argparse.Namespace) -> int:
    load = _load()
    waiting = max(2, round(args.referrals * args.waiting_share))
    figures = ReentryFigures(referrals=args.referrals, waiting=waiting)
    async with asyncio.timeout(args.timeout):
        await on_dev_server(args, figures)
        await on_time_skipping(figures)
    report(figures, args, load)
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=5000, help="open referrals (5000)")
    parser.add_argument(
        "--waiting-share", type=float, default=0.1, help="share of them waiting (0.1)"
    )
    parser.add_argument("--cache", type=int, default=500, help="max_cached_workflows (500)")
    parser.add_argument("--burst", type=int, default=200, help="check-ins due at once (200)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after (3600 s)")
    return parser.parse_args()


if __name__ == "__main__":
    run_main(main(parse_args()))
