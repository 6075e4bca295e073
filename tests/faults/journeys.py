"""The referrals a fault scenario drives, and the staff who drive them.

Each referral follows one journey through the lifecycle and must end in that journey's stage,
whatever was broken on the way:

- ``WAITS``: accepted; stays on the list, checked in by a timer every ``Timers.checkin_every``;
- ``DECLINED``: declined at triage (closed);
- ``QUESTIONED``: the referrer is asked for more; triage reminders come by timer;
- ``EPISODE``: accepted, allocated, one session recorded, discharged (open re-entry).

Durations are seconds, not days (the dev server runs in real time): the policy is built from
``Timers``, every other duration stays a real day or more so that no other timer fires.

Staff act as people do: a request that fails because a server is down is tried again a moment
later, and an action refused because an earlier try went through after all counts as done
(``Staff.retries`` counts the tries again). A worker that is down is no error to them: the
action simply takes longer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar

from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from models.actions import (
    Allocation,
    DeclineReason,
    Discharge,
    DischargeReason,
    SessionRecord,
    TriageDecision,
    TriageOutcome,
)
from models.notifications import ContactChannel
from models.policy import ServicePolicy
from models.referral import ReferralView, SessionOutcome, Stage
from services import referrals
from services.referrals import ActionRejected
from tests.factories import submission
from tests.faults.stack import PRACTITIONER

T = TypeVar("T")

# How long staff keep trying one action before the scenario fails (a bound, not a pace).
ACTION_DEADLINE = 240.0
RETRY_PAUSE = 1.0
LONG = timedelta(days=1)
# Free text a practitioner types: it must never reach a log line or Temporal in clear.
LOCATION_MARKER = "LOCATION-MARKER-4417 the cafe"


class Journey(StrEnum):
    WAITS = "waits"
    DECLINED = "declined"
    QUESTIONED = "questioned"
    EPISODE = "episode"


FINAL_STAGE: dict[Journey, Stage] = {
    Journey.WAITS: Stage.WAITING,
    Journey.DECLINED: Stage.CLOSED,
    Journey.QUESTIONED: Stage.INFO_REQUESTED,
    Journey.EPISODE: Stage.DISCHARGED,
}


@dataclass(frozen=True)
class Timers:
    """The scenario's timer durations, in seconds."""

    checkin_every: float
    triage_deadline: float
    triage_reminder_every: float

    def policy(self, journey: Journey) -> ServicePolicy:
        """The policy a referral of ``journey`` is submitted with."""
        questioned = journey is Journey.QUESTIONED
        return ServicePolicy(
            auto_allocate=False,  # allocation is the staff's, in EPISODE
            checkin_every=timedelta(seconds=self.checkin_every),
            # Only the questioned ones are meant to be reminded of triage.
            triage_deadline=timedelta(seconds=self.triage_deadline) if questioned else LONG,
            triage_reminder_every=timedelta(seconds=self.triage_reminder_every),
            unanswered_checkins_before_validation=3,
            waiting_standard=LONG * 30,
            silence_nudge_after=LONG * 30,
        )


@dataclass
class Referral:
    """One referral of the plan: its journey, how its client is written to, its reference."""

    n: int
    journey: Journey
    channel: ContactChannel
    ref: str = ""

    @property
    def final_stage(self) -> Stage:
        return FINAL_STAGE[self.journey]

    @property
    def name(self) -> str:
        return f"Client Number{self.n:03d}"

    @property
    def contact(self) -> str:
        """The client's one contact: a phone number or an email address."""
        if self.channel is ContactChannel.SMS:
            return f"+447700900{self.n:03d}"
        return f"client{self.n:03d}@example.org"


def plan(counts: dict[Journey, int], *, texts_every: int = 3) -> list[Referral]:
    """The referrals, journeys interleaved; every ``texts_every``-th client has only a phone
    (written to by text through Notify), the others only an email address."""
    pending = {journey: count for journey, count in counts.items() if count}
    order: list[Journey] = []
    while pending:
        for journey in list(pending):
            order.append(journey)
            pending[journey] -= 1
            if not pending[journey]:
                del pending[journey]
    return [
        Referral(
            n=n,
            journey=journey,
            channel=ContactChannel.SMS if n % texts_every == 0 else ContactChannel.EMAIL,
        )
        for n, journey in enumerate(order, start=1)
    ]


