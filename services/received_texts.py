"""A safety net for texts whose inbound callback never came: poll Notify's received texts.

Notify keeps received texts for 7 days and lists them newest first. Each poll reads pages
until it meets a text already stored (or runs out), and hands the new ones to
``services.inbound_messages.receive`` exactly as the callback would — deduplicated by Notify's
id, so a text that arrives both ways is stored once.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import structlog
from notifications_python_client.notifications import NotificationsAPIClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.notifications import notify_client
from infra.keys import KeyRing, load_keyring
from models.messages import Channel
from models.settings import Settings
from readmodel.inbox import finished_texts
from services import inbound_messages

log = structlog.get_logger()


async def poll_once(
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
    pseudonym_key: bytes,
    keyring: KeyRing,
    notify: NotificationsAPIClient,
    settings: Settings,
) -> int:
    """Fetch received texts not yet stored (or stored but not finished) and receive them.
    Returns how many there were."""
    new: list[dict[str, Any]] = []
    older_than: str | None = None
    while True:
        page = await asyncio.to_thread(notify.get_received_texts, older_than)
        texts = page.get("received_text_messages") or []
        if not texts:
            break
        done = await finished_texts(session_factory, [str(t["id"]) for t in texts])
        new += [t for t in texts if str(t["id"]) not in done]
        if len(done) == len(texts) or not (page.get("links") or {}).get("next"):
            break  # newest first: a page of texts all done means the older ones are too
        older_than = str(texts[-1]["id"])
    for text in reversed(new):  # oldest first, as they arrived
        await inbound_messages.receive(
            client,
            session_factory,
            pseudonym_key,
            keyring,
            channel=Channel.SMS,
            sender="+" + str(text["user_number"]).lstrip("+"),
            body=str(text.get("content") or ""),
            received_at=datetime.fromisoformat(str(text["created_at"]).replace("Z", "+00:00")),
            gateway_id=str(text["id"]),
            policy=settings.effective_policy(),
            task_queue=settings.task_queue,
        )
    if new:
        log.info("received texts finished by polling", count=len(new))
    return len(new)


async def poll_forever(
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
    pseudonym_key: bytes,
    settings: Settings,
    *,
    keyring: KeyRing | None = None,
) -> None:
    """Poll at the settings' interval until cancelled; a failed poll is logged and retried.
    ``keyring`` seals the texts' bodies (default: the settings' keys, as the worker's)."""
    notify = notify_client(settings)
    if notify is None or settings.notify_poll_seconds <= 0:
        return
    keyring = keyring or load_keyring(settings)
    while True:
        await asyncio.sleep(settings.notify_poll_seconds)
        try:
            await poll_once(client, session_factory, pseudonym_key, keyring, notify, settings)
        except Exception as exc:  # a safety net must outlive any one failure
            log.warning("received texts poll failed", error=type(exc).__name__)
