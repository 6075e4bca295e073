"""Client messages: what arrives, and the rule that reads its intent."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    CLI = "cli"


class Intent(StrEnum):
    RETURN = "return"
    STOP = "stop"
    CONFIRM = "confirm"
    STILL_WAITING = "still_waiting"
    OTHER = "other"


class ClientMessage(BaseModel):
    """A stored inbound message already matched to this referral by its registered contact."""

    message_id: str = Field(min_length=1, max_length=128)
    channel: Channel
    received_at: datetime
    text: str = Field(max_length=10000)


# Words that suggest crisis or risk. Matching errs on the side of alerting: a false alarm
# costs a coordinator a minute, a miss could cost far more.
_CRISIS = re.compile(
    r"\b(suicid\w*|kill (my ?self|me)|end (it all|my life)|self[- ]?harm\w*|"
    r"hurt(ing)? my ?self|overdos\w*|want(ed)? to die|don'?t want to (live|be here)|"
    r"no reason to live|cut(ting)? my ?self|take my (own )?life)\b",
    re.IGNORECASE,
)
_RETURN = re.compile(
    r"\b(return|come back|coming back|back in touch|restart|start again|need (some )?help again|"
    r"see (her|him|them|you) again|reactivate)\b",
    re.IGNORECASE,
)
_STOP = re.compile(r"\b(stop|withdraw\w*|unsubscribe|no longer need|take me off|remove me)\b", re.I)
_CONFIRM = re.compile(r"^\W*confirm\w*\b", re.IGNORECASE)
_STILL_WAITING = re.compile(
    r"^\W*(yes|yeah|yep|ok|okay|still (waiting|here|interested))\b|\bstill waiting\b", re.I
)


def suggests_crisis(text: str) -> bool:
    """True when a message suggests crisis or risk: coordinators are alerted at once."""
    return bool(_CRISIS.search(text))


def classify_intent(text: str) -> Intent:
    """The client's intent: return, stop, confirm (a pending withdrawal), still waiting, other."""
    if _CONFIRM.search(text):
        return Intent.CONFIRM
    if _STOP.search(text):
        return Intent.STOP
    if _RETURN.search(text):
        return Intent.RETURN
    if _STILL_WAITING.search(text):
        return Intent.STILL_WAITING
    return Intent.OTHER
