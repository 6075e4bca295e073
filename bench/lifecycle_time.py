"""Wall time of one full two-episode referral lifecycle under time-skipping.

    .venv/bin/python -m bench.lifecycle_time [--runs 5]

Allocation is by hand (policy ``auto_allocate=False``, as in the lifecycle test), so the
lifecycle has its "allocate" step.

The time-skipping test server (``temporal-test-server``), Harbour's worker
(``worker.build_worker``), a real SQLite read model and a real aiosmtpd sink writing ``.eml``
files. One lifecycle, as in ``tests/test_referral_lifecycle.py``:

    refer -> information request -> answer -> accept -> 9 weeks waiting (check-ins, breach)
    -> allocate -> book a session -> its reminder -> baseline ReQoL -> 6 sessions -> end ReQoL
    -> discharge (continue-as-new) -> 90 days -> "I'd like to come back" by SMS
    -> second episode -> a session -> skipped baseline -> discharge

Staff actions are updates that return when the workflow has done them (its activities
included), so the script waits on nothing else — except after the client's SMS, a signal:
there it queries the state every ``--poll-ms`` until the second episode has begun, and reports
that polling separately. One untimed lifecycle first warms the worker up (the sandbox's first
import of the workflow); its time is printed as "cold".
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import timedelta

from bench.common import (
    KEYRING,
    PRACTITIONER_ID,
    PSEUDONYM_KEY,
    ActivityTimer,
    BenchStack,
    Clock,
    harbour_stack,
    machine_line,
    run_main,
    submission,
)
from models.actions import (
    Allocation,
    Discharge,
    DischargeReason,
    InformationAnswer,
    ReqolSubmission,
    ReqolWhen,
    SessionBooking,
    SessionRecord,
    TriageDecision,
    TriageOutcome,
)
from models.messages import Channel
from models.referral import LiaisonKind, ReferralView, SessionOutcome, Stage
from services import inbound_messages, referrals
from workflows.referral import workflow_id

CATEGORIES = ("submit", "updates", "sleep", "message", "poll")


def _reqol(per_item: int) -> dict[int, int]:
    # Negatively worded items (1, 3, 6, 9) are reversed when scored.
    return {i: (4 - per_item if i in (1, 3, 6, 9) else per_item) for i in range(1, 11)}


class Lifecycle:
    """Drives one referral through both episodes, timing each kind of step."""

    def __init__(self, stack: BenchStack, queue: str, n: int, poll_interval: float) -> None:
        self.stack = stack
        self.queue = queue
        self.n = n
        self.poll_interval = poll_interval
        self.policy = stack.policy.model_copy(update={"auto_allocate": False})
        self.clock = Clock()
        self.actions = Clock()  # the updates again, by action
        self.polls = 0

    async def act(self, ref: str, action: str, arg: object) -> ReferralView:
        with self.clock("updates"), self.actions(action):
            return await referrals.act(self.stack.client, ref, action, arg)  # type: ignore[arg-type]

    async def sleep(self, duration: timedelta) -> None:
        """Let ``duration`` pass a week at a time, as the tests' harness does: one long sleep
        on the time-skipping server now and then stalls until its RPC times out (seen here,
        2 runs in 5 on 2026-12-05), week-sized steps have not."""
        with self.clock("sleep"):
            while duration > timedelta(0):
                step = min(duration, timedelta(weeks=1))
                await self.stack.env.sleep(step)
                duration -= step

    async def wait_until(self, ref: str, stage: Stage, episode: int) -> ReferralView:
        """Query the state every ``poll_interval`` until it shows ``stage`` in ``episode``."""
        deadline = time.monotonic() + 30
        with self.clock("poll"):
            while True:
                self.polls += 1
                view = await referrals.read(self.stack.client, ref)
                if view.stage == stage and view.episode_number == episode:
                    return view
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{ref} still {view.stage}/{view.episode_number}")
                await asyncio.sleep(self.poll_interval)

    async def session(self, ref: str, **kw: object) -> None:
        await self.act(ref, "record_session", SessionRecord(outcome=SessionOutcome.ATTENDED, **kw))

    async def run(self) -> str:
        """The whole two-episode lifecycle; returns the referral's reference."""
        env = self.stack.env
        with self.clock("submit"):
            ref = await referrals.submit(
                self.stack.client, submission(self.n), self.policy, task_queue=self.queue
            )
        question = TriageDecision(
            outcome=TriageOutcome.REQUEST_INFORMATION, coordinator="c-1", question="GP letter?"
        )
        await self.act(ref, "triage", question)
        await self.act(ref, "answer_information", InformationAnswer(answer="attached"))
        view = await self.act(
            ref, "triage", TriageDecision(outcome=TriageOutcome.ACCEPT, coordinator="c-1")
        )
        assert view.stage == Stage.WAITING, view.stage

        await self.sleep(timedelta(weeks=9))  # two check-ins, the waiting standard breached
        await self.act(
            ref, "allocate", Allocation(practitioner_id=PRACTITIONER_ID, coordinator="c-1")
        )
        now = await env.get_current_time()
        booked = await self.act(
            ref, "book_session", SessionBooking(at=now + timedelta(days=3), location="café")
        )
        session_id = booked.booked_sessions[0].session_id
        await self.sleep(timedelta(days=2, hours=6))  # the reminder goes out
        await self.sleep(timedelta(days=1))
        baseline = ReqolSubmission(when=ReqolWhen.BASELINE, responses=_reqol(2))
        await self.act(ref, "record_reqol", baseline)
        await self.session(ref, session_id=session_id, liaison=[LiaisonKind.HOUSING])
        for _ in range(5):
            await self.session(ref, liaison=[LiaisonKind.BENEFITS])
        end = ReqolSubmission(when=ReqolWhen.END, responses=_reqol(3))
        await self.act(ref, "record_reqol", end)
        view = await self.act(
            ref, "discharge", Discharge(reason=DischargeReason.COMPLETED, summary="done")
        )
        assert view.stage == Stage.DISCHARGED, view.stage

        await self.sleep(timedelta(days=90))
        with self.clock("message"):
            stored = await inbound_messages.receive(
                self.stack.client,
                self.stack.session_factory,
                PSEUDONYM_KEY,
                KEYRING,
                channel=Channel.SMS,
                sender=submission(self.n).client.phone or "",
                body="Hi, I'd like to come back please",
            )
        assert stored.ref == ref, (stored.ref, ref)
        await self.wait_until(ref, Stage.ALLOCATED, episode=2)
        await self.session(ref)
        skipped = ReqolSubmission(when=ReqolWhen.BASELINE, skipped_reason="unwell")
        await self.act(ref, "record_reqol", skipped)
        view = await self.act(
            ref,
            "discharge",
            Discharge(reason=DischargeReason.ENDED_EARLY_BY_AGREEMENT, summary="done"),
        )
        assert (view.stage, view.episode_number) == (Stage.DISCHARGED, 2), view
        return ref


