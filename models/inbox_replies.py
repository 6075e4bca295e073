"""Coded replies to a client's message: the short closed list a coordinator picks from.

The rules forbid free text and clinical detail in texts and emails, so a coordinator never
types a reply: they choose one of these codes on the inbox page and Harbour sends its fixed
wording (reading age 11 or below, measured by tests/test_reading_age.py). Each message gets at
most one coded reply; anything more is a phone call.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

RECORD_INBOX_REPLY = "record_inbox_reply"


class ReplyCode(StrEnum):
    """What a coordinator can say back to the sender of a message."""

    WILL_PHONE = "will_phone"
    PLEASE_CALL = "please_call"
    WHO_ARE_YOU = "who_are_you"


# What the client reads ({service_phone}: the service's number). Short, plain, and with no
# detail of what the message said.
REPLY_WORDING: dict[ReplyCode, str] = {
    ReplyCode.WILL_PHONE: "We have your message. One of our team will phone you soon.",
    ReplyCode.PLEASE_CALL: "We have your message. Please call us on {service_phone}.",
    ReplyCode.WHO_ARE_YOU: (
        "We have your message. Please reply with your name and date of birth, so we can find you."
    ),
}

# What the coordinator sees in the list they pick from.
REPLY_LABELS: dict[ReplyCode, str] = {
    ReplyCode.WILL_PHONE: "We have your message and will phone you",
    ReplyCode.PLEASE_CALL: "Please call us on the service's number",
    ReplyCode.WHO_ARE_YOU: "Please reply with your name and date of birth",
}


class UnknownReplyCode(ValueError):
    """The code posted is not one of the replies (the message names the list, not the value)."""


def reply_code(value: str | None) -> ReplyCode:
    """The reply a form or request chose; ``UnknownReplyCode`` when it is missing or unknown."""
    try:
        return ReplyCode(value or "")
    except ValueError:
        raise UnknownReplyCode(
            "Choose one of the replies: " + ", ".join(c.value for c in ReplyCode)
        ) from None


def reply_words(code: object, service_phone: str) -> str:
    """The wording a client reads for ``code``; the plainest one ("we will phone") when the
    code is unknown (a letter queued by a later version): never an empty message."""
    try:
        chosen = ReplyCode(str(code))
    except ValueError:
        chosen = ReplyCode.WILL_PHONE
    return REPLY_WORDING[chosen].format(service_phone=service_phone)


class InboxReply(BaseModel):
    """A coordinator's coded reply to one stored message (the workflow's input: ids only)."""

    message_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    code: ReplyCode
    coordinator: str = Field(min_length=1, max_length=200)
    at: datetime | None = None


class ReplyTarget(BaseModel):
    """Where the reply goes, from the recorded message: the sender's own address on the
    channel it came by (personal data: only in encrypted payloads). ``recorded`` is False
    when the message already had a different reply: nothing is sent."""

    recorded: bool
    channel: str | None = None
    address: str | None = None
    discreet: bool = False
    ref: str | None = None
