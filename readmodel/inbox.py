"""Inbound client messages and the coordinators' inbox.

Inbound messages are stored before anything else happens to them and are matched to
a referral only through the keyed hash of a registered contact. Their bodies and the
coordinators' resolution notes are kept sealed (``readmodel.sealed_text``) and opened here,
for the coordinators who read the inbox.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.database import as_utc, insert_for, write_transaction
from infra.keys import KeyRing
from models.client_numbers import normalise_phone
from models.inbox_replies import InboxReply, ReplyTarget
from models.messages import Channel
from models.records import InboxItem, InboxMessage, StoredMessage
from models.referral import Stage
from models.tables import (
    ContactRow,
    InboundMessageRow,
    ReferralRow,
)
from readmodel.contacts import contact_key
from readmodel.sealed_text import open_optional, open_text, seal_text

log = structlog.get_logger(__name__)

# Lifecycle of an inbound message row (``inbound_messages.status``).
MESSAGE_RECEIVED = "received"  # stored; matching not done yet
MESSAGE_MATCHED = "matched"  # matched to a live referral; the workflow has not read it yet
MESSAGE_INBOX = "inbox"  # no live referral matched: waits for a coordinator
MESSAGE_HANDLED = "handled"  # the referral's workflow read it (record_message_handling)
MESSAGE_RESOLVED = "resolved"  # a coordinator dealt with it in the inbox

SessionFactory = async_sessionmaker[AsyncSession]


async def store_inbound_message(
    session_factory: SessionFactory,
    pseudonym_key: bytes,
    keyring: KeyRing,
    *,
    channel: str,
    sender: str,
    body: str,
    received_at: datetime,
    gateway_id: str | None = None,
) -> StoredMessage:
    """Keep an inbound message, then match its sender to a referral.

    The message is committed first, before any matching, so it survives whatever happens
    next. A gateway's redelivery (same ``channel`` and ``gateway_id``) stores nothing new and
    returns the first copy with ``duplicate=True``. The sender matches only through the keyed
    hash of a contact registered on a referral; of several, the most recently received
    referral that is not closed. No match: the message goes to the coordinators' inbox.
    The body is stored sealed with ``keyring``.
    """
    sender_key = contact_key(pseudonym_key, sender)
    new_id = uuid.uuid4().hex
    first: InboundMessageRow | None = None
    async with write_transaction(session_factory) as session:
        stmt = (
            insert_for(session, InboundMessageRow)
            .values(
                id=new_id,
                gateway_id=gateway_id,
                channel=channel,
                sender_key=sender_key,
                received_at=as_utc(received_at),
                body=seal_text(keyring, body),
                # Sealed like the body: shown to coordinators so they can see who wrote.
                sender=seal_text(keyring, sender),
                ref=None,
                status=MESSAGE_RECEIVED,
                intent=None,
                crisis=False,
                in_inbox=False,
            )
            # The unique (channel, gateway_id) constraint turns a redelivery into a no-op.
            .on_conflict_do_nothing()
            .returning(InboundMessageRow.id)
        )
        if (await session.execute(stmt)).scalar_one_or_none() is None:
            first = (
                await session.execute(
                    select(InboundMessageRow).where(
                        InboundMessageRow.channel == channel,
                        InboundMessageRow.gateway_id == gateway_id,
                    )
                )
            ).scalar_one()
    message_id = new_id
    if first is not None:
        log.info("inbound message redelivered", message_id=first.id, channel=channel)
        if first.status != MESSAGE_RECEIVED:
            return StoredMessage(
                id=first.id,
                ref=first.ref,
                duplicate=True,
                status=first.status,
                discreet=await _discreet(session_factory, sender_key),
            )
        # The first delivery was kept but never matched (a crash in between): finish it now.
        message_id = first.id
    ref, status = await _match(session_factory, message_id, sender_key)
    discreet = await _discreet(session_factory, sender_key)
    log.info("inbound message stored", message_id=message_id, channel=channel, matched=bool(ref))
    return StoredMessage(
        id=message_id, ref=ref, duplicate=first is not None, status=status, discreet=discreet
    )


async def _discreet(session_factory: SessionFactory, sender_key: str) -> bool:
    """Whether any referral registered this contact as one to write to discreetly."""
    async with session_factory() as session:
        found = await session.scalar(
            select(func.count()).where(
                ContactRow.contact_key == sender_key, ContactRow.discreet.is_(True)
            )
        )
    return bool(found)


async def _match(
    session_factory: SessionFactory, message_id: str, sender_key: str
) -> tuple[str | None, str]:
    """Match a stored message to a live referral by its sender's key, or put it in the inbox."""
    async with write_transaction(session_factory) as session:
        ref = (
            await session.execute(
                select(ReferralRow.ref)
                .join(ContactRow, ContactRow.ref == ReferralRow.ref)
                .where(
                    ContactRow.contact_key == sender_key, ReferralRow.stage != Stage.CLOSED.value
                )
                .order_by(ReferralRow.received_at.desc(), ReferralRow.ref.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        # In the inbox from the start: a person sees it even if its workflow never reads it
        # (Temporal down, a crash); the workflow takes out what it acted on.
        values = (
            {"ref": ref, "status": MESSAGE_MATCHED, "in_inbox": True}
            if ref is not None
            else {"status": MESSAGE_INBOX, "in_inbox": True}
        )
        await session.execute(
            update(InboundMessageRow)
            .where(InboundMessageRow.id == message_id, InboundMessageRow.status == MESSAGE_RECEIVED)
            .values(**values)
        )
    return ref, str(values["status"])


# The inbox's order: open before resolved, crisis first, then the oldest first.
_INBOX_ORDER = (
    InboundMessageRow.in_inbox.desc(),
    InboundMessageRow.crisis.desc(),
    InboundMessageRow.received_at,
    InboundMessageRow.id,
)
_OPEN = InboundMessageRow.in_inbox.is_(True)


async def list_inbox(
    session_factory: SessionFactory,
    keyring: KeyRing,
    *,
    include_resolved: bool = False,
    limit: int = 200,
) -> list[InboxItem]:
    """Messages waiting for a coordinator, crisis first, then oldest first.

    With ``include_resolved`` also those already dealt with (after the open ones, in the same
    order), for the inbox's history.
    """
    shown = or_(_OPEN, InboundMessageRow.resolved_at.is_not(None)) if include_resolved else _OPEN
    query = select(InboundMessageRow).where(shown).order_by(*_INBOX_ORDER).limit(limit)
    async with session_factory() as session:
        rows = (await session.execute(query)).scalars().all()
    return [_inbox_item(row, keyring) for row in rows]


async def inbox_page(
    session: AsyncSession, keyring: KeyRing, offset: int, limit: int
) -> tuple[list[InboxMessage], int, int]:
    """A page of the open inbox in the inbox's order (each with its sender, opened from its
    seal, and who has claimed it), how many are open, how many of those are possible
    crises."""
    rows = (
        await session.scalars(
            select(InboundMessageRow)
            .where(_OPEN)
            .order_by(*_INBOX_ORDER)
            .offset(offset)
            .limit(limit)
        )
    ).all()
    open_count, open_crisis = await inbox_counts(session)
    messages = [
        InboxMessage(
            **_inbox_item(r, keyring).model_dump(),
            sender=open_optional(keyring, r.sender),
            claimed_by=r.claimed_by,
            claimed_at=None if r.claimed_at is None else as_utc(r.claimed_at),
            reply_code=r.reply_code,
            replied_by=r.replied_by,
            replied_at=None if r.replied_at is None else as_utc(r.replied_at),
        )
        for r in rows
    ]
    return messages, open_count, open_crisis


async def inbox_counts(session: AsyncSession) -> tuple[int, int]:
    """How many messages are open in the inbox, and how many of those are possible crises:
    the inbox's heading, the overview and ``/metrics`` all count them here."""
    crisis = func.coalesce(func.sum(case((InboundMessageRow.crisis.is_(True), 1), else_=0)), 0)
    counts = (await session.execute(select(func.count(), crisis).where(_OPEN))).one()
    return int(counts[0]), int(counts[1])


async def recently_resolved(
    session: AsyncSession, keyring: KeyRing, limit: int = 10
) -> list[InboxItem]:
    """The last messages coordinators resolved, newest first."""
    rows = (
        await session.scalars(
            select(InboundMessageRow)
            .where(InboundMessageRow.resolved_at.is_not(None))
            .order_by(InboundMessageRow.resolved_at.desc(), InboundMessageRow.id)
            .limit(limit)
        )
    ).all()
    return [_inbox_item(r, keyring) for r in rows]


async def flag_crisis(session_factory: SessionFactory, message_id: str) -> None:
    """Flag the message as a possible crisis in the inbox at once (the workflow may be slow)."""
    async with session_factory.begin() as session:
        await session.execute(
            update(InboundMessageRow)
            .where(InboundMessageRow.id == message_id, InboundMessageRow.resolved_at.is_(None))
            .values(crisis=True, in_inbox=True)
        )


async def move_to_inbox(session_factory: SessionFactory, message_id: str) -> None:
    """Put the message in front of a coordinator (no workflow will read it)."""
    async with session_factory.begin() as session:
        await session.execute(
            update(InboundMessageRow)
            .where(InboundMessageRow.id == message_id)
            .values(in_inbox=True, status=MESSAGE_INBOX)
        )


async def finished_texts(session_factory: SessionFactory, gateway_ids: list[str]) -> set[str]:
    """The gateway ids among ``gateway_ids`` whose handling is finished. A text stored but
    never handed to its workflow (Temporal was down), or a crisis whose alert nobody has
    acknowledged, is not finished: receiving it again finishes what is missing."""
    async with session_factory() as session:
        rows = await session.execute(
            select(
                InboundMessageRow.gateway_id,
                InboundMessageRow.status,
                InboundMessageRow.crisis,
                InboundMessageRow.crisis_acknowledged_at,
            ).where(
                InboundMessageRow.channel == Channel.SMS.value,
                InboundMessageRow.gateway_id.in_(gateway_ids),
            )
        )
        return {
            gateway_id
            for gateway_id, status, crisis, acknowledged in rows
            if gateway_id is not None
            and status not in (MESSAGE_RECEIVED, MESSAGE_MATCHED)
            and not (crisis and acknowledged is None)
        }


async def inbox_item(
    session_factory: SessionFactory, keyring: KeyRing, message_id: str
) -> InboxItem | None:
    """One stored message as the inbox shows it, or None when there is no such message."""
    async with session_factory() as session:
        row = await session.get(InboundMessageRow, message_id)
    return None if row is None else _inbox_item(row, keyring)


async def message_exists(session_factory: SessionFactory, message_id: str) -> bool:
    """Whether an inbound message with this id is stored (nothing is opened)."""
    async with session_factory() as session:
        found = await session.scalar(
            select(InboundMessageRow.id).where(InboundMessageRow.id == message_id)
        )
    return found is not None


def _inbox_item(row: InboundMessageRow, keyring: KeyRing) -> InboxItem:
    return InboxItem(
        id=row.id,
        channel=row.channel,
        received_at=as_utc(row.received_at),
        body=open_text(keyring, row.body),
        ref=row.ref,
        status=row.status,
        intent=row.intent,
        crisis=row.crisis,
        in_inbox=row.in_inbox,
        resolved_at=None if row.resolved_at is None else as_utc(row.resolved_at),
        resolution_note=open_optional(keyring, row.resolution_note),
    )


async def resolve_inbox_item(
    session_factory: SessionFactory,
    keyring: KeyRing,
    id: str,
    note: str,
    *,
    at: datetime | None = None,
) -> bool:
    """Take a message out of the inbox with the coordinator's note (stored sealed).

    Returns False when there is no such message. Resolving twice keeps the first resolution.
    """
    resolved_at = as_utc(at) if at is not None else datetime.now(UTC)
    async with write_transaction(session_factory) as session:
        exists = (
            await session.execute(select(InboundMessageRow.id).where(InboundMessageRow.id == id))
        ).scalar_one_or_none()
        if exists is None:
            return False
        await session.execute(
            update(InboundMessageRow)
            .where(InboundMessageRow.id == id, InboundMessageRow.resolved_at.is_(None))
            .values(
                in_inbox=False,
                status=MESSAGE_RESOLVED,
                resolved_at=resolved_at,
                resolution_note=seal_text(keyring, note),
            )
        )
    log.info("inbox item resolved", message_id=id)
    return True


async def claim_inbox_item(
    session_factory: SessionFactory, id: str, staff_id: str | None, *, at: datetime | None = None
) -> bool:
    """``staff_id`` takes an open message (None: gives it back), so others see who is on it.
    False when there is no such open message."""
    async with write_transaction(session_factory) as session:
        done = await session.execute(
            update(InboundMessageRow)
            .where(InboundMessageRow.id == id, _OPEN)
            .values(
                claimed_by=staff_id,
                claimed_at=None if staff_id is None else as_utc(at or datetime.now(UTC)),
            )
        )
    return bool(done.rowcount)


# A reply goes back on the channel the message came by: texts and emails only.
_REPLY_CHANNELS = frozenset({Channel.SMS.value, Channel.EMAIL.value})


class ReplyRefused(Exception):
    """A coded reply cannot be sent to this message; the message says why, in a coordinator's
    words (no personal data)."""


def _reply_address(row: InboundMessageRow, keyring: KeyRing) -> str | None:
    """The sender's own number or address, to reply on the channel the message came by."""
    if row.sender is None or row.channel not in _REPLY_CHANNELS:
        return None
    sender = open_text(keyring, row.sender)
    if row.channel != Channel.SMS.value:
        return sender
    try:
        return normalise_phone(sender)
    except ValueError:
        return None


async def check_reply_possible(
    session_factory: SessionFactory, keyring: KeyRing, message_id: str
) -> None:
    """Raise ``ReplyRefused`` when the message is gone (no such message, or resolved), has
    nobody to reply to, or already had its reply."""
    async with session_factory() as session:
        row = await session.get(InboundMessageRow, message_id)
    if row is None or row.resolved_at is not None:
        raise ReplyRefused("That message is no longer in the inbox.")
    if _reply_address(row, keyring) is None:
        raise ReplyRefused("That message has no number or address to reply to: phone instead.")
    if row.reply_code is not None:
        raise ReplyRefused(f"That message already had a reply, sent by {row.replied_by}.")


async def record_inbox_reply(
    session_factory: SessionFactory, keyring: KeyRing, reply: InboxReply, at: datetime
) -> ReplyTarget:
    """Record the coded reply on the message (the first reply stays: recording the same reply
    again changes nothing) and say where it goes: the sender's own address, opened from its
    seal, on the channel the message came by. ``recorded`` is False when the message is gone,
    has no sender, or already had a different reply: then nothing is to be sent."""
    async with write_transaction(session_factory) as session:
        await session.execute(
            update(InboundMessageRow)
            .where(InboundMessageRow.id == reply.message_id, InboundMessageRow.reply_code.is_(None))
            .values(
                reply_code=reply.code.value, replied_by=reply.coordinator, replied_at=as_utc(at)
            )
        )
        row = await session.get(InboundMessageRow, reply.message_id)
        address = None if row is None else _reply_address(row, keyring)
        if row is None or address is None or row.reply_code != reply.code.value:
            return ReplyTarget(recorded=False)
        channel, sender_key, ref = row.channel, row.sender_key, row.ref
    log.info("inbox reply recorded", message_id=reply.message_id, code=reply.code.value)
    return ReplyTarget(
        recorded=True,
        channel=channel,
        address=address,
        discreet=await _discreet(session_factory, sender_key),
        ref=ref,
    )
