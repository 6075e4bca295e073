"""How values read on the pages: times in the service's zone, codes as words, numbers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment

from models.referral import Stage

STAGE_LABELS: dict[str, str] = {
    Stage.RECEIVED.value: "Received",
    Stage.TRIAGE.value: "Triage",
    Stage.INFO_REQUESTED.value: "Information requested",
    Stage.WAITING.value: "Waiting",
    Stage.ALLOCATED.value: "Allocated",
    Stage.IN_EPISODE.value: "In episode",
    Stage.DISCHARGED.value: "Discharged",
    Stage.CLOSED.value: "Closed",
}


def label(code: object) -> str:
    """A code (``needs_secondary_care``) as words (``needs secondary care``)."""
    if code is None:
        return "—"
    text = str(code)
    return STAGE_LABELS.get(text) or text.replace("_", " ")


def event(kind: str) -> str:
    """A timeline event's kind as a sentence-case phrase (``wait_breach`` -> Wait breach)."""
    return kind.replace("_", " ").capitalize()


def detail(value: object) -> str:
    """A timeline detail value: yes/no, a code as words, or the number."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return label(value)
    return "—" if value is None else str(value)


def number(value: object) -> str:
    """An integer with thousands separated (12 345), or a float to one decimal."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}".replace(",", "\u202f")
    return f"{int(value):,}".replace(",", "\u202f")  # type: ignore[call-overload]


def percent(value: float | None) -> str:
    """A rate (0–1) as a whole percentage."""
    return "—" if value is None else f"{round(value * 100)}%"


def install(env: Environment, zone: ZoneInfo) -> None:
    """Add the filters the templates use to ``env``."""

    def local(value: datetime) -> datetime:
        return value.astimezone(zone)

    def dt(value: datetime | None) -> str:
        return "—" if value is None else local(value).strftime("%-d %b %Y, %H:%M")

    def date(value: datetime | None) -> str:
        return "—" if value is None else local(value).strftime("%-d %b %Y")

    def iso(value: datetime | None) -> str:
        return "" if value is None else value.isoformat()

    def weeks_range(low: int | None, high: int | None) -> str:
        if low is None or high is None:
            return "not yet known"
        if low == high:
            return f"about {high} wk"
        return f"{low}–{high} wk"

    env.filters.update(
        dt=dt,
        date=date,
        iso=iso,
        label=label,
        event=event,
        detail=detail,
        number=number,
        percent=percent,
        weeks_range=weeks_range,
    )
    env.globals.update(STAGE_LABELS=STAGE_LABELS, zone_name=str(zone))
