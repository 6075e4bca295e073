"""Server time of every dashboard page with 50 000 referrals in the read model, p50/p95.

    .venv/bin/python -m bench.dashboard_pages [--referrals 50000] [--requests 40]
    .venv/bin/python -m bench.dashboard_pages --postgres postgresql+asyncpg://postgres@127.0.0.1/test

Rows are inserted straight into the read model (a realistic mix: a long waiting list with
breaches, holds, the validation queue and returning clients; episodes, discharges, re-entries,
anonymised outcomes, timeline events, letters, an inbox with crisis messages, 40 referrer
organisations, 50 practitioners), and 2 000 emails into the dev mailbox. One referral is real:
submitted to the dev server and recorded by Harbour's worker, so its Referral page asks its
workflow like any other. The API runs on a real uvicorn at 127.0.0.1 (as in ``make run``); a
coordinator signs in through the login form, then each page is requested one after another
after a warm-up. "Server" is the page's ``Server-Timing`` (the handler, rendering included);
"trip" adds HTTP and the session check; "CPU" is the process's CPU time per request (server
and client together), which a busy machine inflates far less than wall time — the load
average is printed too. Goal: every page under 300 ms.
A benchmark prints its figures; it asserts nothing about them (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from api.app import create_app
from api.dashboard import configure
from api.dashboard.settings import DashboardSettings
from api.server import ApiServer
from api.settings import ApiSettings
from bench.common import (
    KEYRING,
    PSEUDONYM_KEY,
    BenchStack,
    harbour_stack,
    machine_line,
    ms,
    percentile,
    run_main,
    submission,
)
from infra.database import make_engine, make_session_factory, migrate
from infra.keys import KeyRing
from models.person_search import client_terms
from models.tables import (
    CaseloadRow,
    InboundMessageRow,
    OutboxRow,
    OutcomeRow,
    PersonSearchRow,
    PractitionerRow,
    ReferralRow,
    TimelineEventRow,
)
from readmodel.person_search import search_token
from readmodel.sealed_text import seal_optional, seal_text
from services import referrals
from services.api_keys import create_api_key
from worker import build_worker

GOAL_SECONDS = 0.300
PRACTITIONERS = 50
STAGES = [
    ("waiting", 0.45),
    ("triage", 0.06),
    ("info_requested", 0.02),
    ("allocated", 0.05),
    ("in_episode", 0.15),
    ("discharged", 0.20),
    ("closed", 0.07),
]
URGENCIES = [("urgent", 0, 0.1), ("soon", 1, 0.2), ("routine", 2, 0.7)]
LIAISON = ["housing", "benefits", "employment", "community_group", "physical_health"]
DECLINES = ["needs_secondary_care", "needs_primary_care_only", "out_of_area", "already_supported"]


def rows(count: int, now: datetime, seed: int = 11) -> dict[str, list[dict[str, Any]]]:
    """Deterministic read-model rows for ``count`` referrals, by table."""
    rng = random.Random(seed)
    stages, weights = zip(*STAGES, strict=True)
    out: dict[str, list[dict[str, Any]]] = {
        "referrals": [],
        "caseload": [],
        "timeline": [],
        "outbox": [],
        "outcomes": [],
    }
    for n in range(count):
        stage = rng.choices(stages, weights)[0]
        urgency, rank, _ = rng.choices(URGENCIES, [w for *_, w in URGENCIES])[0]
        returning = stage == "waiting" and rng.random() < 0.03
        # Old enough for what happened to it to lie in the past.
        min_days = 260 if returning else {"allocated": 100, "in_episode": 100}.get(stage, 0)
        min_days = {"discharged": 100, "closed": 30}.get(stage, min_days)
        minutes = rng.randrange(min_days * 24 * 60, 60 * 24 * 365 * 2)
        received = now - timedelta(minutes=minutes)
        ref = f"R{n:010d}"
        declined = stage == "closed" and rng.random() < 0.6
        accepted = (
            None
            if stage in ("triage", "info_requested") or declined
            else received + timedelta(days=4)
        )
        allocated_at = None
        practitioner = None
        episode = 0
        if stage in ("allocated", "in_episode", "discharged") or (
            stage == "closed" and not declined and rng.random() < 0.3
        ):
            practitioner = f"p-{rng.randrange(PRACTITIONERS):02d}"
            allocated_at = min(now, received + timedelta(days=rng.randrange(10, 90)))
            episode = 1
        if returning:
            practitioner = f"p-{rng.randrange(PRACTITIONERS):02d}"
            allocated_at = received + timedelta(days=30)
            episode = 1
        reentered = stage in ("in_episode", "discharged") and rng.random() < 0.1
        first_session = (
            allocated_at + timedelta(days=7)
            if allocated_at and stage not in ("allocated", "closed")
            else None
        )
        discharged_at = None
        if stage == "discharged" or returning or reentered:
            discharged_at = min(now, (allocated_at or received) + timedelta(days=70))
        waiting_since = None
        if stage == "waiting":
            waiting_since = discharged_at + timedelta(days=120) if returning else accepted
        out["referrals"].append(
            {
                "ref": ref,
                "stage": stage,
                "urgency": urgency,
                "urgency_rank": rank,
                "referrer_organisation": f"Organisation {rng.randrange(40):02d}",
                "received_at": received,
                "accepted_at": accepted,
                "waiting_since": waiting_since,
                "first_session_at": first_session,
                "discharged_at": discharged_at,
                "closed_reason": ("declined" if declined else "withdrawn")
                if stage == "closed"
                else None,
                "decline_reason": rng.choice(DECLINES) if declined else None,
                "practitioner_id": practitioner,
                "returning_to": practitioner if returning else None,
                "held": stage == "waiting" and rng.random() < 0.02,
                "hold_reason": None,
                "episode_number": episode + (1 if reentered else 0),
                "breach": (now - received) > timedelta(weeks=4)
                and stage in ("waiting", "triage", "info_requested", "allocated"),
                "in_validation_queue": stage == "waiting" and rng.random() < 0.05,
                "withdrawal_pending": False,
                "last_seq": 4,
                "updated_at": received + timedelta(days=20) if stage == "closed" else received,
            }
        )
        if allocated_at is not None:
            out["caseload"].append(
                {
                    "ref": ref,
                    "episode": 1,
                    "practitioner_id": practitioner,
                    "started_at": allocated_at,
                    "ended_at": discharged_at
                    if stage in ("discharged", "closed") or returning or reentered
                    else None,
                }
            )
        events = [("received", received, "triage", {})]
        if accepted:
            events.append(("accepted", accepted, "waiting", {}))
        if allocated_at:
            events.append(("allocated", allocated_at, "allocated", {"episode": 1}))
        if discharged_at:
            events.append(("discharged", discharged_at, "discharged", {"episode": 1}))
            out["outcomes"].append(_outcome(rng, ref, discharged_at))
        if returning and waiting_since:
            events.append(("reactivated_waiting", waiting_since, "waiting", {}))
        if reentered and discharged_at:
            back = min(now, discharged_at + timedelta(days=rng.randrange(14, 300)))
            events.append(("allocated", back, "allocated", {"episode": 2, "reactivated": True}))
            out["caseload"].append(
                {
                    "ref": ref,
                    "episode": 2,
                    "practitioner_id": practitioner,
                    "started_at": back,
                    "ended_at": None,
                }
            )
        for seq, (kind, at, after, detail) in enumerate(events, start=1):
            out["timeline"].append(
                {"ref": ref, "seq": seq, "at": at, "kind": kind, "stage": after, "detail": detail}
            )
        out["outbox"].append(
            {
                "key": f"{ref}:1:acknowledgement:referrer",
                "ref": ref,
                "kind": "acknowledgement",
                "recipient_role": "referrer",
                "channel": "email",
                "recipient": None,
                "subject": f"Referral {ref} received",
                "message_id": f"<{ref}.1@bench>",
                "status": "sent",
                "attempts": 1,
                "created_at": received,
                "sent_at": received,
            }
        )
    return out


def _outcome(rng: random.Random, ref: str, discharged_at: datetime) -> dict[str, Any]:
    baseline = rng.randrange(5, 30) if rng.random() < 0.85 else None
    end = min(40, baseline + rng.randrange(-4, 12)) if baseline is not None else None
    delta = None if baseline is None or end is None else end - baseline
    change = None
    if delta is not None:
        change = (
            "reliable_improvement"
            if delta >= 5
            else "deterioration"
            if delta <= -5
            else "no_reliable_change"
        )
    return {
        "pseudonym": secrets.token_hex(16),
        "episode": 1,
        "period": discharged_at.strftime("%Y-%m"),
        "discharge_reason": rng.choice(["completed", "completed", "ended_early_by_agreement"]),
        "sessions_attended": rng.randrange(3, 11),
        "baseline_total": baseline,
        "end_total": end,
        "baseline_skipped_reason": None if baseline is not None else "not_appropriate",
        "end_skipped_reason": None,
        "change": change,
        "recovered": None if end is None else end >= 25,
        "reliably_recovered": None if end is None or delta is None else end >= 25 and delta >= 5,
        "liaison": rng.sample(LIAISON, rng.randrange(0, 3)),
    }


def _messages(
    now: datetime, keyring: KeyRing, count: int = 2000, seed: int = 5
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    body = seal_text(keyring, "Please can someone call me back about my appointment")
    found = []
    for n in range(count):
        open_item = n % 33 == 0
        found.append(
            {
                "id": secrets.token_hex(16),
                "gateway_id": f"bench-{n}",
                "channel": "sms",
                "sender_key": secrets.token_hex(32),
                "received_at": now - timedelta(minutes=rng.randrange(0, 60 * 24 * 200)),
                "body": body,
                "ref": None,
                "status": "inbox" if open_item else "handled",
                "intent": "other",
                "crisis": open_item and n % 5 == 0,
                "in_inbox": open_item,
                "resolved_at": None,
                "resolution_note": None,
            }
        )
    return found


# Made-up names for the person search's blind index (the bench's referrals have no workflow).
FIRST_NAMES = ("Hannah", "Sam", "Ola", "Catherine", "Robin", "Amir", "Zoe", "Tom", "Priya", "Lee")
SURNAMES = ("Okafor", "Lee", "Nowak", "Hanna", "Smith", "Quill", "Patel", "Jones", "Ahmed", "Ray")


def search_rows(count: int, key: bytes) -> list[dict[str, Any]]:
    """The blind index's rows of ``count`` referrals, as intake writes them."""
    found = []
    for n in range(count):
        name = f"{FIRST_NAMES[n % 10]} {SURNAMES[(n // 10) % 10]}"
        phone = f"07700 9{n % 100000:05d}"
        for term in client_terms(name, None, phone):
            found.append({"token": search_token(key, term), "ref": f"R{n:010d}", "kind": term[0]})
    return found


