"""Coordinators' what-if: a year of the waiting list, and the same year with one more
practitioner (``services.simulation``; nothing is read or written)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer

from cli.runner import fail, print_json, refuse_invalid
from services.simulation import SimulationInput

app = typer.Typer()

# The model's defaults, shown in the help: one source for them.
_D = SimulationInput()


@app.command(
    epilog="A discrete-event simulation using the service's own allocation rules and wait "
    "estimate (docs/simulation.md). Nothing is read or written: no Temporal, no database."
)
def simulate(
    weeks: Annotated[
        int | None, typer.Option(help=f"how long to simulate (default {_D.duration_weeks})")
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help=f"random seed; the same seed gives the same year ({_D.seed})"),
    ] = None,
    arrivals_per_week: Annotated[
        float | None, typer.Option(help=f"referrals received ({_D.arrivals_per_week:g})")
    ] = None,
    urgent: Annotated[
        float | None, typer.Option(help=f"share urgent ({_D.share_urgent:g})")
    ] = None,
    soon: Annotated[
        float | None, typer.Option(help=f"share soon; routine is the rest ({_D.share_soon:g})")
    ] = None,
    acceptance: Annotated[
        float | None, typer.Option(help=f"share accepted at triage ({_D.acceptance_rate:g})")
    ] = None,
    triage_days: Annotated[
        float | None,
        typer.Option(help=f"mean days from referral to triage ({_D.triage_days:g})"),
    ] = None,
    practitioners: Annotated[
        int | None, typer.Option(help=f"how many ({_D.practitioners}; not with --capacities)")
    ] = None,
    capacities: Annotated[
        str | None, typer.Option(help="each practitioner's capacity, e.g. 20,20,15")
    ] = None,
    capacity: Annotated[
        int | None,
        typer.Option(help=f"places per practitioner with --practitioners ({_D.capacity})"),
    ] = None,
    sessions: Annotated[
        str | None,
        typer.Option(help=f"sessions per episode, MIN-MAX ({_D.sessions_min}-{_D.sessions_max})"),
    ] = None,
    sessions_per_week: Annotated[
        float | None, typer.Option(help=f"sessions a week ({_D.sessions_per_week:g})")
    ] = None,
    episode_weeks: Annotated[
        str | None, typer.Option(help="episode length as MEAN[,SD] weeks instead of --sessions")
    ] = None,
    reentry_rate: Annotated[
        float | None,
        typer.Option(help=f"share discharged who come back ({_D.reentry_rate:g})"),
    ] = None,
    reentry_weeks: Annotated[
        float | None,
        typer.Option(help=f"mean weeks before they do ({_D.reentry_mean_weeks:g})"),
    ] = None,
    initial_waiting: Annotated[
        int | None, typer.Option(help=f"already on the list ({_D.initial_waiting})")
    ] = None,
    initial_caseload: Annotated[
        float | None, typer.Option(help=f"share of places in use ({_D.initial_caseload:g})")
    ] = None,
    standard_weeks: Annotated[
        float | None, typer.Option(help="the waiting standard in weeks (policy: 4)")
    ] = None,
    extra_capacity: Annotated[
        int | None, typer.Option(help="places of the added practitioner (median)")
    ] = None,
    json: Annotated[
        bool, typer.Option("--json", help="print both results as JSON instead of a table")
    ] = False,
) -> None:
    """coordinator: simulate waits over the next year, and with one more practitioner"""
    from pydantic import ValidationError

    from services.simulation import compare, format_comparison

    if practitioners is not None and capacities is not None:
        raise typer.BadParameter("give --practitioners or --capacities, not both")
    given: dict[str, Any] = {
        "duration_weeks": weeks,
        "seed": seed,
        "arrivals_per_week": arrivals_per_week,
        "share_urgent": urgent,
        "share_soon": soon,
        "acceptance_rate": acceptance,
        "triage_days": triage_days,
        "practitioners": practitioners,
        "capacity": capacity,
        "sessions_per_week": sessions_per_week,
        "reentry_rate": reentry_rate,
        "reentry_mean_weeks": reentry_weeks,
        "initial_waiting": initial_waiting,
        "initial_caseload": initial_caseload,
    }
    try:
        if capacities:
            given["practitioners"] = [int(c) for c in capacities.split(",")]
        if sessions:
            low, _, high = sessions.partition("-")
            given["sessions_min"], given["sessions_max"] = int(low), int(high or low)
        if episode_weeks:
            mean, _, sd = episode_weeks.partition(",")
            given["episode_mean_weeks"] = float(mean)
            if sd:
                given["episode_sd_weeks"] = float(sd)
        if standard_weeks is not None:
            given["waiting_standard"] = timedelta(weeks=standard_weeks)
    except ValueError:
        raise fail("error: --capacities, --sessions and --episode-weeks take numbers") from None
    try:
        spec = SimulationInput.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as invalid:
        raise refuse_invalid(invalid) from None
    baseline, plus_one = compare(spec, extra_capacity=extra_capacity)
    if json:
        print_json([r.model_dump(mode="json", exclude={"trace"}) for r in (baseline, plus_one)])
    else:
        print(format_comparison([baseline, plus_one]))
