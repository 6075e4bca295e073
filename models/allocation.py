"""Who is allocated next, and to whom: the allocation rules, in one place.

The same functions decide for the running service (``activities/allocation.py`` feeds them the
head of the waiting list from the database) and for the year-long simulation
(``services/simulation.py``), so what the simulation predicts is what the service does.

The rules (DESIGN.md, issue 3):

1. A returning client goes back to their own practitioner first, before anyone new, in the order
   they asked to come back. They wait for that practitioner only (a coordinator can allocate
   them elsewhere by hand).
2. Then new referrals by urgency (urgent, soon, routine),
3. then by the longest wait, the clock starting when the referral was received.
4. A referral on hold is never allocated automatically.
5. Each new referral goes to the practitioner with the most free places (then the smaller
   caseload, then the id): work is spread, and nobody is ever given more than their capacity.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, Field

from models.referral import Urgency

URGENCY_RANK: dict[Urgency, int] = {Urgency.URGENT: 0, Urgency.SOON: 1, Urgency.ROUTINE: 2}


class WaitingReferral(BaseModel):
    """A referral on the waiting list, as the allocation rules see it."""

    ref: str
    urgency: Urgency
    received_at: datetime
    waiting_since: datetime
    returning_to: str | None = Field(default=None, description="their own practitioner")
    held: bool = False


class PractitionerRoom(BaseModel):
    """A practitioner's capacity as the allocation rules see it."""

    id: str
    capacity: int
    caseload: int
    active: bool = True

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.caseload) if self.active else 0


class Assignment(BaseModel):
    """One allocation decided by the rules, with the reason shown on the timeline."""

    ref: str
    practitioner_id: str
    reason: str


def allocation_order_key(referral: WaitingReferral) -> tuple[int, datetime, str]:
    """The order of new referrals: urgency first, then the longest wait, then the reference
    (so that equal cases are still decided the same way every time)."""
    return (URGENCY_RANK[referral.urgency], referral.received_at, referral.ref)


def returning_order_key(referral: WaitingReferral) -> tuple[datetime, str]:
    """Returning clients are seen in the order they asked to come back."""
    return (referral.waiting_since, referral.ref)


def practitioner_order_key(room: PractitionerRoom) -> tuple[int, int, str]:
    """Most free places first, then the smaller caseload, then the id."""
    return (-room.free, room.caseload, room.id)


def plan_allocations(
    waiting: Iterable[WaitingReferral], practitioners: Iterable[PractitionerRoom]
) -> list[Assignment]:
    """Every allocation the rules make now, given the waiting list and free capacity.

    ``waiting`` may be just the head of the list (returning clients of practitioners with room,
    and as many unheld new referrals in order as there are free places): the result is the
    same. A referral listed twice is considered once, so it can never be allocated twice.
    """
    rooms = {p.id: p.model_copy() for p in practitioners if p.active and p.free > 0}
    seen: set[str] = set()
    candidates = []
    for referral in waiting:
        if not referral.held and referral.ref not in seen:
            seen.add(referral.ref)
            candidates.append(referral)
    assignments: list[Assignment] = []

    returning = sorted((w for w in candidates if w.returning_to), key=returning_order_key)
    for referral in returning:
        room = rooms.get(referral.returning_to or "")
        if room is not None and room.free > 0:
            room.caseload += 1
            assignments.append(
                Assignment(
                    ref=referral.ref,
                    practitioner_id=room.id,
                    reason="returning client, back to their own practitioner",
                )
            )

    new = sorted((w for w in candidates if not w.returning_to), key=allocation_order_key)
    for referral in new:
        open_rooms = [r for r in rooms.values() if r.free > 0]
        if not open_rooms:
            break
        room = min(open_rooms, key=practitioner_order_key)
        room.caseload += 1
        assignments.append(
            Assignment(
                ref=referral.ref,
                practitioner_id=room.id,
                reason=f"first on the list: {referral.urgency.value}, referred "
                f"{referral.received_at.date().isoformat()}",
            )
        )
    return assignments


def free_places(practitioners: Iterable[PractitionerRoom]) -> int:
    """How many new allocations capacity allows right now."""
    return sum(p.free for p in practitioners)
