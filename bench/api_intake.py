"""Referral intake over HTTP, beside raw Temporal's start rate, in one run.

    .venv/bin/python -m bench.api_intake [--count 500] [--concurrency 20]

One dev server (``temporal server start-dev``, persisted to a SQLite file as ``make run`` does);
one Python process holding the client, Harbour's worker and — as in ``make run`` — the HTTP API
on a real uvicorn at 127.0.0.1; the HTTP load comes from a second process (``--client``), so
its own CPU is not the API's. Phases, each ``--count`` requests, ``--concurrency`` at a time:

1. raw Temporal: ``start_workflow`` of a trivial workflow (default data converter);
2. HTTP with no worker on the referrals' task queue: the API's own cost (key check, validation,
   ``submit``; 202 once the workflow has started, i.e. durable);
3. Harbour in-process: ``services.referrals.submit`` (the referral workflow starts; the worker
   records it and sends the acknowledgements meanwhile, in the same process);
4. HTTP, ``POST /v1/referrals``, with the worker busy beside it (as ``make run``);
5. the same with an ``Idempotency-Key`` on every request (two more database writes each).

For each: requests/s while submitting, p50/p95 latency and this process's CPU per request; for
the phases with a worker also the rate until every referral is recorded in the read model (the
worker keeping up: the sustained intake rate).
A benchmark prints its figures; it asserts nothing about them (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.worker import Worker

from api.app import create_app
from api.server import ApiServer
from api.settings import ApiSettings
from bench.common import (
    PSEUDONYM_KEY,
    BenchStack,
    harbour_stack,
    machine_line,
    ms,
    percentile,
    run_main,
    submission,
)
from bench.trivial import TrivialWorkflow
from models.tables import ReferralRow
from readmodel.practitioners import add_practitioner
from services import referrals
from services.api_keys import create_api_key


@dataclass
class IntakePhase:
    name: str
    count: int
    submit_seconds: float = 0.0
    recorded_seconds: float | None = None
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    cpu_seconds: float = 0.0

    def row(self) -> str:
        rate = self.count / self.submit_seconds if self.submit_seconds else 0.0
        recorded = (
            f"{self.count / self.recorded_seconds:>10.1f}/s"
            if self.recorded_seconds
            else f"{'':>12}"
        )
        return (
            f"  {self.name:<46}{rate:>8.1f}/s{recorded}"
            f"{ms(percentile(self.latencies, 50)):>11}{ms(percentile(self.latencies, 95)):>11}"
            f"{1000 * self.cpu_seconds / self.count:>9.1f} ms"
            + (f"  errors {self.errors}" if self.errors else "")
        )


def intake_body(n: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(submission(n).model_dump_json())
    del data["referrer"]["organisation"]  # the API key's organisation is used
    return data


# ------------------------------------------------------------------ the load process


async def client_main(url: str, key: str, count: int, concurrency: int, idempotent: bool) -> None:
    """Send ``count`` intake requests and print latencies as JSON (runs in its own process)."""
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    errors = 0
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:

        async def one(n: int) -> None:
            nonlocal errors
            extra = {"Idempotency-Key": f"bench-{uuid.uuid4()}"} if idempotent else {}
            async with sem:
                began = time.perf_counter()
                response = await http.post(
                    "/v1/referrals", json=intake_body(n), headers={**headers, **extra}
                )
                latencies.append(time.perf_counter() - began)
            if response.status_code != 202:
                errors += 1

        for n in range(5):  # warm the connections
            await one(900_000 + n)
        latencies.clear()
        errors = 0
        began, wall = time.perf_counter(), time.time()
        await asyncio.gather(*(one(n) for n in range(count)))
        elapsed = time.perf_counter() - began
    result = {"elapsed": elapsed, "started_wall": wall, "latencies": latencies, "errors": errors}
    print(json.dumps(result))


# ------------------------------------------------------------------ the phases


async def raw_temporal(stack: BenchStack, count: int, concurrency: int) -> IntakePhase:
    """Trivial workflows started through a plain client (no pydantic, no encryption)."""
    client = Client(stack.client.service_client, namespace=stack.client.namespace)
    queue = f"bench-raw-{uuid.uuid4().hex[:8]}"
    phase = IntakePhase("raw Temporal: start_workflow (trivial)", count)
    sem = asyncio.Semaphore(concurrency)
    async with Worker(client, task_queue=queue, workflows=[TrivialWorkflow]):
        await client.execute_workflow(TrivialWorkflow.run, 0, id=f"{queue}-w", task_queue=queue)

        async def start(i: int) -> None:
            async with sem:
                began = time.perf_counter()
                await client.start_workflow(
                    TrivialWorkflow.run, i, id=f"{queue}-{i}", task_queue=queue
                )
                phase.latencies.append(time.perf_counter() - began)

        began, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(start(i) for i in range(count)))
        phase.submit_seconds = time.perf_counter() - began
        phase.cpu_seconds = time.process_time() - cpu
    return phase


async def _recorded(stack: BenchStack) -> int:
    async with stack.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(ReferralRow)) or 0)


async def _until_recorded(stack: BenchStack, total: int) -> float:
    """Wait until the read model holds ``total`` referrals; the wall-clock time then."""
    while True:
        if await _recorded(stack) >= total:
            return time.time()
        await asyncio.sleep(0.02)


async def in_process(stack: BenchStack, queue: str, count: int, concurrency: int) -> IntakePhase:
    phase = IntakePhase("Harbour in-process: services.referrals.submit", count)
    sem = asyncio.Semaphore(concurrency)
    already = await _recorded(stack)

    async def submit(n: int) -> None:
        async with sem:
            began = time.perf_counter()
            await referrals.submit(stack.client, submission(n), stack.policy, task_queue=queue)
            phase.latencies.append(time.perf_counter() - began)

    began, wall, cpu = time.perf_counter(), time.time(), time.process_time()
    await asyncio.gather(*(submit(n) for n in range(count)))
    phase.submit_seconds = time.perf_counter() - began
    phase.cpu_seconds = time.process_time() - cpu
    phase.recorded_seconds = await _until_recorded(stack, already + count) - wall
    return phase


async def over_http(
    stack: BenchStack,
    url: str,
    key: str,
    count: int,
    concurrency: int,
    *,
    idempotent: bool,
    worker: bool,
) -> IntakePhase:
    """``count`` intake requests from a separate load process."""
    name = "HTTP: POST /v1/referrals" + (
        " + Idempotency-Key" if idempotent else ", worker busy" if worker else ", no worker"
    )
    phase = IntakePhase(name, count)
    already = await _recorded(stack) + 5  # the load process warms up with five
    cpu = time.process_time()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.api_intake",
        "--client",
        url,
        key,
        str(count),
        str(concurrency),
        "1" if idempotent else "0",
        stdout=asyncio.subprocess.PIPE,
    )
    waiting = asyncio.create_task(_until_recorded(stack, already + count)) if worker else None
    out, _ = await process.communicate()
    phase.cpu_seconds = time.process_time() - cpu
    result = json.loads(out.decode().strip().splitlines()[-1])
    phase.submit_seconds = result["elapsed"]
    phase.latencies = result["latencies"]
    phase.errors = result["errors"]
    if waiting is not None:
        # From the load process's first timed request (wall clock, shared by both processes).
        phase.recorded_seconds = await waiting - result["started_wall"]
    return phase


async def main(args: argparse.Namespace) -> int:
    async with asyncio.timeout(args.timeout):
        async with harbour_stack(time_skipping=False, sink="memory") as stack:
            queue = f"bench-api-{uuid.uuid4().hex[:8]}"
            idle_queue = f"bench-api-idle-{uuid.uuid4().hex[:8]}"  # no worker ever polls it
            _, key = await create_api_key(
                stack.session_factory, "referrer", organisation="Bench GP"
            )
            await add_practitioner(
                stack.session_factory, "p-spare", "Spare", "spare@bench.example.org", capacity=0
            )
            server = _server(stack, queue)
            idle_server = _server(stack, idle_queue)
            await server.start()
            await idle_server.start()
            count, concurrency = args.count, args.concurrency
            try:
                raw = await raw_temporal(stack, count, concurrency)
                alone = await over_http(
                    stack, idle_server.url, key, count, concurrency, idempotent=False, worker=False
                )
                async with stack.worker(queue):
                    await referrals.submit(
                        stack.client, submission(999_999), stack.policy, task_queue=queue
                    )
                    direct = await in_process(stack, queue, count, concurrency)
                    http = await over_http(
                        stack, server.url, key, count, concurrency, idempotent=False, worker=True
                    )
                    idem = await over_http(
                        stack, server.url, key, count, concurrency, idempotent=True, worker=True
                    )
            finally:
                await server.stop()
                await idle_server.stop()
    print()
    print(
        f"HTTP intake — dev server (file-backed), API + worker in one process, load from "
        f"another; {machine_line()}; count {args.count}, concurrency {args.concurrency}"
    )
    print(f"  {'':<46}{'submitted':>10}{'recorded':>12}{'p50':>11}{'p95':>11}{'CPU/req':>12}")
    for phase in (raw, alone, direct, http, idem):
        print(phase.row())
    raw_rate = raw.count / raw.submit_seconds
    for phase in (alone, http):
        rate = phase.count / phase.submit_seconds
        print(f"  {phase.name} / raw Temporal starts: {rate / raw_rate:.2f}")
    return 0


def _server(stack: BenchStack, queue: str) -> ApiServer:
    """The API (no rate limit) on a free port, submitting to ``queue``."""
    settings = stack.settings.model_copy(update={"task_queue": queue})
    api_settings = ApiSettings(
        _env_file=None,  # type: ignore[call-arg]
        intake_per_minute=1e9,
        intake_burst=10**9,
    )
    app = create_app(
        settings, stack.client, stack.session_factory, PSEUDONYM_KEY, api_settings=api_settings
    )
    return ApiServer(app, "127.0.0.1", 0, access_log=False)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500, help="requests per phase (500)")
    parser.add_argument("--concurrency", type=int, default=20, help="in flight at once (20)")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after (900 s)")
    parser.add_argument("--client", nargs=5, metavar="ARG", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.client:
        url, key, count, concurrency, idempotent = arguments.client
        asyncio.run(client_main(url, key, int(count), int(concurrency), idempotent == "1"))
    else:
        run_main(main(arguments))
