"""A simulated year of the waiting list: 2 000 referrals, 10 practitioners, and one more.

    .venv/bin/python -m bench.simulate_year [--seed 1] [--repeat 3] [--seeds 5] [--big-list 5000]

No Temporal, no database: ``services.simulation`` plays the year as a discrete-event simulation
that allocates with the service's own rules (``models.allocation``) and tells each referral the
service's own wait estimate (``models.waiting_list``). Prints the inputs, the wall time of one
simulated year (goal < 10 s) and of the head-of-list shortcut against passing the full list, the
median absolute error of the wait estimate, and the baseline beside +1 practitioner — for one
seed in full, then the headline figures over several seeds. It asserts nothing (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.common import machine_line
from models.referral import Urgency
from services.simulation import SimulationInput, compare, format_comparison, simulate

BANDS = (Urgency.URGENT, Urgency.SOON, Urgency.ROUTINE)

GOAL_SECONDS = 10.0

# A service whose list is growing, as DESIGN.md describes: about 2 000 referrals a year, two in
# three accepted; 10 practitioners holding 20 episodes each (a full-time 1:1 caseload of weekly
# sessions); 6–10 weekly sessions an episode; one in seven clients comes back, some
# twenty weeks after discharge on average; 150 already waiting at the start.
YEAR = SimulationInput(
    arrivals_per_week=2000 / 52,
    share_urgent=0.1,
    share_soon=0.3,
    acceptance_rate=0.65,
    triage_days=5,
    practitioners=10,
    capacity=20,
    sessions_min=6,
    sessions_max=10,
    sessions_per_week=1,
    reentry_rate=0.15,
    reentry_mean_weeks=20,
    initial_waiting=150,
    duration_weeks=52,
)


def _timed(spec: SimulationInput, *, full_list: bool = False) -> float:
    started = time.perf_counter()
    simulate(spec, full_list=full_list)
    return time.perf_counter() - started


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of the same year")
    parser.add_argument("--seeds", type=int, default=5, help="seeds for the summary")
    parser.add_argument(
        "--big-list",
        type=int,
        default=0,
        help="also time the year with this many already waiting, head of the list vs full list",
    )
    args = parser.parse_args()
    spec = YEAR.model_copy(update={"seed": args.seed})

    print(f"simulated year — {machine_line()}")
    print(
        f"inputs: {spec.arrivals_per_week:.1f} referrals/week (Poisson) for "
        f"{spec.duration_weeks} weeks; urgent/soon/routine {spec.share_urgent:.0%}/"
        f"{spec.share_soon:.0%}/{1 - spec.share_urgent - spec.share_soon:.0%}; "
        f"{spec.acceptance_rate:.0%} accepted after ~{spec.triage_days:g} days;\n"
        f"        {spec.practitioners} practitioners x {spec.capacity} places, caseloads full at "
        f"the start; episodes {spec.sessions_min}-{spec.sessions_max} sessions at "
        f"{spec.sessions_per_week:g}/week; {spec.reentry_rate:.0%} come back after "
        f"~{spec.reentry_mean_weeks:g} weeks (exponential);\n"
        f"        {spec.initial_waiting} waiting at the start; waiting standard "
        f"{spec.waiting_standard.days // 7} weeks; seed {spec.seed}"
    )

    times = [_timed(spec) for _ in range(args.repeat)]
    full = _timed(spec, full_list=True)
    started = time.perf_counter()
    baseline, plus_one = compare(spec)
    both = time.perf_counter() - started
    verdict = "meets" if max(times) < GOAL_SECONDS else "MISSES"
    print()
    print(
        f"wall time, one simulated year: {', '.join(f'{t:.2f} s' for t in times)} "
        f"({verdict} the < {GOAL_SECONDS:g} s goal); baseline and +1 practitioner: {both:.2f} s"
    )
    print(f"  the same year passing the full list to the rules at every event: {full:.2f} s")
    if args.big_list:
        big = spec.model_copy(update={"initial_waiting": args.big_list})
        print(
            f"  with {args.big_list:,} already waiting: head of the list {_timed(big):.2f} s, "
            f"full list {_timed(big, full_list=True):.2f} s"
        )
    by = baseline.estimates.median_abs_error_by_urgency
    print(
        f"median absolute error of the wait estimate (baseline): "
        f"{baseline.estimates.median_abs_error_weeks:.2f} weeks; urgent/soon/routine "
        f"{' / '.join(f'{by[u]:.2f}' if by[u] is not None else '-' for u in BANDS)} weeks\n"
        f"  ({baseline.estimates.checked} estimates checked; "
        f"{baseline.estimates.unresolved} given to referrals still waiting at the end, unchecked)"
    )
    print()
    print(format_comparison([baseline, plus_one]))

    print()
    print(f"over seeds {args.seed}..{args.seed + args.seeds - 1}:")
    header = (
        f"  {'seed':>4}  {'median wait':>17}  {'p90 wait':>17}  {'over standard':>13}  "
        f"{'waiting at end':>14}  {'estimate MAE':>12}"
    )
    print(header)
    maes: list[float] = []
    for seed in range(args.seed, args.seed + args.seeds):
        b, p = compare(spec.model_copy(update={"seed": seed}))
        maes.append(b.estimates.median_abs_error_weeks or 0.0)
        print(
            f"  {seed:>4}  {b.wait_median_weeks:>7.1f} -> {p.wait_median_weeks:>5.1f} wk  "
            f"{b.wait_p90_weeks:>7.1f} -> {p.wait_p90_weeks:>5.1f} wk  "
            f"{b.breaches:>5} -> {p.breaches:>4}  {b.still_waiting:>6} -> {p.still_waiting:>5}  "
            f"{b.estimates.median_abs_error_weeks:>9.2f} wk"
        )
    print(f"  estimate MAE (baseline), median over seeds: {statistics.median(maes):.2f} weeks")


if __name__ == "__main__":
    main()
