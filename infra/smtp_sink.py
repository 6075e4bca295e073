"""A local SMTP sink for the dev stack: every letter Harbour sends becomes a ``.eml`` file.

Real SMTP (aiosmtpd), real files: open ``data/mailbox/*.eml`` in any mail client or text
editor to read exactly what a client, referrer or coordinator would receive. The folder and
the files are owner-only (0700, 0600).

Run on its own with ``python -m infra.smtp_sink [host] [port] [folder]``; the dev-stack
command starts it with :func:`start_sink`.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from infra.private_files import private_dir, write_private


class MailboxSink:
    """aiosmtpd handler writing each message to ``<UTC timestamp>-<short id>.eml``."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        private_dir(self.folder)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Store the message exactly as received and accept it."""
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8")
        # File I/O off the SMTP loop, so a slow disk never stalls the server.
        await asyncio.to_thread(self._write, content)
        return "250 Message accepted for delivery"

    def _write(self, content: bytes) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")  # sorts in arrival order
        name = f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        final = self.folder / name
        partial = self.folder / f".{name}.part"
        # Write then rename: a reader never sees half a message. Owner-only: letters hold
        # names and contacts.
        write_private(partial, content)
        os.replace(partial, final)
        return final


def start_sink(host: str, port: int, folder: Path | str, **kwargs: Any) -> Controller:
    """Start an SMTP sink on ``host:port`` writing into ``folder``; the caller stops it."""
    controller = Controller(MailboxSink(folder), hostname=host, port=port, **kwargs)
    controller.start()
    return controller


def main() -> None:
    """Run the sink until interrupted: ``python -m infra.smtp_sink [host] [port] [folder]``."""
    import sys

    host, port, folder = (
        sys.argv[1:] + ["localhost", "8025", "data/mailbox"][len(sys.argv) - 1 :]
    )[:3]
    controller = start_sink(host, int(port), Path(folder))
    print(f"SMTP sink on {host}:{port}, writing to {Path(folder).resolve()} (Ctrl-C to stop)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
