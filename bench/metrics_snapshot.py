"""What a ``/metrics`` scrape costs the read model: ``readmodel.metrics.metrics_snapshot`` with
50 000 referrals, 10 letters and texts each in the outbox and 50 000 inbound messages, p50/p95.

    .venv/bin/python -m bench.metrics_snapshot [--referrals 50000] [--scrapes 50]
    .venv/bin/python -m bench.metrics_snapshot --postgres postgresql+asyncpg://postgres@127.0.0.1/test

The referrals are ``bench.api_reads``'s realistic mix; outbox rows mix channels, statuses and
delivery receipts, inbound messages a few crises. A snapshot is taken at most once every
``HARBOUR_METRICS_SNAPSHOT_SECONDS`` (10 s) per process, whatever the scrape rate, so this
time is the read model's whole cost of being watched. Prints its figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.api_reads import _fill, _postgres_schema
from bench.common import fresh_statistics, machine_line, ms, percentile, run_main
from infra.database import make_engine, make_session_factory, migrate
from models.tables import InboundMessageRow, OutboxRow
from readmodel.metrics import metrics_snapshot
from services.metrics import HarbourMetrics

STATUSES = [("sent", None), ("sent", "delivered"), ("sent", "permanent-failure"), ("sending", None)]


async def _fill_messages(session_factory: Any, referrals: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    outbox: list[dict[str, Any]] = []
    inbound: list[dict[str, Any]] = []
    for n in range(referrals):
        ref = f"R{n:010d}"
        for k in range(10):
            channel = "sms" if rng.random() < 0.4 else "email"
            status, delivery = rng.choice(STATUSES) if channel == "sms" else ("sent", None)
            outbox.append(
                {
                    "key": f"{ref}:{k}",
                    "ref": ref,
                    "kind": "check_in",
                    "recipient_role": "client",
                    "channel": channel,
                    "recipient": None,
                    "subject": "s",
                    "message_id": f"<{ref}.{k}@bench>",
                    "status": status,
                    "attempts": 1,
                    "created_at": now - timedelta(days=rng.randrange(700)),
                    "delivery_status": delivery,
                }
            )
        crisis = rng.random() < 0.01
        inbound.append(
            {
                "id": f"m{n:010d}",
                "channel": "sms",
                "sender_key": f"k{n}",
                "received_at": now,
                "body": "sealed",
                "ref": ref,
                "status": "handled",
                "crisis": crisis,
                "in_inbox": crisis or rng.random() < 0.02,
                "crisis_acknowledged_at": now if crisis and rng.random() < 0.9 else None,
            }
        )
    async with session_factory.begin() as session:
        for start in range(0, len(outbox), 5000):
            await session.execute(insert(OutboxRow), outbox[start : start + 5000])
        for start in range(0, len(inbound), 5000):
            await session.execute(insert(InboundMessageRow), inbound[start : start + 5000])
    await fresh_statistics(session_factory)


async def _measure(url: str, referrals: int, scrapes: int) -> tuple[list[float], float]:
    engine = make_engine(url)
    try:
        session_factory = make_session_factory(engine)
        await _fill(session_factory, referrals)
        await _fill_messages(session_factory, referrals)
        times = []
        for _ in range(scrapes + 3):
            began = time.perf_counter()
            async with session_factory() as session:
                await metrics_snapshot(session)
            times.append(time.perf_counter() - began)
        metrics = HarbourMetrics(session_factory, max_age=0)
        began = time.perf_counter()
        await metrics.render()
        render = time.perf_counter() - began
        return times[3:], render  # the first few warm the caches
    finally:
        await engine.dispose()


async def main(args: argparse.Namespace) -> int:
    if args.postgres:
        url, drop = await _postgres_schema(args.postgres)
        try:
            times, render = await _measure(url, args.referrals, args.scrapes)
        finally:
            await drop()
        backend = "PostgreSQL"
    else:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'harbour.db'}"
            await migrate(url)
            times, render = await _measure(url, args.referrals, args.scrapes)
        backend = "SQLite (WAL)"
    print()
    print(
        f"Read-model snapshot for /metrics — {args.referrals} referrals, "
        f"{args.referrals * 10} outbox rows, {args.referrals} inbound messages in {backend}; "
        f"{args.scrapes} snapshots; {machine_line()}"
    )
    print(f"  {'':<40}{'p50':>10}{'p95':>10}")
    p50, p95 = percentile(times, 50), percentile(times, 95)
    print(f"  {'metrics_snapshot':<40}{ms(p50):>10}{ms(p95):>10}")
    print(f"  {'a whole /metrics render (one)':<40}{ms(render):>10}")
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=50_000, help="rows (50 000)")
    parser.add_argument("--scrapes", type=int, default=50, help="snapshots timed (50)")
    parser.add_argument("--postgres", help="a PostgreSQL URL: use a fresh schema there")
    return parser.parse_args()


if __name__ == "__main__":
    run_main(main(parse_args()))
