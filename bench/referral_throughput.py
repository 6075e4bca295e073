"""Referrals started and driven to waiting per second, next to raw Temporal, in one run.

    .venv/bin/python -m bench.referral_throughput [--count 500] [--concurrency 50]

One dev server (``temporal server start-dev``, persisted to a SQLite file as ``make run`` does),
one Python process holding the client and the worker, everything on 127.0.0.1:

1. raw Temporal: ``--count`` starts of a workflow that returns at once (``bench.trivial``, no
   activities, default data converter), ``--concurrency`` at a time; starts/s, then
   completions/s end to end (first start to last result);
2. Harbour: ``--count`` referrals, each submitted (``services.referrals.submit``) and accepted
   at triage (``services.referrals.act``, the ``triage`` update) — the update returns once the
   referral is waiting and its read model written (before the "letters-after-update" patch,
   also once its letters were sent) — ``--concurrency`` at a time; referrals/s until all are
   waiting and until every letter has gone too (the rate, the ratio and the CPU are taken at
   that end), p50/p95 of the submit and of the accept round trips.

   The service's default policy is used: joining the list wakes the allocator
   (``workflows/allocator.py``). The only practitioner's caseload is full, as it is when a
   waiting list exists, so every referral stays waiting. ``--hand-allocation`` turns the
   allocator off (``auto_allocate=False``), the path as it was before the allocator existed.

Both phases run after a small warm-up (the sandbox's first import of a workflow is slow).
A benchmark prints its figures; it asserts nothing about them (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass, field

from temporalio.client import Client
from temporalio.worker import Interceptor, Worker

from bench.common import (
    PRACTITIONER_ID,
    ActivityTimer,
    BenchStack,
    SinkKind,
    SqlTimer,
    cpu_seconds,
    harbour_stack,
    machine_line,
    ms,
    percentile,
    run_main,
    submission,
)
from bench.trivial import TrivialWorkflow
from models.actions import TriageDecision, TriageOutcome
from models.referral import Stage
from readmodel.practitioners import add_practitioner
from services import referrals

ACCEPT = TriageDecision(outcome=TriageOutcome.ACCEPT, coordinator="c-bench")
GOAL_RATIO = 0.5
# Acknowledgements to the referrer and the client, then "accepted" and "on the list".
LETTERS_PER_REFERRAL = 4


@dataclass
class ThroughputPhase:
    """What one phase measured."""

    name: str
    count: int
    elapsed: float = 0.0
    cpu_python: float = 0.0
    cpu_server: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def rate_at(self, mark: str) -> float:
        return self.count / self.marks[mark] if self.marks.get(mark) else 0.0


class _Measured:
    """Wall time and CPU (this process, the Temporal server) of the ``with`` body."""

    def __init__(self, phase: ThroughputPhase) -> None:
        self.phase = phase

    def __enter__(self) -> _Measured:
        self._wall = time.perf_counter()
        self._cpu = cpu_seconds()
        return self

    def mark(self, name: str) -> None:
        self.phase.marks[name] = time.perf_counter() - self._wall

    def __exit__(self, *exc: object) -> None:
        self.phase.elapsed = time.perf_counter() - self._wall
        python, server = cpu_seconds()
        self.phase.cpu_python = python - self._cpu[0]
        self.phase.cpu_server = server - self._cpu[1]


async def raw_temporal(
    stack: BenchStack, count: int, concurrency: int, warmup: int
) -> ThroughputPhase:
    """Start ``count`` trivial workflows, then wait for every result."""
    # Same connection, but Temporal's default data converter: no pydantic, no encryption.
    client = Client(stack.client.service_client, namespace=stack.client.namespace)
    queue = f"bench-raw-{uuid.uuid4().hex[:8]}"
    phase = ThroughputPhase("raw", count, latencies={"start": []})
    sem = asyncio.Semaphore(concurrency)
    async with Worker(client, task_queue=queue, workflows=[TrivialWorkflow]):
        await asyncio.gather(
            *(
                client.execute_workflow(
                    TrivialWorkflow.run, i, id=f"{queue}-warm-{i}", task_queue=queue
                )
                for i in range(warmup)
            )
        )

        async def start(i: int) -> object:
            async with sem:
                began = time.perf_counter()
                handle = await client.start_workflow(
                    TrivialWorkflow.run, i, id=f"{queue}-{i}", task_queue=queue
                )
                phase.latencies["start"].append(time.perf_counter() - began)
                return handle

        async def result(handle: object) -> None:
            async with sem:
                await handle.result()  # type: ignore[attr-defined]

        with _Measured(phase) as measured:
            handles = await asyncio.gather(*(start(i) for i in range(count)))
            measured.mark("started")
            await asyncio.gather(*(result(h) for h in handles))
    return phase


async def harbour(
    stack: BenchStack,
    count: int,
    concurrency: int,
    warmup: int,
    interceptors: list[Interceptor],
    hand_allocation: bool,
) -> ThroughputPhase:
    """Submit ``count`` referrals and accept each at triage; time until all are waiting."""
    queue = f"bench-harbour-{uuid.uuid4().hex[:8]}"
    phase = ThroughputPhase("harbour", count, latencies={"submit": [], "accept": []})
    sem = asyncio.Semaphore(concurrency)
    client = stack.client
    policy = stack.policy.model_copy(update={"auto_allocate": not hand_allocation})
    # A full caseload: the allocator, woken by every referral joining the list, finds no room.
    await add_practitioner(
        stack.session_factory, PRACTITIONER_ID, "Pat Bench", "pat@bench.example.org", capacity=0
    )

    async def drive(n: int, record: bool) -> None:
        async with sem:
            began = time.perf_counter()
            ref = await referrals.submit(client, submission(n), policy, task_queue=queue)
            submitted = time.perf_counter()
            view = await referrals.act(client, ref, "triage", ACCEPT)
            accepted = time.perf_counter()
        if view.stage != Stage.WAITING:
            raise RuntimeError(f"referral {ref} is {view.stage}, not waiting")
        if record:
            phase.latencies["submit"].append(submitted - began)
            phase.latencies["accept"].append(accepted - submitted)

    async with stack.worker(queue, interceptors):
        await asyncio.gather(*(drive(100_000 + i, record=False) for i in range(warmup)))
        await _letters_sent(stack, LETTERS_PER_REFERRAL * warmup)
        mails_before = stack.mails_sent()
        with _Measured(phase) as measured:
            await asyncio.gather(*(drive(i, record=True) for i in range(count)))
            measured.mark("waiting")
            # Letters follow the accept (they are not part of it): the phase, its rate and its
            # CPU end only once every referral's letters have gone too.
            await _letters_sent(stack, mails_before + LETTERS_PER_REFERRAL * count)
        phase.marks["mails"] = stack.mails_sent() - mails_before
    return phase


async def _letters_sent(stack: BenchStack, total: int, timeout: float = 300.0) -> None:
    """Wait until the SMTP sink has taken ``total`` letters in all (or ``timeout`` passed)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if stack.mails_sent() >= total:
            return
        await asyncio.sleep(0.02)


