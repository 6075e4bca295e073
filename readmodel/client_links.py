"""Clients' secure links in the read model: spend a link while keeping its answer as an
inbound message (one transaction), and tell whether a link was used.

The answer is kept like any message a client sends (``inbound_messages``, channel ``link``,
the token id as its gateway id), already matched to the link's referral and in the inbox
until the referral's workflow reads it — so a person sees it even if Temporal is away.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.database import as_utc, insert_for, write_transaction
from infra.keys import KeyRing
from models.tables import ClientLinkUseRow, InboundMessageRow
from readmodel.inbox import MESSAGE_MATCHED
from readmodel.sealed_text import open_text, seal_text

SessionFactory = async_sessionmaker[AsyncSession]
LINK_CHANNEL = "link"
# Link answers have no sender address: the link itself says whose they are.
_LINK_SENDER = "link"


@dataclass(frozen=True)
class LinkAnswerStored:
    """The kept answer: its message id, and whether this call spent the link (False: it was
    spent before; ``status`` then says whether the workflow has read that first answer, and
    ``same_answer`` whether that first answer is this one)."""

    message_id: str
    spent_now: bool
    status: str
    same_answer: bool = True


async def keep_link_answer(
    session_factory: SessionFactory,
    keyring: KeyRing,
    *,
    token_id: str,
    ref: str,
    purpose: str,
    body: str,
    at: datetime,
    spend: bool,
) -> LinkAnswerStored:
    """Keep an answer given through a link and, when ``spend``, mark the link used — both
    or neither. A link already used keeps nothing new and returns its first answer (and
    whether it said the same as ``body``)."""
    message_id = uuid.uuid4().hex
    async with write_transaction(session_factory) as session:
        if spend and not await _spend(session, token_id, ref, purpose, at):
            first = (
                await session.execute(
                    select(
                        InboundMessageRow.id, InboundMessageRow.status, InboundMessageRow.body
                    ).where(
                        InboundMessageRow.channel == LINK_CHANNEL,
                        InboundMessageRow.gateway_id == token_id,
                    )
                )
            ).one()
            return LinkAnswerStored(
                message_id=first.id,
                spent_now=False,
                status=first.status,
                same_answer=open_text(keyring, first.body) == body,
            )
        await session.execute(
            insert_for(session, InboundMessageRow).values(
                id=message_id,
                # A spent link's answer is known by its token id; help can be asked many times.
                gateway_id=token_id if spend else None,
                channel=LINK_CHANNEL,
                sender_key=_LINK_SENDER,
                received_at=as_utc(at),
                body=seal_text(keyring, body),
                ref=ref,
                status=MESSAGE_MATCHED,
                intent=None,
                crisis=False,
                in_inbox=True,
            )
        )
    return LinkAnswerStored(message_id=message_id, spent_now=True, status=MESSAGE_MATCHED)


async def spend_link(
    session_factory: SessionFactory, *, token_id: str, ref: str, purpose: str, at: datetime
) -> bool:
    """Mark a link used for a change kept elsewhere (a ReQoL-10 the workflow recorded);
    False: it was already used."""
    async with write_transaction(session_factory) as session:
        spent = await _spend(session, token_id, ref, purpose, at)
    return spent


async def _spend(
    session: AsyncSession, token_id: str, ref: str, purpose: str, at: datetime
) -> bool:
    spent = (
        await session.execute(
            insert_for(session, ClientLinkUseRow)
            .values(token_id=token_id, ref=ref, purpose=purpose, used_at=as_utc(at))
            .on_conflict_do_nothing()
            .returning(ClientLinkUseRow.token_id)
        )
    ).scalar_one_or_none()
    return spent is not None


async def link_used(session_factory: SessionFactory, token_id: str) -> bool:
    """Whether the link with ``token_id`` has made its change."""
    async with session_factory() as session:
        found = await session.scalar(
            select(ClientLinkUseRow.token_id).where(ClientLinkUseRow.token_id == token_id)
        )
    return found is not None
