"""The dashboard's crisis and inbox queries on both databases: an unacknowledged crisis message
flags its referral and heads the overview until acknowledged (the acknowledgement's note kept
sealed); the inbox shows the sender (sealed at rest) and who has taken a message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.tables import InboundMessageRow
from readmodel.crisis_alerts import (
    count_open_alerts,
    keep_acknowledgement_note,
    open_alerts,
    refs_in_crisis,
)
from readmodel.inbox import claim_inbox_item, flag_crisis, inbox_page, store_inbound_message
from readmodel.sealed_text import open_text
from tests.fixtures.temporal import TEST_KEYRING

KEY = b"test pseudonym key for the read model"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]


async def _message(sessions: Sessions, sender: str, body: str, minutes: int) -> str:
    stored = await store_inbound_message(
        sessions,
        KEY,
        TEST_KEYRING,
        channel="sms",
        sender=sender,
        body=body,
        received_at=T0 + timedelta(minutes=minutes),
        gateway_id=f"gw-{minutes}",
    )
    return stored.id


async def test_crisis_alerts_stay_until_acknowledged(session_factory: Sessions) -> None:
    first = await _message(session_factory, "+447700900501", "I want to end it", 0)
    second = await _message(session_factory, "+447700900502", "can't go on", 5)
    calm = await _message(session_factory, "+447700900503", "what time is it", 6)
    for message_id in (first, second):
        await flag_crisis(session_factory, message_id)
    # Give two of them referrals, as matching would.
    async with session_factory.begin() as session:
        for message_id, ref in ((first, "R0000000001"), (calm, "R0000000003")):
            await session.execute(
                update(InboundMessageRow).where(InboundMessageRow.id == message_id).values(ref=ref)
            )
    async with session_factory() as session:
        alerts = await open_alerts(session, TEST_KEYRING)
        assert [a.message_id for a in alerts] == [first, second]  # oldest first
        assert alerts[0].body == "I want to end it" and alerts[0].ref == "R0000000001"
        assert await count_open_alerts(session) == 2
        assert await refs_in_crisis(session, ["R0000000001", "R0000000003", "R9"]) == {
            "R0000000001"
        }
        only = await open_alerts(session, TEST_KEYRING, "R0000000001")
        assert [a.message_id for a in only] == [first]

    # Acknowledged (as the follow-up's activity records it), with the coordinator's note.
    async with session_factory.begin() as session:
        await session.execute(
            update(InboundMessageRow)
            .where(InboundMessageRow.id == first)
            .values(crisis_acknowledged_at=T0, crisis_acknowledged_by="c-dana")
        )
    await keep_acknowledgement_note(session_factory, TEST_KEYRING, first, "Rang; safe tonight")
    async with session_factory() as session:
        assert await refs_in_crisis(session, ["R0000000001"]) == set()
        assert [a.message_id for a in await open_alerts(session, TEST_KEYRING)] == [second]
        row = await session.get(InboundMessageRow, first)
    assert row is not None and row.crisis_acknowledgement_note is not None
    assert "safe" not in row.crisis_acknowledgement_note  # sealed at rest
    assert open_text(TEST_KEYRING, row.crisis_acknowledgement_note) == "Rang; safe tonight"


async def test_the_inbox_shows_the_sender_and_who_took_it(session_factory: Sessions) -> None:
    message_id = await _message(session_factory, "+447700900601", "who do I ring?", 0)
    async with session_factory() as session:
        stored = (
            await session.execute(
                select(InboundMessageRow.sender).where(InboundMessageRow.id == message_id)
            )
        ).scalar_one()
        items, total, _ = await inbox_page(session, TEST_KEYRING, 0, 10)
    assert stored is not None and "900601" not in stored  # sealed at rest
    assert total == 1 and items[0].sender == "+447700900601" and items[0].claimed_by is None

    assert await claim_inbox_item(session_factory, message_id, "c-dana", at=T0)
    async with session_factory() as session:
        items, _, _ = await inbox_page(session, TEST_KEYRING, 0, 10)
    assert (items[0].claimed_by, items[0].claimed_at) == ("c-dana", T0)
    assert await claim_inbox_item(session_factory, message_id, None)
    async with session_factory() as session:
        items, _, _ = await inbox_page(session, TEST_KEYRING, 0, 10)
    assert items[0].claimed_by is None and items[0].claimed_at is None
    assert not await claim_inbox_item(session_factory, "f" * 32, "c-dana")
