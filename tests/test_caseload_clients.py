"""The Caseloads page's lists, on both databases: each practitioner's active clients (oldest
first, at most a page's worth each, ended episodes left out) and the returning clients
waiting for them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.tables import CaseloadRow
from readmodel.caseloads import all_caseload_entries
from readmodel.practitioners import add_practitioner

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]


async def test_each_practitioners_clients_oldest_first_at_most_a_page(
    session_factory: Sessions,
) -> None:
    await add_practitioner(session_factory, "p-ana", "Ana Lowry", "ana@harbour.example", 40)
    await add_practitioner(session_factory, "p-ben", "Ben Okafor", "ben@harbour.example", 4)
    rows = [
        {
            "ref": f"R{n:010d}",
            "episode": 1,
            "practitioner_id": "p-ana" if n < 35 else "p-ben",
            "started_at": T0 + timedelta(days=(40 - n)),
            "ended_at": T0 + timedelta(days=90) if n in (3, 36) else None,
        }
        for n in range(38)
    ]
    async with session_factory.begin() as session:
        await session.execute(insert(CaseloadRow), rows)
    async with session_factory() as session:
        found = await all_caseload_entries(session, per_practitioner=30)
    ana = [entry.ref for entry in found["p-ana"]]
    # The 34 active episodes of p-ana, oldest first (highest n started first), 30 shown.
    expected = [f"R{n:010d}" for n in range(34, -1, -1) if n != 3][:30]
    assert ana == expected
    assert [entry.ref for entry in found["p-ben"]] == ["R0000000037", "R0000000035"]