async def one_lifecycle(
    stack: BenchStack, queue: str, n: int, poll_interval: float
) -> tuple[float, Lifecycle, int]:
    """Time one lifecycle; then end its workflow (untimed) so it cannot disturb the next.

    Returns the wall time, the step timings and the letters it sent.
    """
    mails_before = stack.mails_sent()
    lifecycle = Lifecycle(stack, queue, n, poll_interval)
    began = time.perf_counter()
    ref = await lifecycle.run()
    elapsed = time.perf_counter() - began
    # The sink writes files on its own thread: give the last letters a moment to land.
    await asyncio.sleep(0.2)
    mails = stack.mails_sent() - mails_before
    # The time-skipping server skips time only when no workflow has work pending: a referral
    # left open would fire its timers inside the next run's sleeps.
    await stack.client.get_workflow_handle(workflow_id(ref)).terminate("benchmark run finished")
    return elapsed, lifecycle, mails


async def main(args: argparse.Namespace) -> int:
    poll_interval = args.poll_ms / 1000
    timer = ActivityTimer() if args.activity_breakdown else None
    async with asyncio.timeout(args.timeout):
        async with harbour_stack(
            time_skipping=True, sink=args.sink, log_level=args.log_level
        ) as stack:
            queue = f"bench-lifecycle-{uuid.uuid4().hex[:8]}"
            async with stack.worker(queue, [timer] if timer else []):
                cold, _, _ = await one_lifecycle(stack, queue, 0, poll_interval)
                results = [
                    await one_lifecycle(stack, queue, n, poll_interval)
                    for n in range(1, args.runs + 1)
                ]

    times = [elapsed for elapsed, _, _ in results]
    print()
    print(
        f"Harbour two-episode lifecycle — time-skipping server, {machine_line()}; "
        f"runs {args.runs}, sink {args.sink}, poll every {args.poll_ms:g} ms, "
        f"log level {args.log_level}"
    )
    print(
        f"  wall time: min {min(times):.3f} s, median {statistics.median(times):.3f} s, "
        f"max {max(times):.3f} s (cold first run on a fresh worker, untimed above: {cold:.3f} s)"
    )
    header = "".join(f"{c:>18}" for c in CATEGORIES)
    print(f"  {'run':<5}{'total':>9}{header}{'polls':>7}{'letters':>9}")
    for i, (elapsed, lifecycle, mails) in enumerate(results, start=1):
        cells = "".join(
            f"{lifecycle.clock.totals.get(c, 0.0):>9.3f} s ({lifecycle.clock.counts.get(c, 0):>3})"
            for c in CATEGORIES
        )
        print(f"  {i:<5}{elapsed:>7.3f} s{cells}{lifecycle.polls:>7}{mails:>9}")
    print("  (each cell: wall time in that kind of step, and how many steps)")
    actions = Clock()
    for _, lifecycle, _ in results:
        for name, total in lifecycle.actions.totals.items():
            actions.totals[name] = actions.totals.get(name, 0.0) + total
            actions.counts[name] = actions.counts.get(name, 0) + lifecycle.actions.counts[name]
    print("  updates by action, mean round trip over the timed runs:")
    for name in sorted(actions.totals, key=lambda k: -actions.totals[k]):
        mean = actions.totals[name] / actions.counts[name]
        per_run = actions.counts[name] / len(results)
        print(f"    {name:<20}{mean * 1000:>7.1f} ms  x{per_run:g} per lifecycle")
    if timer is not None:
        print("  activities (warm-up run included):")
        print("\n".join(timer.table(show_waits=False)))
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed lifecycles (5)")
    parser.add_argument(
        "--poll-ms", type=float, default=5.0, help="state query interval after the SMS (5 ms)"
    )
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
        "--activity-breakdown",
        action="store_true",
        help="time every activity in the worker and print a table",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after (600 s)")
    args = parser.parse_args()
    if not 1 <= args.runs <= 100 or not 0 < args.poll_ms <= 1000:
        parser.error("--runs must be 1..100 and --poll-ms in (0, 1000]")
    return args


if __name__ == "__main__":
    run_main(main(parse_args()))
