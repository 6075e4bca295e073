"""A practitioner's diary: their booked sessions, arranged for the day's work.

Today's sessions still to come are first (earliest first); sessions booked for a time already
past, today's included, that nobody has recorded yet are listed apart, oldest first, so none
is forgotten; then the days to come. Days are the service's local days (the dashboard's time
zone), not UTC's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class DiaryEntry:
    """One booked session of a client on the caseload (``client`` is how the page names them)."""

    ref: str
    session_id: str
    at: datetime
    location: str
    client: str


@dataclass
class Diary:
    """Booked sessions: ``today`` (still to come today), ``later`` (after today) and
    ``to_record`` (their time has passed and they are not recorded yet)."""

    today: list[DiaryEntry] = field(default_factory=list)
    later: list[DiaryEntry] = field(default_factory=list)
    to_record: list[DiaryEntry] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.today or self.later or self.to_record)


def arrange_diary(entries: list[DiaryEntry], now: datetime, zone: ZoneInfo) -> Diary:
    """Today first, then later days; past bookings not yet recorded apart."""
    today = now.astimezone(zone).date()
    diary = Diary()
    for entry in sorted(entries, key=lambda e: (e.at, e.ref, e.session_id)):
        if entry.at < now:
            diary.to_record.append(entry)
        elif entry.at.astimezone(zone).date() == today:
            diary.today.append(entry)
        else:
            diary.later.append(entry)
    return diary
