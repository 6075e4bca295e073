"""Practitioners' records of an episode: sessions booked and held, ReQoL-10, the plan of
sessions, discharge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from cli.runner import CliError, Ref, act, free_text, one_line_text, run
from models.actions import (
    Discharge,
    DischargeReason,
    Extension,
    ReqolSubmission,
    ReqolWhen,
    SessionBooking,
    SessionRecord,
)
from models.referral import LiaisonKind, SessionOutcome
from models.reqol import ReqolSkipReason

if TYPE_CHECKING:
    from bootstrap import Runtime

app = typer.Typer()

DEFAULT_IN_DAYS = 2.0


def _when(at: str | None, in_days: float | None) -> datetime:
    if at is not None and in_days is not None:
        raise typer.BadParameter("give --at or --in-days, not both")
    if at is None:
        return datetime.now(UTC) + timedelta(days=DEFAULT_IN_DAYS if in_days is None else in_days)
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise typer.BadParameter(
            f"{at!r} is not an ISO date-time, e.g. 2026-12-01T10:00", param_hint="--at"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _responses(text: str) -> dict[int, int]:
    """``2,3,1,…`` in item order, or ``1=2,2=3,…`` by item number."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        if all("=" in p for p in parts):
            return {int(k): int(v) for k, v in (p.split("=", 1) for p in parts)}
        return {i: int(v) for i, v in enumerate(parts, start=1)}
    except ValueError:
        raise CliError("--responses takes ten numbers 0–4, e.g. 2,3,1,4,2,2,3,1,2,3") from None


@app.command()
def book(
    ref: Ref,
    at: Annotated[
        str | None, typer.Option(help="ISO date-time, e.g. 2026-12-01T10:00 (not with --in-days)")
    ] = None,
    in_days: Annotated[
        float | None, typer.Option(help=f"days from now (default {DEFAULT_IN_DAYS:g})")
    ] = None,
    where: Annotated[
        str, typer.Option(help="where the session is held", callback=one_line_text)
    ] = "café",
) -> None:
    """practitioner: book a session"""
    booking_at = _when(at, in_days)

    async def body(runtime: Runtime) -> None:
        booking = SessionBooking(at=booking_at, location=where)
        await act(runtime, ref, "book_session", booking)

    run(body)


@app.command()
def session(
    ref: Ref,
    outcome: Annotated[SessionOutcome, typer.Argument(help="what happened")],
    session_id: Annotated[
        str | None, typer.Option(help="a booked session's id", callback=one_line_text)
    ] = None,
    where: Annotated[
        str | None, typer.Option(help="where it was held", callback=one_line_text)
    ] = None,
    liaison: Annotated[
        list[LiaisonKind] | None,
        typer.Option(help="liaison done in the session (repeat for more than one)"),
    ] = None,
) -> None:
    """practitioner: record a session"""

    async def body(runtime: Runtime) -> None:
        record = SessionRecord(
            outcome=outcome,
            session_id=session_id,
            location=where or "not recorded",
            liaison=list(liaison or []),
        )
        await act(runtime, ref, "record_session", record)

    run(body)


@app.command()
def reqol(
    ref: Ref,
    when: Annotated[ReqolWhen, typer.Argument(help="which measurement this is")],
    responses: Annotated[
        str | None,
        typer.Option(help="ten responses 0–4 in item order, as answered (or --skip)"),
    ] = None,
    skip: Annotated[
        ReqolSkipReason | None,
        typer.Option(help="why the measure was not taken (or --responses)"),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option(help="a note about the skip (kept encrypted)", callback=free_text),
    ] = None,
    physical_health: Annotated[
        int | None, typer.Option(help="the physical health item, 0–4 (optional)")
    ] = None,
) -> None:
    """practitioner: record ReQoL-10 (or skip it with a reason)"""
    if (responses is None) == (skip is None):
        raise typer.BadParameter("give --responses or --skip (one of them)")
    if note is not None and skip is None:
        raise typer.BadParameter("--note goes with --skip")

    async def body(runtime: Runtime) -> None:
        submission = ReqolSubmission(
            when=when,
            responses=_responses(responses) if responses else None,
            physical_health=physical_health,
            skipped_reason=skip,
            skip_note=note,
        )
        await act(runtime, ref, "record_reqol", submission)

    run(body)


@app.command()
def extend(
    ref: Ref,
    planned_sessions: Annotated[int, typer.Argument(help="the new number of planned sessions")],
) -> None:
    """practitioner: extend the plan of sessions"""

    async def body(runtime: Runtime) -> None:
        await act(runtime, ref, "extend", Extension(planned_sessions=planned_sessions))

    run(body)


@app.command()
def discharge(
    ref: Ref,
    reason: Annotated[DischargeReason, typer.Argument(help="why the episode ends")],
    summary: Annotated[str, typer.Option(help="a short discharge summary", callback=free_text)],
) -> None:
    """practitioner: discharge"""

    async def body(runtime: Runtime) -> None:
        await act(runtime, ref, "discharge", Discharge(reason=reason, summary=summary))

    run(body)
