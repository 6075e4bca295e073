"""List reads over HTTP with 50 000 referrals in the read model: GET /v1/referrals and
GET /v1/waiting-list, p50/p95.

    .venv/bin/python -m bench.api_reads [--referrals 50000] [--requests 200]
    .venv/bin/python -m bench.api_reads --postgres postgresql+asyncpg://postgres@127.0.0.1/test

The rows are inserted straight into the ``referrals`` table (a realistic mix: most waiting,
urgent/soon/routine, breaches, validation queue, holds, returning clients, 40 referrer
organisations, 50 practitioners with recent allocations so waits can be estimated). The API
runs on a real uvicorn at 127.0.0.1 beside the dev server, as in ``make run``; requests are
sent one after another (latency, not throughput) after a warm-up. Goal: p95 < 100 ms.
With ``--postgres`` the read model is a fresh schema in that database (dropped afterwards).
A benchmark prints its figures; it asserts nothing about them (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from api.app import create_app
from api.server import ApiServer
from api.settings import ApiSettings
from bench.common import (
    PSEUDONYM_KEY,
    fresh_statistics,
    harbour_stack,
    machine_line,
    ms,
    percentile,
    run_main,
)
from infra.database import make_engine, make_session_factory, migrate
from models.tables import CaseloadRow, PractitionerRow, ReferralRow
from services.api_keys import create_api_key

GOAL_P95_SECONDS = 0.100
STAGES = [
    ("waiting", 0.60),
    ("triage", 0.08),
    ("info_requested", 0.02),
    ("allocated", 0.05),
    ("in_episode", 0.12),
    ("discharged", 0.08),
    ("closed", 0.05),
]
URGENCIES = [("urgent", 0, 0.1), ("soon", 1, 0.2), ("routine", 2, 0.7)]


def _rows(count: int, now: datetime, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict]]:
    """``count`` referral rows and the caseload rows of those allocated (deterministic)."""
    rng = random.Random(seed)
    stages = [s for s, _ in STAGES]
    stage_weights = [w for _, w in STAGES]
    referrals: list[dict[str, Any]] = []
    caseload: list[dict[str, Any]] = []
    for n in range(count):
        stage = rng.choices(stages, stage_weights)[0]
        urgency, rank, _ = rng.choices(URGENCIES, [w for *_, w in URGENCIES])[0]
        received = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365 * 2))
        waiting = stage == "waiting"
        practitioner = f"p-{rng.randrange(50):02d}" if stage not in ("waiting", "triage") else None
        returning = waiting and rng.random() < 0.02
        ref = f"R{n:010d}"
        referrals.append(
            {
                "ref": ref,
                "stage": stage,
                "urgency": urgency,
                "urgency_rank": rank,
                "referrer_organisation": f"Organisation {rng.randrange(40):02d}",
                "received_at": received,
                "accepted_at": received + timedelta(days=3) if stage != "triage" else None,
                "waiting_since": received + timedelta(days=3) if waiting else None,
                "first_session_at": None,
                "discharged_at": None,
                "closed_reason": "declined" if stage == "closed" else None,
                "decline_reason": "out_of_area" if stage == "closed" else None,
                "practitioner_id": practitioner or (f"p-{n % 50:02d}" if returning else None),
                "returning_to": f"p-{n % 50:02d}" if returning else None,
                "held": waiting and rng.random() < 0.02,
                "hold_reason": None,
                "episode_number": 1 if practitioner else 0,
                "breach": (now - received) > timedelta(weeks=4) and stage in ("waiting", "triage"),
                "in_validation_queue": waiting and rng.random() < 0.05,
                "withdrawal_pending": False,
                "last_seq": 3,
                "updated_at": received,
            }
        )
        if practitioner and stage in ("allocated", "in_episode"):
            started = now - timedelta(days=rng.randrange(0, 200))
            caseload.append(
                {
                    "ref": ref,
                    "episode": 1,
                    "practitioner_id": practitioner,
                    "started_at": started,
                    "ended_at": None,
                }
            )
    return referrals, caseload


async def _fill(session_factory: Any, count: int) -> None:
    now = datetime.now(UTC)
    referrals, caseload = _rows(count, now)
    async with session_factory.begin() as session:
        await session.execute(
            insert(PractitionerRow),
            [
                {
                    "id": f"p-{i:02d}",
                    "name": f"Practitioner {i}",
                    "email": f"p{i}@bench.example.org",
                    "capacity": 1000,
                    "active": True,
                }
                for i in range(50)
            ],
        )
        for start in range(0, len(referrals), 5000):
            await session.execute(insert(ReferralRow), referrals[start : start + 5000])
        for start in range(0, len(caseload), 5000):
            await session.execute(insert(CaseloadRow), caseload[start : start + 5000])
    await fresh_statistics(session_factory)


async def _measure(
    http: httpx.AsyncClient, path: str, params: dict[str, Any], requests: int
) -> list[float]:
    for _ in range(10):
        (await http.get(path, params=params)).raise_for_status()
    latencies = []
    for _ in range(requests):
        began = time.perf_counter()
        response = await http.get(path, params=params)
        latencies.append(time.perf_counter() - began)
        response.raise_for_status()
    return latencies


async def _run(
    stack: Any, database_url: str, referrals: int, requests: int, label: str
) -> list[tuple[str, list[float], int]]:
    engine = make_engine(database_url)
    session_factory = make_session_factory(engine)
    try:
        began = time.perf_counter()
        await _fill(session_factory, referrals)
        print(f"  {label}: {referrals} referrals inserted in {time.perf_counter() - began:.1f} s")
        app = create_app(
            stack.settings,
            stack.client,
            session_factory,
            PSEUDONYM_KEY,
            api_settings=ApiSettings(_env_file=None),  # type: ignore[call-arg]
        )
        _, key = await create_api_key(session_factory, "coordinator")
        server = ApiServer(app, "127.0.0.1", 0, access_log=False)
        await server.start()
        results = []
        try:
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
                # A cursor half-way down each list, for the deep-page cases.
                deep_referrals = None
                params: dict[str, Any] = {"limit": 200}
                for _ in range(referrals // 400):
                    page = (await http.get("/v1/referrals", params=params)).json()
                    deep_referrals = page["next_cursor"]
                    params = {"limit": 200, "cursor": deep_referrals}
                deep_waiting = None
                params = {"limit": 500}
                for _ in range(max(1, int(referrals * 0.3) // 500)):
                    page = (await http.get("/v1/waiting-list", params=params)).json()
                    deep_waiting = page["next_cursor"]
                    params = {"limit": 500, "cursor": deep_waiting}
                cases: list[tuple[str, str, dict[str, Any]]] = [
                    ("GET /v1/referrals (first page of 50)", "/v1/referrals", {"limit": 50}),
                    (
                        "GET /v1/referrals?stage=waiting",
                        "/v1/referrals",
                        {"limit": 50, "stage": "waiting"},
                    ),
                    (
                        "GET /v1/referrals?referrer_organisation=…",
                        "/v1/referrals",
                        {"limit": 50, "referrer_organisation": "Organisation 07"},
                    ),
                    (
                        "GET /v1/referrals?breach=true",
                        "/v1/referrals",
                        {"limit": 50, "breach": "true"},
                    ),
                    (
                        "GET /v1/referrals?practitioner=p-07",
                        "/v1/referrals",
                        {"limit": 50, "practitioner": "p-07"},
                    ),
                    (
                        "GET /v1/referrals (page half-way down)",
                        "/v1/referrals",
                        {"limit": 50, "cursor": deep_referrals},
                    ),
                    ("GET /v1/waiting-list (first page of 50)", "/v1/waiting-list", {"limit": 50}),
                    (
                        "GET /v1/waiting-list?breach=true",
                        "/v1/waiting-list",
                        {"limit": 50, "breach": "true"},
                    ),
                    (
                        "GET /v1/waiting-list?validation=true",
                        "/v1/waiting-list",
                        {"limit": 50, "validation": "true"},
                    ),
                    (
                        "GET /v1/waiting-list (page half-way down)",
                        "/v1/waiting-list",
                        {"limit": 50, "cursor": deep_waiting},
                    ),
                ]
                waiting_total = (await http.get("/v1/waiting-list", params={"limit": 1})).json()[
                    "total_waiting"
                ]
                for name, path, query in cases:
                    results.append(
                        (name, await _measure(http, path, query, requests), waiting_total)
                    )
        finally:
            await server.stop()
        return results
    finally:
        await engine.dispose()


async def _postgres_schema(base_url: str) -> tuple[str, Any]:
    schema = f"bench_{secrets.token_hex(4)}"
    admin = make_engine(base_url)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base_url).update_query_dict({"search_path": schema})
    rendered = url.render_as_string(hide_password=False)
    await migrate(rendered)

    async def drop() -> None:
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()

    return rendered, drop


async def main(args: argparse.Namespace) -> int:
    async with asyncio.timeout(args.timeout):
        async with harbour_stack(time_skipping=False, sink="memory") as stack:
            if args.postgres:
                url, drop = await _postgres_schema(args.postgres)
                try:
                    results = await _run(stack, url, args.referrals, args.requests, "PostgreSQL")
                finally:
                    await drop()
                backend = "PostgreSQL"
            else:
                url = stack.settings.database_url
                results = await _run(stack, url, args.referrals, args.requests, "SQLite")
                backend = "SQLite (WAL)"
    waiting = results[0][2] if results else 0
    print()
    print(
        f"List reads over HTTP — {args.referrals} referrals ({waiting} waiting) in {backend}; "
        f"uvicorn on 127.0.0.1; {args.requests} sequential requests each; {machine_line()}"
    )
    print(f"  {'':<46}{'p50':>10}{'p95':>10}")
    for name, latencies, _ in results:
        p95 = percentile(latencies, 95)
        verdict = "" if p95 < GOAL_P95_SECONDS else "  (goal < 100 ms MISSED)"
        print(f"  {name:<46}{ms(percentile(latencies, 50)):>10}{ms(p95):>10}{verdict}")
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=50_000, help="rows (50 000)")
    parser.add_argument("--requests", type=int, default=200, help="per case (200)")
    parser.add_argument("--postgres", help="a PostgreSQL URL: use a fresh schema there")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after (900 s)")
    return parser.parse_args()


if __name__ == "__main__":
    run_main(main(parse_args()))
