"""Clients' secure links: open one, and act on the answer given on its page.

A link is a signed token (``infra.link_tokens``) naming one referral and one purpose
(``models.client_links``); it expires, and a change made through it spends it. An answer
goes the way a client's text goes (``services.inbound_messages.receive_by_link``): kept
first, then read by the referral's workflow, which applies the same rules as for a text. A
ReQoL-10 goes through the same workflow update staff use (``record_reqol``), as the baseline
measure of the current episode. Nothing here decides what an answer means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from infra.keys import KeyRing
from infra.link_tokens import LinkExpired, LinkInvalid, LinkSigner, LinkToken
from models.actions import ReqolSubmission
from models.client_links import (
    ANSWER_INTENTS,
    ANSWER_RECORDS,
    LinkAnswer,
    LinkPurpose,
    answer_allowed,
    is_crisis,
    lifetime,
    purpose_from_code,
    spends_link,
)
from models.messages import MessageReading
from models.policy import ServicePolicy
from readmodel.client_links import keep_link_answer, link_used, spend_link
from readmodel.inbox import MESSAGE_MATCHED
from services import referrals
from services.inbound_messages import receive_by_link
from services.worker_presence import with_worker

log = structlog.get_logger()


class LinkNotFound(Exception):
    """Not a link of ours (or altered, or for another purpose): the page says 404."""


class LinkGone(Exception):
    """A genuine link that can do no more: expired or already used (410)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why  # "expired" | "used"


class AnswerNotTaken(Exception):
    """The referral's rules refused the answer (e.g. the measure is already recorded)."""


@dataclass(frozen=True)
class OpenedLink:
    """A valid link: its purpose, referral and token id, and whether it was used."""

    purpose: LinkPurpose
    ref: str
    token_id: str
    used: bool


def read_token(
    signer: LinkSigner, token: str, *, expired_too: bool = False
) -> tuple[LinkToken, LinkPurpose]:
    """The token's content and purpose; ``LinkNotFound``, or ``LinkGone("expired")`` unless
    ``expired_too`` (asking for help: a genuine link's page may have been open for days)."""
    try:
        content = signer.read(token)
    except LinkInvalid:
        raise LinkNotFound from None
    purpose = purpose_from_code(content.purpose_code)
    if purpose is None:
        raise LinkNotFound
    if expired_too:
        return content, purpose
    try:
        signer.read(token, max_age_seconds=int(lifetime(purpose).total_seconds()))
    except LinkExpired:
        raise LinkGone("expired") from None
    except LinkInvalid:
        raise LinkNotFound from None
    return content, purpose


async def open_link(
    signer: LinkSigner,
    session_factory: async_sessionmaker[AsyncSession],
    token: str,
    *,
    expired_too: bool = False,
) -> OpenedLink:
    """What a link is for, if it is genuine and (unless ``expired_too``) not expired, used
    or not."""
    content, purpose = read_token(signer, token, expired_too=expired_too)
    used = await link_used(session_factory, content.token_id)
    return OpenedLink(purpose=purpose, ref=content.ref, token_id=content.token_id, used=used)


async def answer(
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
    keyring: KeyRing,
    signer: LinkSigner,
    token: str,
    given: LinkAnswer,
    *,
    reqol: dict[int, int] | None = None,
    policy: ServicePolicy | None = None,
    task_queue: str = "harbour",
    worker_wait_seconds: float = 20.0,
) -> OpenedLink:
    """Act on ``given`` through the link ``token``.

    Raises ``LinkNotFound`` (not ours, or the answer is not one this link takes),
    ``LinkGone`` (expired, or used for a change already — asking for help works on any
    genuine link, expired or used),
    ``AnswerNotTaken`` (a ReQoL-10 the referral refused). Temporal errors propagate: the
    answer is kept and a person sees it in the inbox. A ReQoL-10 is kept only by the
    workflow: with no worker to take it within ``worker_wait_seconds``, ``WorkerUnavailable``
    (nothing kept, the link not spent).
    """
    # A possible crisis must reach a person: asking for help works on a genuine link however
    # old (a page left open in a phone's browser for days), and never spends it.
    link = await open_link(signer, session_factory, token, expired_too=is_crisis(given))
    if not answer_allowed(link.purpose, given):
        raise LinkNotFound
    now = datetime.now(UTC)
    if given is LinkAnswer.REQOL:
        if link.used:
            raise LinkGone("used")
        await _record_reqol(
            client, session_factory, link, reqol or {}, now, task_queue, worker_wait_seconds
        )
        return link
    body = ANSWER_RECORDS[given]
    kept = await keep_link_answer(
        session_factory,
        keyring,
        token_id=link.token_id,
        ref=link.ref,
        purpose=link.purpose.value,
        body=body,
        at=now,
        spend=spends_link(given),
    )
    # The link was spent before (this is the one place that decides, in the transaction that
    # keeps the answer). The same answer again while the workflow has not read the first (a
    # double tap, a retry) is delivered again under the first's id, which the workflow takes
    # once; anything else is refused, so the workflow never acts on an answer other than the
    # one kept.
    if not kept.spent_now and not (kept.same_answer and kept.status == MESSAGE_MATCHED):
        raise LinkGone("used")
    reading = MessageReading(
        intent=ANSWER_INTENTS[given],
        crisis=is_crisis(given),
        reasons=["link"],
    )
    await receive_by_link(
        client,
        session_factory,
        message_id=kept.message_id,
        ref=link.ref,
        body=body,
        reading=reading,
        received_at=now,
        policy=policy,
        task_queue=task_queue,
    )
    return link


async def _record_reqol(
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
    link: OpenedLink,
    responses: dict[int, int],
    now: datetime,
    task_queue: str,
    worker_wait_seconds: float,
) -> None:
    """The client's own ReQoL-10 through the staff's update, as the measure now due
    (``models.client_links.reqol_due_before_session``: the baseline, or the end before the
    last planned session); the link is spent only once the workflow took it."""

    async def record(c: Client) -> None:
        due = (await referrals.read(c, link.ref)).reqol_due
        if due is None:
            raise referrals.ActionRejected("no ReQoL-10 is due by link now")
        submission = ReqolSubmission(when=due, responses=responses)
        await referrals.act(c, link.ref, "record_reqol", submission)

    try:
        # Bounded, as every action is: a client's page must not hang while no worker runs.
        await with_worker(client, task_queue, worker_wait_seconds, record)
    except referrals.ActionRejected as error:
        raise AnswerNotTaken(error.reason) from None
    await spend_link(
        session_factory, token_id=link.token_id, ref=link.ref, purpose=link.purpose.value, at=now
    )
    log.info("reqol by link", ref=link.ref)
