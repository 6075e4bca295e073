"""The waiting list's honest wait estimate: the single home of that rule.

Pure arithmetic, no I/O: the ``waiting_position`` activity and the capacity simulator both
use it. The estimate is a range, never a single date, and there is none at all until the
service has allocated anyone recently: we would rather say "we cannot estimate yet" than
invent a number.
"""

from __future__ import annotations

import math
from fractions import Fraction

# Allocations in this many trailing weeks give the service's recent weekly rate.
ALLOCATION_WINDOW_WEEKS = 12
# The range spans a rate 25% faster (low) to 25% slower (high) than the recent one.
_FASTER = Fraction(5, 4)
_SLOWER = Fraction(3, 4)


def estimate_wait_weeks(
    position: int,
    allocations: int,
    window_weeks: int = ALLOCATION_WINDOW_WEEKS,
    overtaking: int = 0,
) -> tuple[int | None, int | None]:
    """The estimated wait, in weeks, for the referral at ``position`` on the waiting list.

    ``allocations`` is how many episodes were allocated in the trailing ``window_weeks``.
    ``overtaking`` is how many more urgent referrals joined the list in the same weeks: they
    will go ahead of this one, so they take their share of the places first (measured in the
    year-long simulation, ignoring them made routine estimates about 5 weeks too short). The
    weekly rate left for this referral is ``r = (allocations - overtaking) / window_weeks``;
    the range is ``low = floor(position / (1.25 r))`` and ``high = ceil(position / (0.75 r))``,
    ``high`` at least 1 week. With no recent allocations, or none left over once the more
    urgent are served, there is no honest estimate: ``(None, None)``. Exact rational
    arithmetic, so no float rounding nudges a boundary.
    """
    if position < 0 or allocations < 0 or overtaking < 0:
        raise ValueError("position, allocations and overtaking cannot be negative")
    if window_weeks <= 0:
        raise ValueError("window_weeks must be positive")
    if allocations - overtaking <= 0:
        return None, None
    weekly_rate = Fraction(allocations - overtaking, window_weeks)
    low = math.floor(position / (weekly_rate * _FASTER))
    high = max(1, math.ceil(position / (weekly_rate * _SLOWER)))
    return low, high