async def fill(
    session_factory: Any,
    count: int,
    now: datetime,
    keyring: KeyRing,
    search_key: bytes | None = None,
) -> None:
    """Insert ``count`` referrals' rows (and practitioners, messages; with ``search_key``, the
    person search's index) and refresh statistics; free text is sealed with ``keyring``, as
    Harbour writes it."""
    data = rows(count, now)
    if search_key is not None:
        data["person_search"] = search_rows(count, search_key)
    for outcome in data["outcomes"]:
        for column in ("baseline_skipped_reason", "end_skipped_reason"):
            outcome[column] = seal_optional(keyring, outcome[column])
    async with session_factory.begin() as session:
        await session.execute(
            insert(PractitionerRow),
            [
                {
                    "id": f"p-{i:02d}",
                    "name": f"Practitioner {i}",
                    "email": f"p{i}@bench.example.org",
                    "capacity": 400,
                    "active": True,
                }
                for i in range(PRACTITIONERS)
            ],
        )
        for table, key in (
            (PersonSearchRow, "person_search"),
            (ReferralRow, "referrals"),
            (CaseloadRow, "caseload"),
            (TimelineEventRow, "timeline"),
            (OutboxRow, "outbox"),
            (OutcomeRow, "outcomes"),
        ):
            batch = data.get(key, [])
            for start in range(0, len(batch), 5000):
                await session.execute(insert(table), batch[start : start + 5000])
        await session.execute(insert(InboundMessageRow), _messages(now, keyring))
    async with session_factory() as session:  # fresh statistics for the planner
        await session.execute(text("ANALYZE"))
        await session.commit()


