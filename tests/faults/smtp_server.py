"""A real SMTP server (aiosmtpd) that a fault scenario can break on purpose.

It keeps every message it accepted with the moment it accepted it — recorded *before* it
answers 250, so a letter the outbox marks "sent" earlier than that was marked before the server
took it. Faults:

- ``down()`` / ``up()``: not listening at all (connection refused), then back on the same port;
- ``refuse(stage, reply)``: answer every RCPT or DATA with a 4xx or 5xx reply;
- ``hold_next()``: keep the next message that is not the first of its connection (so, one in
  the middle of a batch), of a referral none of whose letters was held before, waiting for an
  answer until ``release(accept=...)`` — the moment to
  ``kill -9`` a worker or restart a database with a letter half-sent. Accepting a held message
  after its sender died is what a real server does when the connection drops after the data:
  the retry must then carry the same Message-ID.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email import policy as email_policy
from enum import StrEnum

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.faults.processes import free_port


@dataclass(frozen=True)
class Accepted:
    """One message the server accepted."""

    message_id: str
    ref: str
    kind: str
    to: str
    accepted_at: datetime


def _header(envelope: Envelope, name: str) -> str:
    message = message_from_bytes(envelope.original_content or b"", policy=email_policy.default)
    return str(message[name])


class SmtpStage(StrEnum):
    RCPT = "rcpt"
    DATA = "data"


class _Handler:
    def __init__(self, server: FaultySmtpServer) -> None:
        self._server = server

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self._server._refusal(SmtpStage.RCPT)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self._server._refusal(SmtpStage.DATA)
        if refusal is not None:
            return refusal
        # Messages so far on this connection; the handler sees one session per connection.
        count = getattr(session, "harbour_messages", 0) + 1
        session.harbour_messages = count  # type: ignore[attr-defined]
        if count > 1 and self._server._take_hold(envelope):
            # Shielded: when the sender is killed, aiosmtpd cancels this handler, but the
            # server still has the message and still decides what becomes of it.
            decision = asyncio.ensure_future(self._server._held(envelope))
            accepted = await asyncio.shield(decision)
        else:
            accepted = self._server._accept(envelope)
        if not accepted:
            return "451 4.3.0 Temporary failure, try again later"
        return "250 Message accepted for delivery"


class FaultySmtpServer:
    """aiosmtpd on 127.0.0.1 and a free port, with faults to switch on and off."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.accepted: list[Accepted] = []
        self.refused = 0  # RCPT or DATA answered with a refusal
        self.held: list[tuple[str, bool]] = []  # (Message-ID, accepted) of each held message
        self._held_refs: set[str] = set()
        self._lock = threading.Lock()
        self._refuse: tuple[SmtpStage, str] | None = None
        self._hold_wanted = False
        self._holding = False
        self._release: bool | None = None
        self._controller: Controller | None = None

    # ------------------------------------------------------------------ switching faults

    def up(self) -> None:
        """Listen (again) on the same port."""
        if self._controller is None:
            self._controller = Controller(
                _Handler(self), hostname=self.host, port=self.port, ready_timeout=60
            )
            self._controller.start()

    def down(self) -> None:
        """Stop listening: connections are refused until ``up``."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse(self, stage: SmtpStage | None, reply: str = "") -> None:
        """Answer every RCPT or DATA with ``reply`` (e.g. ``"451 4.3.0 try later"``); None:
        accept again."""
        with self._lock:
            self._refuse = None if stage is None else (stage, reply)

    def hold_next(self) -> None:
        """Hold the next message that follows another on its connection (mid-batch)."""
        with self._lock:
            self._hold_wanted = True
            self._release = None

    @property
    def holding(self) -> bool:
        """Whether a message is being held right now."""
        return self._holding

    def release(self, *, accept: bool) -> None:
        """Answer the held message: 250 (accepted) or 451 (not taken)."""
        with self._lock:
            self._hold_wanted = False
            self._release = accept

    # ------------------------------------------------------------------ what it saw

    def copies(self) -> dict[str, list[Accepted]]:
        """Accepted messages by Message-ID."""
        with self._lock:
            found: dict[str, list[Accepted]] = {}
            for message in self.accepted:
                found.setdefault(message.message_id, []).append(message)
            return found

    def count(self) -> int:
        with self._lock:
            return len(self.accepted)

    # ------------------------------------------------------------------ the handler's side

    def _refusal(self, stage: SmtpStage) -> str | None:
        with self._lock:
            if self._refuse is not None and self._refuse[0] is stage:
                self.refused += 1
                return self._refuse[1]
        return None

    def _take_hold(self, envelope: Envelope) -> bool:
        ref = _header(envelope, "X-Harbour-Ref")
        with self._lock:
            if self._hold_wanted and not self._holding and ref not in self._held_refs:
                self._holding = True
                self._held_refs.add(ref)
                return True
            return False

    async def _held(self, envelope: Envelope) -> bool:
        # Runs on the server's own loop; a poll keeps this free of cross-thread signalling.
        deadline = time.monotonic() + 600
        while self._release is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        with self._lock:
            accept, self._release, self._holding = bool(self._release), None, False
            self.held.append((_header(envelope, "Message-ID"), accept))
        return self._accept(envelope) if accept else False

    def _accept(self, envelope: Envelope) -> bool:
        raw = envelope.original_content or b""
        message = message_from_bytes(raw, policy=email_policy.default)
        record = Accepted(
            message_id=str(message["Message-ID"]),
            ref=str(message["X-Harbour-Ref"]),
            kind=str(message["X-Harbour-Kind"]),
            to=",".join(envelope.rcpt_tos),
            accepted_at=datetime.now(UTC),
        )
        with self._lock:
            self.accepted.append(record)
        return True
