"""The SQL form of the allocation order (``readmodel/waiting_list.py``) against the rules
themselves (``models/allocation.py``), on random waiting lists, on SQLite and PostgreSQL.

Random lists with ties (the same second of receipt, the same day of coming back), holds,
returning clients of several practitioners, and referrals not waiting. For each: the list
as ``waiting_page`` reads it is the rules' order; ``queue_position`` numbers each referral as
the list does; and the allocator's short read (``head_of_waiting_list``) leads the rules to
the same plan as the whole list would.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.allocation import (
    URGENCY_RANK,
    PractitionerRoom,
    WaitingReferral,
    allocation_order_key,
    plan_allocations,
    returning_order_key,
)
from models.referral import Stage, Urgency
from models.tables import ReferralRow
from readmodel.waiting_list import (
    WaitingFilters,
    head_of_waiting_list,
    queue_position,
    waiting_page,
)

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
PRACTITIONERS = ["p-a", "p-b", "p-c"]
LISTS = 25

Sessions = async_sessionmaker[AsyncSession]


def _random_list(rng: random.Random) -> list[dict[str, object]]:
    """Rows of a random read model: mostly waiting, some in other stages."""
    rows = []
    # Few distinct instants, so that ties are common and the reference must break them.
    instants = [NOW - timedelta(days=rng.randint(0, 120)) for _ in range(rng.randint(1, 12))]
    for n in range(rng.randint(0, 60)):
        urgency = rng.choice(list(Urgency))
        received = rng.choice(instants)
        returning = rng.random() < 0.25
        rows.append(
            {
                "ref": f"R{rng.randrange(16**6):06X}{n:03d}",
                "stage": Stage.WAITING.value if rng.random() < 0.85 else Stage.ALLOCATED.value,
                "urgency": urgency.value,
                "urgency_rank": URGENCY_RANK[urgency],
                "referrer_organisation": "Harbourside GP",
                "received_at": received,
                "waiting_since": rng.choice([None, rng.choice(instants)]) if returning else None,
                "returning_to": rng.choice(PRACTITIONERS) if returning else None,
                "held": rng.random() < 0.2,
                "updated_at": NOW,
            }
        )
    return rows


def _rules_order(rows: list[dict[str, object]]) -> list[WaitingReferral]:
    """The waiting list as the rules order it."""
    waiting = [
        WaitingReferral(
            ref=str(r["ref"]),
            urgency=Urgency(str(r["urgency"])),
            received_at=r["received_at"],  # type: ignore[arg-type]
            waiting_since=r["waiting_since"] or r["received_at"],  # type: ignore[arg-type]
            returning_to=r["returning_to"],  # type: ignore[arg-type]
            held=bool(r["held"]),
        )
        for r in rows
        if r["stage"] == Stage.WAITING.value
    ]
    returning = sorted((w for w in waiting if w.returning_to), key=returning_order_key)
    new = sorted((w for w in waiting if not w.returning_to), key=allocation_order_key)
    return [*returning, *new]


async def test_the_sql_order_is_the_rules_order_on_random_lists(
    session_factory: Sessions,
) -> None:
    rng = random.Random(20261205)
    for _ in range(LISTS):
        rows = _random_list(rng)
        async with session_factory.begin() as session:
            await session.execute(delete(ReferralRow))
            if rows:
                await session.execute(insert(ReferralRow), rows)
        expected = _rules_order(rows)
        async with session_factory() as session:
            page = await waiting_page(session, WaitingFilters(), NOW, limit=500)
            assert [e.ref for e in page.items] == [w.ref for w in expected]
            assert [e.position for e in page.items] == list(range(1, len(expected) + 1))
            for position, referral in enumerate(expected, start=1):
                assert await queue_position(session, referral.ref) == (position, len(expected))

            # The allocator reads only the head; the plan is the one the whole list gives.
            rooms = [
                PractitionerRoom(id=p, capacity=rng.randint(0, 4), caseload=rng.randint(0, 2))
                for p in PRACTITIONERS
            ]
            head = await head_of_waiting_list(session, rooms)
        assert plan_allocations(head, rooms) == plan_allocations(expected, rooms)
