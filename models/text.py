"""Text as it may come in: one-line fields, and free text.

Names, organisations, labels, locations, ids and every other one-line field refuse control
characters — CR and LF (a line break in a name is how a header gets into an email), NUL, the
rest of C0 and C1, the Unicode line and paragraph separators — and the bidirectional
embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), which make text read as
something other than what it holds. Free text (a reason, a question, a note) may have line
breaks and tabs, and nothing else of those.

These are boundary types, for what enters: the API's bodies, the webhook's, the dashboard's
forms and the CLI's input. The models that the workflows read back from their histories keep
plain ``str``: a referral started before these rules must still replay
(``tests/test_replay.py``), so no rule here may be applied to what is already stored.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
# C0 but TAB, LF and CR; DEL and C1.
_CONTROLS_BUT_LINE_BREAKS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_NOT_ONE_LINE = re.compile(f"[\t\n\r{_CONTROLS_BUT_LINE_BREAKS}\u2028\u2029{_BIDI_CONTROLS}]")
_NOT_FREE_TEXT = re.compile(f"[{_CONTROLS_BUT_LINE_BREAKS}{_BIDI_CONTROLS}]")

ONE_LINE_RULE = (
    "must be one line of plain text, without line breaks, tabs, other control characters "
    "or direction overrides"
)
FREE_TEXT_RULE = "must be plain text, without control characters or direction overrides"


def one_line(value: str) -> str:
    """``value`` if it is one line of plain text; else a validation error naming the rule
    (never the value)."""
    if _NOT_ONE_LINE.search(value):
        raise PydanticCustomError("one_line", ONE_LINE_RULE)
    return value


def free_text(value: str) -> str:
    """``value`` if it holds no control character but line breaks and tabs, and no direction
    override; else a validation error naming the rule (never the value)."""
    if _NOT_FREE_TEXT.search(value):
        raise PydanticCustomError("free_text", FREE_TEXT_RULE)
    return value


OneLine = Annotated[str, AfterValidator(one_line)]
FreeText = Annotated[str, AfterValidator(free_text)]
