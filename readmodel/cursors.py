"""Page cursors as plain text: the sort key of the last row a page showed.

A cursor is the key itself, written so that anything of its published form is a position in
the list (``REFERRAL_CURSOR`` for the referral list, ``WAITING_CURSOR`` for the waiting list):
times as whole microseconds since 1970, references as they are, sections and ranks as short
codes. A cursor of another form is refused (``InvalidCursor``, a 422 at the API); one of the
right form that names no row simply continues after where that row would be.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from infra.database import as_utc

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_REF = "R[0-9A-HJKMNP-TV-Z]{8,26}"
_TIME = "[0-9]{1,16}"

# The published forms: `<time>.<ref>`, and `r.<time>.<ref>` (a returning client's place) or
# `n.<urgency rank>.<time>.<ref>` (a new referral's).
REFERRAL_CURSOR = f"^{_TIME}\\.{_REF}$"
WAITING_CURSOR = f"^(?:r|n\\.[0-9]{{1,2}})\\.{_TIME}\\.{_REF}$"


class InvalidCursor(ValueError):
    """A cursor this service did not give out."""


def time_text(at: datetime) -> str:
    """A time as whole microseconds since 1970 (exact: no floating point)."""
    return str((as_utc(at) - _EPOCH) // _MICROSECOND)


def time_from(text: str) -> datetime:
    """The time ``time_text`` wrote."""
    return _EPOCH + int(text) * _MICROSECOND


def referral_cursor(received_at: datetime, ref: str) -> str:
    """The referral list's cursor after the row (``received_at``, ``ref``)."""
    return f"{time_text(received_at)}.{ref}"


def read_referral_cursor(cursor: str) -> tuple[datetime, str]:
    """(received_at, ref) of a referral list cursor; ``InvalidCursor`` if not of its form."""
    if not re.fullmatch(REFERRAL_CURSOR, cursor):
        raise InvalidCursor("the cursor is not one this service gave out")
    at, ref = cursor.split(".")
    return time_from(at), ref


def waiting_cursor(section: str, key: tuple[object, ...]) -> str:
    """The waiting list's cursor after a row of ``section`` ("r" or "n") with sort ``key``:
    (time, ref) for "r", (urgency rank, time, ref) for "n"."""
    parts = [section]
    for value in key:
        parts.append(time_text(value) if isinstance(value, datetime) else str(value))
    return ".".join(parts)


def read_waiting_cursor(cursor: str) -> tuple[str, tuple[object, ...]]:
    """(section, sort key) of a waiting list cursor; ``InvalidCursor`` if not of its form."""
    if not re.fullmatch(WAITING_CURSOR, cursor):
        raise InvalidCursor("the cursor is not one this service gave out")
    parts = cursor.split(".")
    if parts[0] == "r":
        return "r", (time_from(parts[1]), parts[2])
    return "n", (int(parts[1]), time_from(parts[2]), parts[3])
