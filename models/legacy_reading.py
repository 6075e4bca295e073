"""How client messages were read before issue 8 — kept only so old histories replay.

A workflow that handled a message before the reading travelled with the signal decided what to
do by calling the reader of its day. Replaying that history must make the same decisions, so
those referrals' messages are read by this frozen copy (of ``models/messages.py`` at c845268),
never by today's ``models.messages.read_message``. Do not change it; do not use it for anything
new: it acts on negated and ambiguous replies, which is why it was replaced.
"""

from __future__ import annotations

import re

from models.messages import Intent

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


def legacy_suggests_crisis(text: str) -> bool:
    """The crisis words as read before issue 8 (replay only)."""
    return bool(_CRISIS.search(text))


def legacy_classify_intent(text: str) -> Intent:
    """The intent as read before issue 8 (replay only)."""
    if _CONFIRM.search(text):
        return Intent.CONFIRM
    if _STOP.search(text):
        return Intent.STOP
    if _RETURN.search(text):
        return Intent.RETURN
    if _STILL_WAITING.search(text):
        return Intent.STILL_WAITING
    return Intent.OTHER
