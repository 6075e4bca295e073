"""A staff action over HTTP on the dev stack, beside raw Temporal's update round trip.

    .venv/bin/python -m bench.staff_action [--referrals 60]

One dev server (``temporal server start-dev``, persisted to a SQLite file as ``make run`` does);
one Python process holding the client, Harbour's worker and the HTTP API on a real uvicorn at
127.0.0.1 (as ``make run``); the requests come one at a time from an HTTP client in the same
process (a coordinator's browser does one thing at a time; ``--pause`` seconds between actions,
a person's pace — by default none, the worst case: the letters of one action are still going
while the next is asked). ``--referrals`` referrals are
submitted and recorded first (the allocator on, the only caseload full, as in
``bench.referral_throughput``); then, for each in turn:

1. ``POST /v1/referrals/{ref}/triage`` (accept: the referral joins the waiting list, its
   position is read, the client's letter and the allocator's wake-up follow);
2. ``POST /v1/referrals/{ref}/hold`` and 3. ``DELETE /v1/referrals/{ref}/hold``;

then a hold on each again through ``services.referrals.act`` in-process (no HTTP, no key
check): the workflow's share of the round trip.

After each response the read model is read once: "read model current" counts the responses
after which it already showed the new stage (what a page after the redirect shows). Raw
Temporal: three times as many updates, one at a time, to a workflow that only counts them.
Prints p50 / p95 per action and the load average; asserts nothing (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid

import httpx
from sqlalchemy import select
from temporalio.client import Client
from temporalio.worker import Worker

from api.app import create_app
from api.server import ApiServer
from api.settings import ApiSettings
from bench.common import (
    PRACTITIONER_ID,
    PSEUDONYM_KEY,
    BenchStack,
    harbour_stack,
    machine_line,
    ms,
    percentile,
    run_main,
    submission,
)
from bench.trivial import TrivialUpdatesWorkflow
from models.actions import Hold, HoldReason
from models.tables import ReferralRow
from readmodel.practitioners import add_practitioner
from services import referrals
from services.api_keys import create_api_key


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


async def raw_updates(stack: BenchStack, count: int) -> list[float]:
    """``count`` updates, one at a time, through a plain client (no codec, no pydantic)."""
    client = Client(stack.client.service_client, namespace=stack.client.namespace)
    queue = f"bench-raw-{uuid.uuid4().hex[:8]}"
    latencies: list[float] = []
    async with Worker(client, task_queue=queue, workflows=[TrivialUpdatesWorkflow]):
        handle = await client.start_workflow(
            TrivialUpdatesWorkflow.run, id=f"{queue}-w", task_queue=queue
        )
        for _ in range(5):  # warm-up
            await handle.execute_update(TrivialUpdatesWorkflow.bump, False)
        for _ in range(count):
            began = time.perf_counter()
            await handle.execute_update(TrivialUpdatesWorkflow.bump, False)
            latencies.append(time.perf_counter() - began)
        await handle.execute_update(TrivialUpdatesWorkflow.bump, True)
        await handle.result()
    return latencies


async def _stage(stack: BenchStack, ref: str) -> str | None:
    async with stack.session_factory() as session:
        return await session.scalar(select(ReferralRow.stage).where(ReferralRow.ref == ref))


async def _until_recorded(stack: BenchStack, refs: list[str]) -> None:
    for ref in refs:
        while True:
            if await _stage(stack, ref) is not None:
                break
            await asyncio.sleep(0.02)


async def main(args: argparse.Namespace) -> int:
    load_before = _load()
    async with asyncio.timeout(args.timeout):
        async with harbour_stack(time_skipping=False, sink="memory") as stack:
            queue = f"bench-staff-{uuid.uuid4().hex[:8]}"
            _, key = await create_api_key(stack.session_factory, "coordinator")
            # A full caseload: the allocator, woken by every accept, finds no room (as in
            # bench.referral_throughput), so each referral stays waiting for the next action.
            await add_practitioner(
                stack.session_factory,
                PRACTITIONER_ID,
                "Pat Bench",
                "pat@bench.example.org",
                capacity=0,
            )
            settings = stack.settings.model_copy(update={"task_queue": queue})
            app = create_app(
                settings,
                stack.client,
                stack.session_factory,
                PSEUDONYM_KEY,
                api_settings=ApiSettings(_env_file=None),  # type: ignore[call-arg]
            )
            server = ApiServer(app, "127.0.0.1", 0, access_log=False)
            await server.start()
            timings: dict[str, list[float]] = {"triage (accept)": [], "hold": [], "release": []}
            direct: list[float] = []
            current: dict[str, int] = dict.fromkeys(timings, 0)
            try:
                raw = await raw_updates(stack, args.referrals * 3)
                async with stack.worker(queue):
                    refs = [
                        await referrals.submit(
                            stack.client, submission(n), stack.policy, task_queue=queue
                        )
                        for n in range(args.referrals + 3)
                    ]
                    await _until_recorded(stack, refs)
                    headers = {"Authorization": f"Bearer {key}"}
                    async with httpx.AsyncClient(
                        base_url=server.url, headers=headers, timeout=60
                    ) as http:

                        async def timed(name: str, ref: str, request: object, stage: str) -> None:
                            began = time.perf_counter()
                            response = await request  # type: ignore[misc]
                            elapsed = time.perf_counter() - began
                            if response.status_code != 200:
                                raise RuntimeError(f"{name}: HTTP {response.status_code}")
                            if warm:
                                timings[name].append(elapsed)
                                current[name] += await _stage(stack, ref) == stage

                        for n, ref in enumerate(refs):
                            warm = n >= 3  # the first three warm the connections
                            path = f"/v1/referrals/{ref}"
                            accept = http.post(f"{path}/triage", json={"outcome": "accept"})
                            await timed("triage (accept)", ref, accept, "waiting")
                            await asyncio.sleep(args.pause)
                            hold = http.post(f"{path}/hold", json={"reason": "other"})
                            await timed("hold", ref, hold, "waiting")
                            await asyncio.sleep(args.pause)
                            await timed("release", ref, http.delete(f"{path}/hold"), "waiting")
                            await asyncio.sleep(args.pause)
                    # The same update without HTTP: what the API adds is the difference.
                    for ref in refs[3:]:
                        hold_arg = Hold(reason=HoldReason.OTHER, coordinator="c-bench")
                        began = time.perf_counter()
                        await referrals.act(stack.client, ref, "hold", hold_arg)
                        direct.append(time.perf_counter() - began)
            finally:
                await server.stop()
    print()
    print(
        f"Staff actions over HTTP — dev server (file-backed), API + worker in one process, "
        f"one request at a time, {args.pause:g} s apart; {machine_line()}; "
        f"load {load_before} → {_load()}"
    )
    print(f"  {'':<36}{'n':>5}{'p50':>11}{'p95':>11}{'max':>11}   read model current")
    print(
        f"  {'raw Temporal: update round trip':<36}{len(raw):>5}"
        f"{ms(percentile(raw, 50)):>11}{ms(percentile(raw, 95)):>11}{ms(max(raw)):>11}"
    )
    print(
        f"  {'in-process act (hold), no HTTP':<36}{len(direct):>5}"
        f"{ms(percentile(direct, 50)):>11}{ms(percentile(direct, 95)):>11}{ms(max(direct)):>11}"
    )
    every: list[float] = []
    for name, values in timings.items():
        every += values
        print(
            f"  {'HTTP ' + name:<36}{len(values):>5}{ms(percentile(values, 50)):>11}"
            f"{ms(percentile(values, 95)):>11}{ms(max(values)):>11}"
            f"   {current[name]}/{len(values)}"
        )
    print(
        f"  {'HTTP, every action':<36}{len(every):>5}{ms(percentile(every, 50)):>11}"
        f"{ms(percentile(every, 95)):>11}{ms(max(every)):>11}"
    )
    print(
        f"  p95 of every action / raw update p95: {percentile(every, 95) / percentile(raw, 95):.1f}"
    )
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=60, help="referrals acted on (60)")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds between a person's actions (0: back to back, the worst case)",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after (900 s)")
    return parser.parse_args()


if __name__ == "__main__":
    run_main(main(parse_args()))
