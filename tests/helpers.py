"""Small test helpers: assert eventually, read the captured mail, read raw history."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any

from temporalio.client import Client


async def eventually(
    check: Callable[[], Awaitable[Any] | Any], timeout: float = 15.0, interval: float = 0.05
) -> Any:
    """Retry ``check`` until it returns something truthy (awaiting it if needed).

    Checks come quickly at first (most conditions hold within a few milliseconds), then
    every ``interval`` seconds at most.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    pause = min(0.002, interval)
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            last = result
        except AssertionError as error:
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
        await asyncio.sleep(pause)
        pause = min(pause * 2, interval)


def mails_for(smtp_server: Any, address: str, subject_contains: str = "") -> list[EmailMessage]:
    """Captured emails to ``address`` whose subject contains the text (case-insensitive)."""
    return [
        m
        for m in smtp_server.messages
        if address.lower() in str(m["To"]).lower()
        and subject_contains.lower() in str(m["Subject"]).lower()
    ]


def body(message: EmailMessage) -> str:
    """Plain text and HTML bodies of an email, joined."""
    parts = []
    for kind in ("plain", "html"):
        part = message.get_body(preferencelist=(kind,))
        if part is not None:
            parts.append(part.get_content())
    return "\n".join(parts)


async def raw_history_text(client: Client, workflow_id: str) -> str:
    """Every run's history as Temporal stores it (payloads still encoded), newest run first.

    Walks back through continue-as-new via each run's ``continued_execution_run_id``.
    """
    text = []
    run_id: str | None = None
    while True:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        previous = ""
        async for event in handle.fetch_history_events():
            text.append(str(event))
            if event.HasField("workflow_execution_started_event_attributes"):
                previous = (
                    event.workflow_execution_started_event_attributes.continued_execution_run_id
                )
        if not previous:
            return "\n".join(text)
        run_id = previous
