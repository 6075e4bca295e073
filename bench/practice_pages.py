"""Server time of the practitioners' workspace pages with a full caseload, p50/p95.

    .venv/bin/python -m bench.practice_pages [--clients 8] [--requests 30]

A practitioner has ``--clients`` real referrals (the dev server in real time, Harbour's
worker, SQLite), each accepted, allocated to them and with one session booked. They sign in
through the login form; then each page is requested one after another after a warm-up. The
workspace asks each client's workflow for its state and, through the audited door, its person
(two queries and one audit row per client); a client's page asks one workflow twice. "Server"
is the page's ``Server-Timing`` (the handler, rendering included); "trip" adds HTTP and the
session check; "CPU" is this process's CPU time per request (server and client share it).
A benchmark prints its figures; it asserts nothing about them (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from api.app import create_app
from api.dashboard import configure
from api.dashboard.settings import DashboardSettings
from api.server import ApiServer
from api.settings import ApiSettings
from bench.common import (
    PRACTITIONER_ID,
    PSEUDONYM_KEY,
    harbour_stack,
    machine_line,
    ms,
    percentile,
    run_main,
    submission,
)
from bench.dashboard_pages import measure_page
from models.actions import Allocation, SessionBooking, TriageDecision, TriageOutcome
from models.tables import CaseloadRow, ReadAuditRow, ReferralRow
from services import referrals
from services.api_keys import create_api_key
from worker import build_worker

COORDINATOR = "c-bench"


async def _until(session_factory: Any, query: Any, wanted: int) -> None:
    for _ in range(1200):
        async with session_factory() as session:
            if int(await session.scalar(query) or 0) >= wanted:
                return
        await asyncio.sleep(0.05)
    raise TimeoutError("the read model did not catch up in time")


async def _caseload(stack: Any, task_queue: str, clients: int) -> list[str]:
    """``clients`` referrals on the practitioner's caseload, each with a session booked."""
    refs = [
        await referrals.submit(stack.client, submission(n), stack.policy, task_queue=task_queue)
        for n in range(clients)
    ]
    in_triage = (
        select(func.count())
        .select_from(ReferralRow)
        .where(ReferralRow.ref.in_(refs), ReferralRow.stage == "triage")
    )
    await _until(stack.session_factory, in_triage, clients)
    soon = datetime.now(UTC) + timedelta(days=2)
    for n, ref in enumerate(refs):
        decision = TriageDecision(outcome=TriageOutcome.ACCEPT, coordinator=COORDINATOR)
        await referrals.act(stack.client, ref, "triage", decision)
        try:
            allocation = Allocation(practitioner_id=PRACTITIONER_ID, coordinator=COORDINATOR)
            await referrals.act(stack.client, ref, "allocate", allocation)
        except referrals.ActionRejected:
            pass  # the allocator was quicker
        booking = SessionBooking(at=soon + timedelta(hours=n), location="the café")
        await referrals.act(stack.client, ref, "book_session", booking)
    on_caseload = (
        select(func.count())
        .select_from(CaseloadRow)
        .where(CaseloadRow.practitioner_id == PRACTITIONER_ID, CaseloadRow.ended_at.is_(None))
    )
    await _until(stack.session_factory, on_caseload, clients)
    return refs


async def _sign_in(http: httpx.AsyncClient, key: str) -> None:
    form = (await http.get("/dashboard/login")).text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    response = await http.post("/dashboard/login", data={"csrf": token.group(1), "api_key": key})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/dashboard/practice"


async def main(args: argparse.Namespace) -> int:
    load_before = os.getloadavg()[0]
    async with asyncio.timeout(args.timeout), harbour_stack(time_skipping=False) as stack:
        app = create_app(
            stack.settings,
            stack.client,
            stack.session_factory,
            PSEUDONYM_KEY,
            api_settings=ApiSettings(_env_file=None),  # type: ignore[call-arg]
        )
        configure(app, DashboardSettings(_env_file=None))  # type: ignore[call-arg]
        _, key = await create_api_key(
            stack.session_factory, "practitioner", practitioner_id=PRACTITIONER_ID, label="p-bench"
        )
        worker = build_worker(
            stack.client,
            stack.settings,
            stack.engine,
            PSEUDONYM_KEY,
            task_queue=f"bench-{secrets.token_hex(4)}",
        )
        server = ApiServer(app, "127.0.0.1", 0, access_log=False)
        await server.start()
        try:
            async with worker, httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                refs = await _caseload(stack, worker.task_queue, args.clients)
                await _sign_in(http, key)
                cases = [
                    (f"Caseload and diary ({args.clients} clients)", "/dashboard/practice"),
                    ("A client's page", f"/dashboard/practice/clients/{refs[0]}"),
                    ("ReQoL-10 form", f"/dashboard/practice/clients/{refs[0]}/reqol/baseline"),
                ]
                results = [
                    (name, *await measure_page(http, path, args.requests)) for name, path in cases
                ]
                async with stack.session_factory() as session:
                    audited = int(
                        await session.scalar(select(func.count()).select_from(ReadAuditRow)) or 0
                    )
        finally:
            await server.stop()
    print()
    print(
        f"Practitioners' workspace — {args.clients} clients on the caseload, dev server, SQLite; "
        f"uvicorn on 127.0.0.1; {args.requests} sequential requests per page; {machine_line()}; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print(f"  {'':<34}{'server p50':>11}{'server p95':>11}{'trip p95':>10}{'CPU p50':>10}")
    for name, server_times, trips, cpu in results:
        print(
            f"  {name:<34}{ms(percentile(server_times, 50)):>11}"
            f"{ms(percentile(server_times, 95)):>11}{ms(percentile(trips, 95)):>10}"
            f"{ms(percentile(cpu, 50)):>10}"
        )
    print(f"  views recorded in the read audit: {audited}")
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="on the caseload (8)")
    parser.add_argument("--requests", type=int, default=30, help="per page (30)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after (600 s)")
    return parser.parse_args()


if __name__ == "__main__":
    run_main(main(parse_args()))
