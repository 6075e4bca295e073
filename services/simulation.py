"""A year of the waiting list, simulated: "what will waits look like, and what if we add a
practitioner?"

A discrete-event simulation (a heap of events, simulated time as datetimes) of the whole service:
referrals arrive (Poisson), are triaged (accepted or not, after a few days), wait on the list, are
allocated, run an episode of 6–10 weekly sessions, are discharged, and some come back to their own
practitioner months later. It decides who is allocated, and to whom, with **the service's own
rules** — ``models.allocation.plan_allocations`` — called at every event that frees capacity or
adds someone to the list, exactly as the allocator does; and it tells each referral joining the
list the service's own wait estimate (``models.waiting_list.estimate_wait_weeks``), so the
estimate can be checked against the wait that followed.

Randomness is common across scenarios: every referral (and every ongoing episode at the start)
draws from its own seeded stream, and arrivals from another, so ``compare`` runs the *same* year
— the same people, arriving at the same moments, needing the same episodes — once as it is and
once with one more practitioner. The differences are then the practitioner's, not noise.

``docs/simulation.md`` describes what is modelled, what is left out and how to read the output.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import statistics
import textwrap
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.allocation import (
    URGENCY_RANK,
    PractitionerRoom,
    WaitingReferral,
    allocation_order_key,
    free_places,
    plan_allocations,
)
from models.policy import ServicePolicy
from models.referral import Urgency
from models.waiting_list import ALLOCATION_WINDOW_WEEKS, estimate_wait_weeks

WEEK = timedelta(weeks=1)
_POLICY = ServicePolicy()
# A fixed Monday, not "now": the same input must give the same result on any day.
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)


class SimulationInput(BaseModel):
    """What a coordinator knows, or wants to try: demand, capacity, episodes and re-entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arrivals_per_week: float = Field(default=38.5, gt=0, description="referrals received")
    share_urgent: float = Field(default=0.1, ge=0, le=1)
    share_soon: float = Field(default=0.3, ge=0, le=1, description="routine is the rest")
    acceptance_rate: float = Field(default=0.65, ge=0, le=1, description="accepted at triage")
    triage_days: float = Field(
        default=5.0, ge=0, description="mean days to triage (uniform over 0.5–1.5 times this)"
    )
    practitioners: int | list[int] = Field(
        default=10, description="a count of practitioners, or each one's capacity"
    )
    capacity: int = Field(
        default=20, ge=0, description="active episodes per practitioner when given a count"
    )
    sessions_min: int = Field(default=_POLICY.planned_sessions, ge=1)
    sessions_max: int = Field(default=_POLICY.max_sessions, ge=1)
    sessions_per_week: float = Field(default=1.0, gt=0)
    episode_mean_weeks: float | None = Field(
        default=None, gt=0, description="if set, episodes last normal(mean, sd) weeks instead"
    )
    episode_sd_weeks: float = Field(default=2.0, ge=0)
    reentry_rate: float = Field(
        default=0.15, ge=0, le=1, description="share of discharged clients who come back"
    )
    reentry_mean_weeks: float = Field(
        default=20.0, gt=0, description="mean time from discharge to coming back (exponential)"
    )
    initial_waiting: int = Field(default=0, ge=0, description="referrals already on the list")
    initial_waiting_spread_weeks: float | None = Field(
        default=None,
        gt=0,
        description="those were referred over this many past weeks (default: as long as "
        "accepted arrivals take to make a list that long)",
    )
    initial_caseload: float = Field(
        default=1.0, ge=0, le=1, description="share of capacity in use at the start"
    )
    duration_weeks: int = Field(default=52, ge=1, le=520)
    seed: int = 1
    waiting_standard: timedelta = Field(default=_POLICY.waiting_standard)
    start: datetime = Field(default=DEFAULT_START)

    @model_validator(mode="after")
    def _consistent(self) -> SimulationInput:
        if self.share_urgent + self.share_soon > 1:
            raise ValueError("share_urgent + share_soon cannot exceed 1")
        if self.sessions_min > self.sessions_max:
            raise ValueError("sessions_min cannot exceed sessions_max")
        if isinstance(self.practitioners, int) and self.practitioners < 0:
            raise ValueError("practitioners cannot be negative")
        if isinstance(self.practitioners, list) and any(c < 0 for c in self.practitioners):
            raise ValueError("a capacity cannot be negative")
        if self.start.tzinfo is None:
            raise ValueError("start must carry a time zone")
        return self

    def capacities(self) -> list[int]:
        """Each practitioner's capacity, in id order."""
        if isinstance(self.practitioners, int):
            return [self.capacity] * self.practitioners
        return list(self.practitioners)

    def plus_one_practitioner(self, capacity: int | None = None) -> SimulationInput:
        """The same input with one more practitioner (by default with the median capacity),
        who joins at the start with an empty caseload."""
        capacities = self.capacities()
        if capacity is None:
            capacity = round(statistics.median(capacities)) if capacities else self.capacity
        return self.model_copy(update={"practitioners": [*capacities, capacity]})


