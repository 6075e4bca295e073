"""How values read on the pages: times in the service's zone, codes as words, numbers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment

from models.messages import Intent
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


# How Harbour read a client's message, in a coordinator's words (models/messages.py). The
# inbox holds messages Harbour did not act on by itself, so the words say what the client seems
# to say, never what happened: a CONFIRM there confirmed nothing that was waiting, and a bare
# "yes" reads as still waiting.
INTENT_WORDS: dict[str, str] = {
    Intent.RETURN.value: "seems to ask to come back",
    Intent.STOP.value: "seems to ask to stop texts or leave the list",
    Intent.CONFIRM.value: "says they confirm (nothing was waiting for a confirmation)",
    Intent.STILL_WAITING.value: "says yes, or that they are still waiting",
    Intent.OTHER.value: "no request Harbour acts on: a person reads it",
}


def intent(code: object) -> str:
    """How a message was read, in words (an unknown code reads as its words)."""
    return INTENT_WORDS.get(str(code)) or label(code)


def label(code: object) -> str:
    """A code (``needs_secondary_care``) as words (``needs secondary care``)."""
    if code is None:
        return "—"
    text = str(code)
    return STAGE_LABELS.get(text) or text.replace("_", " ")


# Timeline events in a coordinator's words (an unknown kind reads as its words, capitalised).
EVENTS: dict[str, str] = {
    "received": "Referral received",
    "triage_reminder": "Coordinators reminded to triage",
    "accepted": "Accepted onto the waiting list",
    "declined": "Declined",
    "information_requested": "Referrer asked a question",
    "information_received": "Referrer answered",
    "checkin": "Check-in message sent to the client",
    "checkin_answered": "Client answered a check-in",
    "wait_breach": "Waited longer than the standard",
    "validated_kept": "Kept on the list after no answer",
    "held": "Held back from automatic allocation",
    "hold_released": "Hold released",
    "allocated": "Allocated to a practitioner",
    "session_booked": "Session booked",
    "session_reminder": "Session reminder sent to the client",
    "session_recorded": "Session recorded",
    "silence_nudge": "Practitioner prompted after a long silence",
    "reqol_recorded": "ReQoL-10 recorded",
    "plan_extended": "Plan extended",
    "discharged": "Discharged",
    "reactivated_waiting": "Came back; waiting for their practitioner",
    "returning_client": "Came back",
    "client_message": "Message from the client",
    "withdrawal_requested": "Client asked to withdraw",
    "closed": "Closed",
}
# Deadlines (timer kinds) in words.
DEADLINES: dict[str, str] = {
    "triage_reminder": "triage reminder",
    "checkin": "next check-in message",
    "wait_breach": "waiting standard reached",
    "session_reminder": "session reminder",
    "silence_nudge": "prompt after silence",
    "reentry_window_end": "end of the re-entry window",
}
# Timeline details: what each key is called; None: internal, not shown (ids, counters).
DETAIL_NAMES: dict[str, str | None] = {
    "session_id": None,
    "message_id": None,
    "seq": None,
    "ref": None,
    "checkin": None,
    "checkin_number": "check-in number",
    "session_at": "when",
    "session_location": "where",
    "practitioner_id": "practitioner",
    "allocated_by": "by",
    "coordinator": "by",
    "confirmed_by": "confirmed by",
    "question_asked": "question asked",
    "validation_cleared": "off the validation queue",
    "validation_queue": "to the validation queue",
    "weeks_waited": "weeks waited",
    "sessions_attended": "sessions attended",
    "texts_stopped": "texts stopped",
    "reentry_practitioner_available": "their practitioner had room",
    "intent": "read as",
    "acted": "acted on",
    "from": "from",
    "to": "to",
}


def event(kind: str) -> str:
    """A timeline event's kind in plain words (``wait_breach`` -> Waited longer than the
    standard); a kind not listed reads as its words."""
    return EVENTS.get(kind) or kind.replace("_", " ").capitalize()


def deadline(kind: str) -> str:
    """A deadline's kind in plain words."""
    return DEADLINES.get(kind) or label(kind)


def details(detail_: dict[str, object]) -> str:
    """A timeline event's details as a short phrase: ``by c-dana; practitioner p-ana``
    (internal ids and counters left out)."""
    parts = []
    for key, value in detail_.items():
        if value is None:
            continue
        name = DETAIL_NAMES.get(key, label(key))
        if name is None:
            continue
        parts.append(f"{name}: {detail(value)}")
    return "; ".join(parts) or "—"


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

    def age(value: datetime | None, now: datetime) -> str:
        """How long ago: ``3 h 20 min``, ``2 days``."""
        if value is None:
            return "—"
        minutes = max(0, int((now - value).total_seconds() // 60))
        if minutes < 60:
            return f"{minutes} min"
        if minutes < 48 * 60:
            return f"{minutes // 60} h {minutes % 60} min"
        return f"{minutes // (24 * 60)} days"

    env.filters.update(
        age=age,
        dt=dt,
        date=date,
        iso=iso,
        label=label,
        intent=intent,
        event=event,
        deadline=deadline,
        details=details,
        detail=detail,
        number=number,
        percent=percent,
        weeks_range=weeks_range,
    )
    env.globals.update(STAGE_LABELS=STAGE_LABELS, zone_name=str(zone))
