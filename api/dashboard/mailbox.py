"""The dev mailbox: the ``.eml`` files the embedded SMTP sink (``infra.smtp_sink``) wrote.

Only on the embedded defaults (``state.dev_mailbox_enabled``): on a laptop these are the
letters a newcomer wants to read; in production there is no sink and no page. Files are
listed newest first by name (the sink names them by arrival time) and only the page shown is
opened. A message is shown as its subject, recipients, date and plain-text body — never its
HTML, which is not rendered here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

# What the sink writes (``20260124T101500123456Z-1a2b3c4d.eml``), or any plain .eml name.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.eml$")
MAX_BODY_CHARS = 50_000


@dataclass(frozen=True)
class MailSummary:
    """One message as the list shows it."""

    name: str
    subject: str
    to: str
    date: datetime | None
    kind: str | None


@dataclass(frozen=True)
class Mail(MailSummary):
    """One message with its plain-text body."""

    sender: str
    text: str


def names(folder: Path) -> list[str]:
    """Every message file, newest first."""
    try:
        with os.scandir(folder) as entries:
            found = [e.name for e in entries if NAME.match(e.name) and e.is_file()]
    except FileNotFoundError:
        return []
    return sorted(found, reverse=True)


def _parse(path: Path, *, headers_only: bool = False) -> EmailMessage:
    with path.open("rb") as handle:
        message = BytesParser(policy=policy.default).parse(handle, headersonly=headers_only)
    assert isinstance(message, EmailMessage)
    return message


def _date(message: EmailMessage) -> datetime | None:
    try:
        return parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        return None


def _summary(name: str, message: EmailMessage) -> MailSummary:
    return MailSummary(
        name=name,
        subject=str(message["Subject"] or "(no subject)"),
        to=str(message["To"] or ""),
        date=_date(message),
        kind=str(message["X-Harbour-Kind"]) if message["X-Harbour-Kind"] else None,
    )


def summaries(folder: Path, page_names: list[str]) -> list[MailSummary]:
    """The list entries of ``page_names`` (files that vanished meanwhile are skipped)."""
    found = []
    for name in page_names:
        try:
            found.append(_summary(name, _parse(folder / name, headers_only=True)))
        except (FileNotFoundError, AssertionError):
            continue
    return found


def read(folder: Path, name: str) -> Mail | None:
    """One message, or None when there is no such file (or the name is not one of ours)."""
    if not NAME.match(name):
        return None
    path = folder / name
    if not path.is_file():
        return None
    message = _parse(path)
    part = message.get_body(preferencelist=("plain",))
    text = part.get_content() if part is not None else "(this message has no plain-text part)"
    summary = _summary(name, message)
    return Mail(
        **summary.__dict__,
        sender=str(message["From"] or ""),
        text=str(text)[:MAX_BODY_CHARS],
    )