class Prediction(BaseModel):
    """The estimate a referral was given on joining the list, beside the wait that followed."""

    ref: str
    urgency: Urgency
    position: int
    low_weeks: int | None
    high_weeks: int | None
    actual_weeks: float = Field(description="from joining the list to allocation")

    @property
    def midpoint_weeks(self) -> float | None:
        """The middle of the predicted range, or None when there was no estimate."""
        if self.low_weeks is None or self.high_weeks is None:
            return None
        return (self.low_weeks + self.high_weeks) / 2


class EstimateAccuracy(BaseModel):
    """How well the service's wait estimates predicted the waits that followed."""

    checked: int = Field(description="allocated referrals that were given an estimate")
    no_estimate: int = Field(description="allocated, but told 'we cannot estimate yet'")
    unresolved: int = Field(description="given an estimate, still waiting at the end")
    median_abs_error_weeks: float | None = Field(description="|midpoint - actual|, median")
    median_signed_error_weeks: float | None = Field(
        description="midpoint - actual, median: above 0 the estimate was pessimistic"
    )
    inside_range_share: float | None = Field(description="actual wait within [low, high]")
    median_abs_error_by_urgency: dict[Urgency, float | None]
    inside_range_share_by_urgency: dict[Urgency, float | None]


class TraceEvent(BaseModel):
    """One thing that happened, for tests and for anyone who wants to look closer."""

    at: datetime
    kind: Literal["joined", "allocated", "discharged", "returned", "ongoing"]
    ref: str
    practitioner_id: str | None = None
    urgency: Urgency | None = None
    received_at: datetime | None = None
    returning: bool = False
    caseload: int | None = Field(default=None, description="the practitioner's, after the event")


class SimulationResult(BaseModel):
    """What the year looked like."""

    label: str
    practitioners: int
    total_capacity: int
    weeks: int
    referrals_received: int
    accepted: int = Field(description="joined the list during the simulation")
    declined: int
    in_triage_at_end: int
    initial_waiting: int
    allocated: int = Field(description="first allocations of referrals (not returning)")
    returning_allocated: int = Field(description="returning clients given a new episode")
    discharged: int
    reentered: int = Field(description="discharged clients who came back")
    still_waiting: int = Field(description="referrals on the list at the end")
    returning_waiting: int = Field(description="returning clients waiting at the end")
    wait_median_weeks: float | None = Field(
        description="referral received to first allocation; anyone still waiting at the end "
        "counts with their wait so far"
    )
    wait_p90_weeks: float | None
    wait_max_weeks: float | None
    wait_median_by_urgency: dict[Urgency, float | None]
    breaches: int = Field(description="waits over the standard: allocated late or still waiting")
    breach_share: float | None = Field(description="of everyone allocated or still waiting")
    waiting_in_breach_at_end: int
    waiting_standard_weeks: float
    list_length_weekly: list[int] = Field(description="referrals waiting at each week's start")
    estimates: EstimateAccuracy
    predictions: list[Prediction] = Field(default_factory=list, repr=False)
    trace: list[TraceEvent] = Field(default_factory=list, repr=False)


class _Kind(IntEnum):
    # The order of events at the same instant: arrivals first, then what changes the list.
    ARRIVAL = 0
    JOIN = 1
    DISCHARGE = 2
    RETURN = 3


@dataclass(slots=True)
class _Practitioner:
    id: str
    capacity: int
    caseload: int = 0