def _report(
    args: argparse.Namespace,
    raw: ThroughputPhase,
    ref: ThroughputPhase,
    timer: ActivityTimer | None,
    sql: SqlTimer | None,
) -> None:
    def row(label: str, rate: float, values: list[float] | None = None) -> str:
        p50 = ms(percentile(values, 50)) if values else ""
        p95 = ms(percentile(values, 95)) if values else ""
        return f"  {label:<42}{rate:>9.1f}/s{p50:>12}{p95:>12}"

    def cpu(phase: ThroughputPhase) -> str:
        return (
            f"  CPU during {phase.name}: python {phase.cpu_python:.1f} s "
            f"({100 * phase.cpu_python / phase.elapsed:.0f}% of a core, "
            f"{1000 * phase.cpu_python / phase.count:.0f} ms per workflow), temporal server "
            f"{phase.cpu_server:.1f} s ({100 * phase.cpu_server / phase.elapsed:.0f}%, "
            f"{1000 * phase.cpu_server / phase.count:.0f} ms per workflow), "
            f"wall {phase.elapsed:.1f} s"
        )

    started = raw.rate_at("started")
    ratio_starts = ref.rate / started if started else 0.0
    ratio_done = ref.rate / raw.rate if raw.rate else 0.0
    print()
    print(
        f"Harbour referral throughput — dev server (file-backed), {machine_line()}; "
        f"count {args.count}, concurrency {args.concurrency}, warm-up {args.warmup}, "
        f"sink {args.sink}, log level {args.log_level}, "
        f"{'hand allocation' if args.hand_allocation else 'allocator on, caseload full'}"
    )
    print(f"  {'':<42}{'rate':>11}{'p50':>12}{'p95':>12}")
    print(row("raw Temporal: trivial workflows started", started, raw.latencies["start"]))
    print(row("raw Temporal: trivial workflows completed", raw.rate))
    print(row("Harbour: referrals submitted and waiting", ref.rate_at("waiting")))
    print(row("Harbour: … and every letter sent", ref.rate))
    print(row("  submit round trip (start_workflow)", 0.0, ref.latencies["submit"]))
    print(row("  accept round trip (triage update)", 0.0, ref.latencies["accept"]))
    verdict = "met" if ratio_starts >= GOAL_RATIO else "MISSED"
    print(
        f"  Harbour / raw starts: {ratio_starts:.2f} (goal >= {GOAL_RATIO:.2f}: {verdict}); "
        f"Harbour / raw completions: {ratio_done:.2f}"
    )
    print(cpu(raw))
    print(cpu(ref))
    print(
        f"  letters sent in the Harbour phase: {int(ref.marks['mails'])} "
        f"({ref.marks['mails'] / ref.count:.1f} per referral)"
    )
    if timer is not None:
        print("  activities in the Harbour phase (incl. warm-up):")
        print("\n".join(timer.table()))
    if sql is not None:
        print("  read-model statements in the Harbour phase (incl. warm-up), as awaited:")
        print("\n".join(sql.table()))


