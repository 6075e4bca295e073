"""Page cursors (``readmodel/cursors.py``): what the schema publishes as a cursor's form is the
whole rule — every string of that form is a position in the list, and a cursor given out reads
back as the row it was made from."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readmodel.cursors import (
    REFERRAL_CURSOR,
    WAITING_CURSOR,
    InvalidCursor,
    read_referral_cursor,
    read_waiting_cursor,
    referral_cursor,
    waiting_cursor,
)

AT = datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC)

# The property is about values, not speed: no deadline (hypothesis' 200 ms fails a run whose
# example waited on a busy CI machine or a garbage collection of the whole session's heap).
UNTIMED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@UNTIMED
@given(st.from_regex(REFERRAL_CURSOR, fullmatch=True))
def test_every_referral_cursor_of_the_published_form_is_a_position(cursor: str) -> None:
    at, ref = read_referral_cursor(cursor)
    assert at.tzinfo is not None and ref.startswith("R")


@UNTIMED
@given(st.from_regex(WAITING_CURSOR, fullmatch=True))
def test_every_waiting_cursor_of_the_published_form_is_a_position(cursor: str) -> None:
    section, key = read_waiting_cursor(cursor)
    assert section in ("r", "n") and len(key) == (2 if section == "r" else 3)


def test_cursors_given_out_read_back_exactly() -> None:
    cursor = referral_cursor(AT, "R7K2M9QX4PT")
    assert re.fullmatch(REFERRAL_CURSOR, cursor)
    assert read_referral_cursor(cursor) == (AT, "R7K2M9QX4PT")
    for section, key in (("r", (AT, "R7K2M9QX4PT")), ("n", (1, AT, "R7K2M9QX4PT"))):
        made = waiting_cursor(section, key)
        assert re.fullmatch(WAITING_CURSOR, made)
        assert read_waiting_cursor(made) == (section, key)


@pytest.mark.parametrize("cursor", ["bm9wZQ", "", "1.R7K2", "x.1.R7K2M9QX4PT", "1.r7k2m9qx4pt"])
def test_anything_else_is_not_a_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        read_referral_cursor(cursor)
    with pytest.raises(InvalidCursor):
        read_waiting_cursor(cursor)