@dataclass(slots=True)
class _Client:
    """A referral (or a client already in an episode at the start) and its own random stream."""

    ref: str
    rng: random.Random
    urgency: Urgency
    received_at: datetime
    joined_at: datetime | None = None
    waiting: WaitingReferral | None = None
    practitioner_id: str | None = None
    first_allocated_at: datetime | None = None
    prediction: tuple[int, int | None, int | None] | None = None  # position, low, high


@dataclass
class _Stats:
    received: int = 0
    accepted: int = 0
    declined: int = 0
    in_triage: int = 0
    allocated: int = 0
    returning_allocated: int = 0
    discharged: int = 0
    reentered: int = 0
    waits: list[tuple[Urgency, float]] = field(default_factory=list)
    weekly: list[int] = field(default_factory=list)


def _weeks(delta: timedelta) -> float:
    return delta / WEEK


def _percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (0–100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


class _Simulation:
    """One run. Private: use ``simulate`` or ``compare``."""

    def __init__(self, spec: SimulationInput, *, trace: bool, full_list: bool) -> None:
        self.spec = spec
        self.now = spec.start
        self.end = spec.start + spec.duration_weeks * WEEK
        self.window = ALLOCATION_WINDOW_WEEKS * WEEK
        self.tracing = trace
        self.full_list = full_list
        self.trace: list[TraceEvent] = []
        self.stats = _Stats()
        width = max(2, len(str(len(spec.capacities()))))
        self.practitioners = {
            f"p{i:0{width}d}": _Practitioner(f"p{i:0{width}d}", capacity)
            for i, capacity in enumerate(spec.capacities(), start=1)
        }
        self.clients: dict[str, _Client] = {}
        # The waiting list of new referrals, kept sorted by the service's own order key, so the
        # head and a newcomer's position are a slice and a bisect away (no sort per event).
        self.waiting: list[tuple[tuple[int, datetime, str], WaitingReferral]] = []
        self.returning: dict[str, WaitingReferral] = {}
        # Episode start times, ascending: the trailing-window count is two bisects.
        self.allocation_times: list[datetime] = []
        # When new referrals of each urgency joined the list, ascending: the service counts the
        # more urgent ones that joined recently as overtaking (models/waiting_list.py).
        self.join_times: dict[Urgency, list[datetime]] = {u: [] for u in Urgency}
        self.events: list[tuple[datetime, int, int, str]] = []
        self.seq = itertools.count()

    # -- randomness: one stream per person, so scenarios share the same people ------------

    def _stream(self, *parts: object) -> random.Random:
        # A str seed is hashed with SHA-512: stable across runs and PYTHONHASHSEED.
        return random.Random("/".join(str(p) for p in (self.spec.seed, *parts)))

    def _urgency(self, rng: random.Random) -> Urgency:
        draw = rng.random()
        if draw < self.spec.share_urgent:
            return Urgency.URGENT
        if draw < self.spec.share_urgent + self.spec.share_soon:
            return Urgency.SOON
        return Urgency.ROUTINE

    def _episode_length(self, rng: random.Random) -> timedelta:
        spec = self.spec
        if spec.episode_mean_weeks is not None:
            return max(1.0, rng.gauss(spec.episode_mean_weeks, spec.episode_sd_weeks)) * WEEK
        sessions = rng.randint(spec.sessions_min, spec.sessions_max)
        return sessions / spec.sessions_per_week * WEEK

    # -- the event queue -----------------------------------------------------------------

    def _schedule(self, at: datetime, kind: _Kind, ref: str) -> None:
        if at <= self.end:
            heapq.heappush(self.events, (at, int(kind), next(self.seq), ref))

    def _record(self, **fields: Any) -> None:
        if self.tracing:
            self.trace.append(TraceEvent(at=self.now, **fields))

    # -- the start: ongoing episodes (and the allocations behind them), the existing list --

    def _seed_ongoing(self) -> None:
        """Fill each caseload to ``initial_caseload`` with episodes under way, and rebuild the
        episode starts of the trailing window as a service in that steady state would have had
        them (each place's earlier episodes, back to back), so the first estimates have a rate
        to go on rather than "we cannot estimate yet"."""
        horizon = self.now - self.window
        past_starts: list[datetime] = []
        for practitioner in self.practitioners.values():
            for slot in range(round(practitioner.capacity * self.spec.initial_caseload)):
                rng = self._stream("ongoing", practitioner.id, slot)
                length = self._episode_length(rng)
                started = self.now - rng.random() * length
                ref = f"C-{practitioner.id}-{slot:03d}"
                client = _Client(ref, rng, Urgency.ROUTINE, started)
                client.practitioner_id = practitioner.id
                self.clients[ref] = client
                practitioner.caseload += 1
                self._record(
                    kind="ongoing",
                    ref=ref,
                    practitioner_id=practitioner.id,
                    caseload=practitioner.caseload,
                )
                self._schedule(started + length, _Kind.DISCHARGE, ref)
                while started > horizon:
                    past_starts.append(started)
                    started -= self._episode_length(rng)
        self.allocation_times = sorted(past_starts)

    def _seed_waiting(self) -> None:
        spec = self.spec
        if not spec.initial_waiting:
            return
        spread = spec.initial_waiting_spread_weeks or max(
            1.0, spec.initial_waiting / max(spec.arrivals_per_week * spec.acceptance_rate, 1e-9)
        )
        for i in range(spec.initial_waiting):
            rng = self._stream("waiting", i)
            urgency = self._urgency(rng)
            received = self.now - rng.random() * spread * WEEK
            client = _Client(f"W{i:05d}", rng, urgency, received)
            self.clients[client.ref] = client
            client.joined_at = min(self.now, received + spec.triage_days * timedelta(days=1))
            self._join(client, estimate=False)

    # -- what happens --------------------------------------------------------------------

    def _arrival(self, index: int) -> None:
        spec = self.spec
        rng = self._stream("referral", index)
        client = _Client(f"R{index:05d}", rng, self._urgency(rng), self.now)
        self.clients[client.ref] = client
        self.stats.received += 1
        accepted = rng.random() < spec.acceptance_rate
        triage = spec.triage_days * rng.uniform(0.5, 1.5) * timedelta(days=1)
        if self.now + triage > self.end:
            self.stats.in_triage += 1  # decided after the end: neither accepted nor declined
        elif accepted:
            self._schedule(self.now + triage, _Kind.JOIN, client.ref)
        else:
            self.stats.declined += 1

    def _join(self, client: _Client, *, estimate: bool = True) -> None:
        """An accepted referral joins the list, and is told its position and estimated wait
        exactly as the service computes them."""
        referral = WaitingReferral(
            ref=client.ref,
            urgency=client.urgency,
            received_at=client.received_at,
            waiting_since=client.joined_at or self.now,
        )
        key = allocation_order_key(referral)
        at = bisect_left(self.waiting, (key,))
        if estimate:
            client.joined_at = self.now
            # As the service's queue_position: returning clients waiting stand first, then new
            # referrals in allocation order; the referral counts itself (ahead + 1).
            position = len(self.returning) + at + 1
            recent = len(self.allocation_times) - bisect_right(
                self.allocation_times, self.now - self.window
            )
            since = self.now - self.window
            overtaking = sum(
                len(times) - bisect_right(times, since)
                for urgency, times in self.join_times.items()
                if URGENCY_RANK[urgency] < URGENCY_RANK[client.urgency]
            )
            low, high = estimate_wait_weeks(
                position, recent, ALLOCATION_WINDOW_WEEKS, overtaking=overtaking
            )
            client.prediction = (position, low, high)
            self.join_times[client.urgency].append(self.now)
            self.stats.accepted += 1
        client.waiting = referral
        self.waiting.insert(at, (key, referral))
        self._record(
            kind="joined", ref=client.ref, urgency=client.urgency, received_at=client.received_at
        )

    def _discharge(self, client: _Client) -> None:
        practitioner = self.practitioners[client.practitioner_id or ""]
        practitioner.caseload -= 1
        self.stats.discharged += 1
        self._record(
            kind="discharged",
            ref=client.ref,
            practitioner_id=practitioner.id,
            caseload=practitioner.caseload,
        )
        # Drawn at every discharge, in the client's own stream, so both scenarios agree.
        comes_back = client.rng.random() < self.spec.reentry_rate
        after = client.rng.expovariate(1 / self.spec.reentry_mean_weeks) * WEEK
        if comes_back:
            self._schedule(self.now + after, _Kind.RETURN, client.ref)

    def _return(self, client: _Client) -> None:
        """A discharged client asks to come back: they wait for their own practitioner."""
        self.stats.reentered += 1
        self.returning[client.ref] = WaitingReferral(
            ref=client.ref,
            urgency=client.urgency,
            received_at=client.received_at,
            waiting_since=self.now,
            returning_to=client.practitioner_id,
        )
        self._record(
            kind="returned", ref=client.ref, practitioner_id=client.practitioner_id, returning=True
        )

    def _allocate(self) -> None:
        """Run the service's rules on the list as it stands, and start the episodes they plan.

        Only the head of the list is passed, which gives the same plan as the full list:
        ``plan_allocations`` gives returning clients their own practitioner's room first, then
        takes new referrals strictly in ``allocation_order_key`` order, one free place each,
        until no place is left. Nobody is held in the simulation, so it can never reach past the
        first ``free_places`` new referrals in that order — which is exactly what the sorted
        list's head is. (``tests/test_simulation.py`` runs both ways and compares.)
        """
        rooms = [
            PractitionerRoom(id=p.id, capacity=p.capacity, caseload=p.caseload)
            for p in self.practitioners.values()
        ]
        free = free_places(rooms)
        head = self.waiting if self.full_list else self.waiting[:free]
        candidates = [*self.returning.values(), *(referral for _, referral in head)]
        for assignment in plan_allocations(candidates, rooms):
            client = self.clients[assignment.ref]
            practitioner = self.practitioners[assignment.practitioner_id]
            practitioner.caseload += 1
            if practitioner.caseload > practitioner.capacity:  # the rules broke: stop loudly
                raise AssertionError(f"{practitioner.id} allocated above capacity")
            self.allocation_times.append(self.now)
            returning = assignment.ref in self.returning
            if returning:
                del self.returning[assignment.ref]
                self.stats.returning_allocated += 1
            else:
                referral = client.waiting
                assert referral is not None
                at = bisect_left(self.waiting, (allocation_order_key(referral),))
                if self.waiting[at][1].ref != referral.ref:
                    raise AssertionError(f"{referral.ref} allocated but not on the list")
                del self.waiting[at]
                client.waiting = None
                client.first_allocated_at = self.now
                self.stats.allocated += 1
                self.stats.waits.append((client.urgency, _weeks(self.now - client.received_at)))
            client.practitioner_id = practitioner.id
            self._record(
                kind="allocated",
                ref=client.ref,
                practitioner_id=practitioner.id,
                returning=returning,
                caseload=practitioner.caseload,
            )
            self._schedule(self.now + self._episode_length(client.rng), _Kind.DISCHARGE, client.ref)

    def _sample_weeks_until(self, until: datetime, *, inclusive: bool) -> None:
        """Record the list length at every week boundary before (or up to) ``until``."""
        weekly = self.stats.weekly
        while len(weekly) <= self.spec.duration_weeks:
            boundary = self.spec.start + len(weekly) * WEEK
            if boundary > until or (boundary == until and not inclusive):
                break
            weekly.append(len(self.waiting))

    def run(self) -> None:
        """Play the events in time order until the end of the simulated period."""
        arrivals = self._stream("arrivals")
        self._seed_ongoing()
        self._seed_waiting()
        self._allocate()  # a practitioner with room at the start takes from the list at once
        self._sample_weeks_until(self.now, inclusive=True)
        arrival_index = 0
        self._schedule(
            self.now + arrivals.expovariate(self.spec.arrivals_per_week) * WEEK, _Kind.ARRIVAL, ""
        )
        while self.events:
            at, kind, _, ref = heapq.heappop(self.events)
            # A boundary is sampled once every event at or before it has happened.
            self._sample_weeks_until(at, inclusive=False)
            self.now = at
            if kind == _Kind.ARRIVAL:
                self._arrival(arrival_index)
                arrival_index += 1
                gap = arrivals.expovariate(self.spec.arrivals_per_week) * WEEK
                self._schedule(self.now + gap, _Kind.ARRIVAL, "")
                continue  # nobody joins the list before triage
            client = self.clients[ref]
            if kind == _Kind.JOIN:
                self._join(client)
            elif kind == _Kind.DISCHARGE:
                self._discharge(client)
            else:
                self._return(client)
            self._allocate()
        self.now = self.end
        self._sample_weeks_until(self.end, inclusive=True)

    # -- the figures ---------------------------------------------------------------------

    def result(self, label: str) -> SimulationResult:
        """Summarise the run."""
        spec, stats = self.spec, self.stats
        standard_weeks = _weeks(spec.waiting_standard)
        still = [self.clients[r.ref] for _, r in self.waiting]
        # Everyone who was on the list: the allocated with their wait, those still waiting with
        # their wait so far. Leaving the latter out would flatter a growing list (the longest
        # waits are exactly the ones that have not ended) and could make more capacity look
        # worse, since it lets long-waiting routine referrals finally reach allocation.
        waits = [*stats.waits, *((c.urgency, _weeks(self.end - c.received_at)) for c in still)]
        values = [w for _, w in waits]
        late = sum(1 for w in values if w > standard_weeks)
        still_late = sum(1 for c in still if _weeks(self.end - c.received_at) > standard_weeks)
        by_urgency = {u: _median([w for urgency, w in waits if urgency == u]) for u in Urgency}

        predictions: list[Prediction] = []
        unresolved = 0
        for client in self.clients.values():
            if client.prediction is None:
                continue
            if client.first_allocated_at is None or client.joined_at is None:
                unresolved += 1
                continue
            position, low, high = client.prediction
            predictions.append(
                Prediction(
                    ref=client.ref,
                    urgency=client.urgency,
                    position=position,
                    low_weeks=low,
                    high_weeks=high,
                    actual_weeks=_weeks(client.first_allocated_at - client.joined_at),
                )
            )
        accuracy = _accuracy(predictions, unresolved)
        return SimulationResult(
            label=label,
            practitioners=len(self.practitioners),
            total_capacity=sum(p.capacity for p in self.practitioners.values()),
            weeks=spec.duration_weeks,
            referrals_received=stats.received,
            accepted=stats.accepted,
            declined=stats.declined,
            in_triage_at_end=stats.in_triage,
            initial_waiting=spec.initial_waiting,
            allocated=stats.allocated,
            returning_allocated=stats.returning_allocated,
            discharged=stats.discharged,
            reentered=stats.reentered,
            still_waiting=len(self.waiting),
            returning_waiting=len(self.returning),
            wait_median_weeks=_median(values),
            wait_p90_weeks=_percentile(values, 90),
            wait_max_weeks=max(values) if values else None,
            wait_median_by_urgency=by_urgency,
            breaches=late,
            breach_share=late / len(values) if values else None,
            waiting_in_breach_at_end=still_late,
            waiting_standard_weeks=standard_weeks,
            list_length_weekly=stats.weekly,
            estimates=accuracy,
            predictions=predictions,
            trace=self.trace,
        )


def _accuracy(predictions: list[Prediction], unresolved: int) -> EstimateAccuracy:
    """Midpoint error and range hits of the estimates that can be checked."""
    estimated = [p for p in predictions if p.midpoint_weeks is not None]

    def error(p: Prediction) -> float:
        return (p.midpoint_weeks or 0.0) - p.actual_weeks

    def inside(p: Prediction) -> bool:
        return (p.low_weeks or 0) <= p.actual_weeks <= (p.high_weeks or 0)

    def share(ps: list[Prediction]) -> float | None:
        return sum(inside(p) for p in ps) / len(ps) if ps else None

    band = {u: [p for p in estimated if p.urgency == u] for u in Urgency}
    return EstimateAccuracy(
        checked=len(estimated),
        no_estimate=len(predictions) - len(estimated),
        unresolved=unresolved,
        median_abs_error_weeks=_median([abs(error(p)) for p in estimated]),
        median_signed_error_weeks=_median([error(p) for p in estimated]),
        inside_range_share=share(estimated),
        median_abs_error_by_urgency={
            u: _median([abs(error(p)) for p in ps]) for u, ps in band.items()
        },
        inside_range_share_by_urgency={u: share(ps) for u, ps in band.items()},
    )


def simulate(
    spec: SimulationInput, *, label: str = "baseline", trace: bool = False, full_list: bool = False
) -> SimulationResult:
    """Simulate ``spec.duration_weeks`` of the service and summarise waits, breaches, list length
    and how good the service's wait estimates were.

    ``trace=True`` keeps every event (for tests and close reading). ``full_list=True`` passes the
    whole waiting list to the rules at every event instead of its head — slower, same result;
    it exists so the equivalence can be tested.
    """
    run = _Simulation(spec, trace=trace, full_list=full_list)
    run.run()
    return run.result(label)


def compare(
    spec: SimulationInput, *, extra_capacity: int | None = None
) -> tuple[SimulationResult, SimulationResult]:
    """The same year twice, same seed and same people: as it is, and with one more practitioner
    (``extra_capacity`` places; by default the median practitioner's)."""
    baseline = simulate(spec, label="baseline")
    plus_one = simulate(spec.plus_one_practitioner(extra_capacity), label="+1 practitioner")
    return baseline, plus_one


# -- a readable report: the CLI and the bench print the same table -----------------------------


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _bands(values: dict[Urgency, float | None], fmt: Any = _num) -> str:
    return " / ".join(fmt(values.get(u)) for u in (Urgency.URGENT, Urgency.SOON, Urgency.ROUTINE))


def format_comparison(results: Sequence[SimulationResult], *, every_weeks: int = 4) -> str:
    """Results side by side, as plain text: waits, breaches, list length and estimate accuracy."""
    first = results[0]
    standard = f"{first.waiting_standard_weeks:g}-week"
    rows: list[tuple[str, list[str]]] = [
        ("", [r.label for r in results]),
        ("practitioners (places)", [f"{r.practitioners} ({r.total_capacity})" for r in results]),
        ("referrals received", [f"{r.referrals_received:,}" for r in results]),
        ("accepted / declined", [f"{r.accepted:,} / {r.declined:,}" for r in results]),
        ("on the list at the start", [f"{r.initial_waiting:,}" for r in results]),
        ("allocated (first episode)", [f"{r.allocated:,}" for r in results]),
        (
            "came back / given a new episode",
            [f"{r.reentered} / {r.returning_allocated}" for r in results],
        ),
        ("discharged", [f"{r.discharged:,}" for r in results]),
        ("still waiting at the end", [f"{r.still_waiting:,}" for r in results]),
        ("wait, median (weeks)", [_num(r.wait_median_weeks) for r in results]),
        ("wait, 90th percentile (weeks)", [_num(r.wait_p90_weeks) for r in results]),
        ("wait, longest (weeks)", [_num(r.wait_max_weeks) for r in results]),
        ("median wait urgent/soon/routine", [_bands(r.wait_median_by_urgency) for r in results]),
        (
            f"over the {standard} standard",
            [f"{r.breaches:,} ({_share(r.breach_share)})" for r in results],
        ),
        ("  of whom still waiting", [f"{r.waiting_in_breach_at_end:,}" for r in results]),
        ("", ["" for _ in results]),
        ("wait estimates checked", [f"{r.estimates.checked:,}" for r in results]),
        (
            "  no estimate / still waiting",
            [f"{r.estimates.no_estimate} / {r.estimates.unresolved}" for r in results],
        ),
        (
            "median |midpoint - actual| (weeks)",
            [_num(r.estimates.median_abs_error_weeks, 2) for r in results],
        ),
        (
            "  urgent / soon / routine",
            [_bands(r.estimates.median_abs_error_by_urgency) for r in results],
        ),
        (
            "median midpoint - actual (weeks)",
            [_num(r.estimates.median_signed_error_weeks, 2) for r in results],
        ),
        ("actual wait inside the range", [_share(r.estimates.inside_range_share) for r in results]),
        (
            "  urgent / soon / routine",
            [_bands(r.estimates.inside_range_share_by_urgency, _share) for r in results],
        ),
    ]
    label_width = max(len(label) for label, _ in rows)
    widths = [max(len(cells[i]) for _, cells in rows) for i in range(len(results))]
    lines = [
        "  ".join(
            [label.ljust(label_width), *(c.rjust(w) for c, w in zip(cells, widths, strict=True))]
        ).rstrip()
        for label, cells in rows
    ]
    lines.append("")
    lines.append(f"waiting list, every {every_weeks} weeks (week 0 to {first.weeks}):")
    for r in results:
        series = r.list_length_weekly[::every_weeks]
        lines.append(
            f"  {r.label.ljust(max(len(x.label) for x in results))}  " + " ".join(map(str, series))
        )
    lines.append("")
    lines += textwrap.wrap(
        "Waits run from referral to first allocation; anyone still waiting at the end counts with "
        "the wait so far. An estimate is the one the service gives on joining the list, checked "
        "against the time from joining to allocation; midpoint - actual above 0 means it was "
        "pessimistic, below 0 optimistic.",
        width=96,
    )
    return "\n".join(lines)