async def main(args: argparse.Namespace) -> int:
    sink: SinkKind = args.sink
    timer = ActivityTimer() if args.activity_breakdown else None
    sql: SqlTimer | None = None
    async with asyncio.timeout(args.timeout):
        async with harbour_stack(time_skipping=False, sink=sink, log_level=args.log_level) as stack:
            raw = await raw_temporal(stack, args.count, args.concurrency, args.warmup)
            if args.activity_breakdown:
                sql = SqlTimer(stack.engine)
            ref = await harbour(
                stack,
                args.count,
                args.concurrency,
                args.warmup,
                [timer] if timer else [],
                args.hand_allocation,
            )
    _report(args, raw, ref, timer, sql)
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500, help="workflows per phase (500)")
    parser.add_argument(
        "--concurrency", type=int, default=50, help="in flight at once, both phases (50)"
    )
    parser.add_argument("--warmup", type=int, default=10, help="untimed runs first (10)")
    parser.add_argument(
        "--sink",
        choices=["files", "memory"],
        default="files",
        help="SMTP sink: .eml files as in `make run` (default), or count in memory",
    )
    parser.add_argument(
        "--log-level", default="WARNING", help="Harbour's log level, to stderr (WARNING)"
    )
    parser.add_argument(
        "--hand-allocation",
        action="store_true",
        help="policy auto_allocate=False: accepting does not wake the allocator",
    )
    parser.add_argument(
        "--activity-breakdown",
        action="store_true",
        help="time every activity and read-model statement in the worker; print tables",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after (900 s)")
    args = parser.parse_args()
    if not 1 <= args.count <= 100_000 or not 1 <= args.concurrency <= 1000:
        parser.error("--count must be 1..100000 and --concurrency 1..1000")
    return args


if __name__ == "__main__":
    run_main(main(parse_args()))