def write_mailbox(folder: Path, count: int = 2000) -> None:
    """``count`` emails as the SMTP sink writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        message = EmailMessage()
        message["Subject"] = f"Harbour Recovery Service: referral R{n:010d} received"
        message["From"] = "Harbour Recovery Service <no-reply@harbour.example>"
        message["To"] = f"client{n}@bench.example.org"
        message["Date"] = "Tue, 24 Nov 2026 08:00:00 +0000"
        message["X-Harbour-Kind"] = "acknowledgement"
        message.set_content("Thank you. We have received the referral.\n" * 5)
        (folder / f"20261124T0800{n:08d}Z-{n:08x}.eml").write_bytes(bytes(message))


async def _sign_in(http: httpx.AsyncClient, key: str) -> None:
    form = (await http.get("/dashboard/login")).text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    response = await http.post(
        "/dashboard/login", data={"csrf": token.group(1), "api_key": key}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


async def measure_page(
    http: httpx.AsyncClient, path: str, requests: int
) -> tuple[list[float], list[float], list[float]]:
    """Per request: the server's own time (``Server-Timing``), the round trip, and the CPU
    time this process spent on it (server and client share the process; nothing else runs
    meanwhile), which a busy machine inflates far less than wall time."""
    for _ in range(3):
        (await http.get(path)).raise_for_status()
    server, trips, cpu = [], [], []
    for _ in range(requests):
        began, began_cpu = time.perf_counter(), time.process_time()
        response = await http.get(path)
        trips.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
        response.raise_for_status()
        timing = re.search(r"dur=([0-9.]+)", response.headers.get("server-timing", ""))
        server.append(float(timing.group(1)) / 1000 if timing else float("nan"))
    return server, trips, cpu


async def _run(
    stack: BenchStack, database_url: str, count: int, requests: int, label: str
) -> list[tuple[str, list[float], list[float], list[float]]]:
    engine = make_engine(database_url)
    session_factory = make_session_factory(engine)
    try:
        now = datetime.now(UTC)
        began = time.perf_counter()
        await fill(session_factory, count, now, KEYRING, PSEUDONYM_KEY)
        write_mailbox(stack.settings.mailbox_dir)
        print(f"  {label}: {count} referrals inserted in {time.perf_counter() - began:.1f} s")
        settings = stack.settings.model_copy(update={"database_url": database_url})
        app = create_app(
            settings,
            stack.client,
            session_factory,
            PSEUDONYM_KEY,
            api_settings=ApiSettings(_env_file=None),  # type: ignore[call-arg]
        )
        configure(app, DashboardSettings(_env_file=None, dev_mailbox=True))  # type: ignore[call-arg]
        _, key = await create_api_key(session_factory, "coordinator", label="c-bench")
        server = ApiServer(app, "127.0.0.1", 0, access_log=False)
        await server.start()
        # Harbour's worker, recording into this run's read model (SQLite or PostgreSQL).
        worker = build_worker(
            stack.client,
            settings,
            engine,
            PSEUDONYM_KEY,
            task_queue=f"bench-{secrets.token_hex(4)}",
        )
        results = []
        try:
            async with worker, httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                ref = await referrals.submit(
                    stack.client, submission(1), stack.policy, task_queue=worker.task_queue
                )
                await _recorded(session_factory, ref)
                await _sign_in(http, key)
                mail = sorted(stack.settings.mailbox_dir.glob("*.eml"))[-1].name
                waiting = await _count(session_factory, ReferralRow.stage == "waiting")
                cases = [
                    ("Overview", "/dashboard"),
                    ("Waiting list, first page", "/dashboard/waiting-list"),
                    (
                        "Waiting list, page half-way",
                        f"/dashboard/waiting-list?page={waiting // 100}",
                    ),
                    ("Waiting list, breaches", "/dashboard/waiting-list?breach=yes"),
                    (
                        "Waiting list, validation, p.2",
                        "/dashboard/waiting-list?validation=yes&page=2",
                    ),
                    ("Referrals, newest", "/dashboard/referrals"),
                    (
                        "Referrals, discharged p.100",
                        "/dashboard/referrals?stage=discharged&page=100",
                    ),
                    ("Referral (workflow query)", f"/dashboard/referrals/{ref}"),
                    ("Caseloads", "/dashboard/caseloads"),
                    ("Caseload of one practitioner", "/dashboard/caseloads/p-07"),
                    ("Search: a name, by sound", "/dashboard/referrals?ref=Hanna"),
                    ("Search: first name and surname", "/dashboard/referrals?ref=Sam+Okafor"),
                    ("Search: a phone number", "/dashboard/referrals?ref=07700+900123"),
                    ("Inbox", "/dashboard/inbox"),
                    ("Reports: waiting times", "/dashboard/reports"),
                    ("Reports: referrers", "/dashboard/reports/referrers"),
                    ("Reports: outcomes and liaison", "/dashboard/reports/outcomes"),
                    ("Reports: re-entry", "/dashboard/reports/reentry"),
                    ("Dev mailbox", "/dashboard/mailbox"),
                    ("Dev mailbox, one email", f"/dashboard/mailbox/{mail}"),
                ]
                for name, path in cases:
                    results.append((name, *await measure_page(http, path, requests)))
        finally:
            await server.stop()
        return results
    finally:
        await engine.dispose()


async def _recorded(session_factory: Any, ref: str) -> None:
    for _ in range(600):
        if await _count(session_factory, ReferralRow.ref == ref, ReferralRow.stage == "triage"):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the real referral was not recorded in time")


async def _count(session_factory: Any, *where: Any) -> int:
    async with session_factory() as session:
        return int(
            await session.scalar(select(func.count()).select_from(ReferralRow).where(*where)) or 0
        )


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
    load_before = os.getloadavg()[0]
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
                results = await _run(
                    stack, stack.settings.database_url, args.referrals, args.requests, "SQLite"
                )
                backend = "SQLite (WAL)"
    print()
    print(
        f"Dashboard pages — {args.referrals} referrals in {backend}; uvicorn on 127.0.0.1; "
        f"{args.requests} sequential requests per page; {machine_line()}; load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print(
        f"  {'':<34}{'server p50':>11}{'server p95':>11}{'trip p95':>10}"
        f"{'CPU p50':>10}{'CPU p95':>10}"
    )
    for name, server_times, trips, cpu in results:
        p95 = percentile(server_times, 95)
        verdict = "" if p95 < GOAL_SECONDS else "  (goal < 300 ms MISSED)"
        print(
            f"  {name:<34}{ms(percentile(server_times, 50)):>11}{ms(p95):>11}"
            f"{ms(percentile(trips, 95)):>10}{ms(percentile(cpu, 50)):>10}"
            f"{ms(percentile(cpu, 95)):>10}{verdict}"
        )
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=50_000, help="rows (50 000)")
    parser.add_argument("--requests", type=int, default=40, help="per page (40)")
    parser.add_argument("--postgres", help="a PostgreSQL URL: use a fresh schema there")
    parser.add_argument("--timeout", type=float, default=1200.0, help="give up after (1200 s)")
    return parser.parse_args()


if __name__ == "__main__":
    run_main(main(parse_args()))