@dataclass
class Staff:
    """Coordinators and a practitioner, acting on a stack's referrals as people would."""

    client: Client
    task_queue: str
    timers: Timers
    retries: int = 0
    done: list[str] = field(default_factory=list)

    async def follow(self, referral: Referral) -> None:
        """Submit the referral and take it along its journey."""
        await self.submit(referral)
        await self.walk(referral)

    async def submit(self, referral: Referral) -> None:
        """Submit the referral (its reference is then set)."""
        client = (
            {"email": None, "phone": referral.contact}
            if referral.channel is ContactChannel.SMS
            else {"email": referral.contact, "phone": None}
        )
        referral.ref = await self._submit(referral, client)

    async def walk(self, referral: Referral) -> None:
        """Take a submitted referral along its journey."""
        journey = referral.journey
        if journey is Journey.DECLINED:
            decision = TriageDecision(
                outcome=TriageOutcome.DECLINE,
                coordinator="c-faults",
                decline_reason=DeclineReason.OUT_OF_AREA,
                signposting="the local community team",
            )
            await self._act(referral.ref, "triage", decision, Stage.CLOSED)
        elif journey is Journey.QUESTIONED:
            decision = TriageDecision(
                outcome=TriageOutcome.REQUEST_INFORMATION,
                coordinator="c-faults",
                question="What support is in place at the moment?",
            )
            await self._act(referral.ref, "triage", decision, Stage.INFO_REQUESTED)
        else:
            accept = TriageDecision(outcome=TriageOutcome.ACCEPT, coordinator="c-faults")
            await self._act(referral.ref, "triage", accept, Stage.WAITING)
        if journey is Journey.EPISODE:
            allocation = Allocation(practitioner_id=PRACTITIONER, coordinator="c-faults")
            await self._act(referral.ref, "allocate", allocation, Stage.ALLOCATED)
            session = SessionRecord(outcome=SessionOutcome.ATTENDED, location=LOCATION_MARKER)
            await self._act(
                referral.ref, "record_session", session, None, recorded=lambda v: v.sessions_done
            )
            discharge = Discharge(reason=DischargeReason.COMPLETED, summary="one session, well")
            await self._act(referral.ref, "discharge", discharge, Stage.DISCHARGED)
        self.done.append(referral.ref)

    async def read(self, ref: str) -> ReferralView:
        """The referral's state, asked again while Temporal does not answer."""
        return await self._again(lambda: referrals.read(self.client, ref))

    async def _submit(self, referral: Referral, client: dict[str, str | None]) -> str:
        ref = referrals.new_reference()
        body = submission(client={**client, "name": referral.name})
        policy = self.timers.policy(referral.journey)

        async def start() -> str:
            try:
                return await referrals.submit(
                    self.client, body, policy, task_queue=self.task_queue, ref=ref
                )
            except WorkflowAlreadyStartedError:
                return ref  # an earlier try went through

        return await self._again(start)

    async def _act(
        self,
        ref: str,
        action: str,
        arg: object,
        stage: Stage | None,
        *,
        recorded: Callable[[ReferralView], object] | None = None,
    ) -> None:
        """Run ``action``; if it is refused, it must be because an earlier try went through
        (the referral is in ``stage``, or ``recorded`` says so)."""

        def went_through(view: ReferralView) -> bool:
            return bool(recorded(view)) if recorded is not None else view.stage == stage

        async def attempt() -> None:
            try:
                await referrals.act(self.client, ref, action, arg)  # type: ignore[arg-type]
            except ActionRejected:
                if not went_through(await self.read(ref)):
                    raise

        await self._again(attempt)

    async def _again(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, tried again while Temporal is unreachable (bounded in time)."""
        deadline = time.monotonic() + ACTION_DEADLINE
        while True:
            try:
                return await call()
            except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
                if time.monotonic() > deadline:
                    raise
                self.retries += 1
            await asyncio.sleep(RETRY_PAUSE)


async def bounded(limit: int, jobs: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run the jobs concurrently, at most ``limit`` at a time."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))
