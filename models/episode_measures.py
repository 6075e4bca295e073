"""Which ReQoL-10 measures the latest episode has: read off a referral's timeline.

An episode begins at its ``allocated`` event; each ``reqol_recorded`` event after it says which
measure (``when``: baseline or end) and either its total or that it was skipped. The workflow's
own rules decide what may be recorded (``models.pathway.check_reqol``); this only tells a page
what has been.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.referral import TimelineEvent

EPISODE_START = "allocated"
MEASURE = "reqol_recorded"


@dataclass(frozen=True)
class MeasureNote:
    """A measure of the episode: its total, or that it was skipped."""

    when: str
    at: datetime
    total: int | None
    skipped: bool


def episode_measures(timeline: list[TimelineEvent]) -> dict[str, MeasureNote]:
    """The latest episode's measures by ``when`` (``baseline``, ``end``); none before the
    first allocation."""
    notes: dict[str, MeasureNote] = {}
    for event in sorted(timeline, key=lambda e: e.seq):
        if event.kind == EPISODE_START:
            notes = {}
        elif event.kind == MEASURE:
            when = str(event.detail.get("when") or "")
            total = event.detail.get("total")
            notes[when] = MeasureNote(
                when=when,
                at=event.at,
                total=total if isinstance(total, int) and not isinstance(total, bool) else None,
                skipped=bool(event.detail.get("skipped")),
            )
    return notes
