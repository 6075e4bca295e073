"""ReferralWorkflow: one referral's whole life, from the referrer's first contact to open re-entry.

Reads like the lifecycle in DESIGN.md:

    received -> triage -> (declined | info requested -> triage | accepted -> waiting)
    waiting -> (withdrawn | allocated) -> in episode -> discharged -> (reactivated -> ...)

Staff actions are updates with validators (a wrong action is rejected before anything is
written); client messages are a signal; ``state`` is a query. Every handler checks, applies and
records; the decisions are plain code in ``models/``:

- what each action needs and what it changes: ``models.pathway``;
- when each timer is due and what firing it does: ``models.contact_schedule``;
- who is written to on each occasion, and how: ``models.correspondence``;
- what a client's message means in each stage: ``models.message_meaning``;
- an episode's outcome: ``models.outcome``.

Discharge continues-as-new into open re-entry, carrying only what is needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from models import client_links, contact_schedule, correspondence, message_meaning, pathway
    from models.actions import (
        Allocation,
        AllocationOffer,
        Closure,
        ClosureReason,
        Discharge,
        Extension,
        Hold,
        HoldRelease,
        InformationAnswer,
        Removal,
        ReqolSubmission,
        SessionBooking,
        SessionRecord,
        TriageDecision,
        TriageOutcome,
        WithdrawalConfirmation,
    )
    from models.contact_schedule import TimerKind
    from models.correspondence import Context, Occasion
    from models.legacy_reading import legacy_classify_intent, legacy_suggests_crisis
    from models.message_meaning import Meaning
    from models.messages import ClientMessage, Intent
    from models.notifications import (
        SEND_NOTIFICATIONS,
        ContactChannel,
        LetterKind,
        Notification,
        SendResult,
    )
    from models.outcome import episode_outcome
    from models.pathway import ActionNotAllowed
    from models.records import (
        RECORD_MESSAGE_HANDLING,
        RECORD_OUTCOME,
        RECORD_SESSION,
        RECORD_TRANSITION,
        RELEASE_CASELOAD,
        RESERVE_CASELOAD,
        WAITING_POSITION,
        WAKE_ALLOCATOR,
        CaseloadRelease,
        CaseloadRequest,
        CaseloadResult,
        MessageHandling,
        ReferralSnapshot,
        SearchablePerson,
        SessionWrite,
        TransitionRecord,
        WaitingPosition,
        WaitingPositionRequest,
        WakeRequest,
    )

    # The workflow's input and result live in models/: the sandbox re-imports this module for
    # every run it keeps in memory, and a pydantic class built per run cost each cached
    # referral its own copy of their schemas (docs/scale.md).
    from models.referral import (
        Episode,
        ReferralInput,
        ReferralResult,
        ReferralState,
        ReferralSubmission,
        ReferralView,
        Stage,
        TimelineEvent,
    )
    from models.search_attributes import REFERRAL_STAGE

ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Side effects must eventually happen (nothing is lost), so retries are unlimited, backing off.
ACTIVITY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
RECENT_MESSAGES_KEPT = 50
# A local activity runs in the worker that holds the workflow task: no server round trip. Its
# attempts are short (a read-model write or read); a long outage backs off like any activity.
LOCAL_ACTIVITY_TIMEOUT = timedelta(seconds=10)
# Patch: from this change on, an action returns once its decision and its read-model write
# are durable (the write a local activity inside the update); letters and the allocator's
# wake-up follow outside the referral's lock. Histories written before it replay unchanged.
QUICK_ACTIONS = "letters-after-update"

P = ParamSpec("P")
T = TypeVar("T")


def workflow_id(ref: str) -> str:
    """Workflow ids carry the opaque reference only."""
    return f"referral-{ref}"


@workflow.defn
class ReferralWorkflow:
    """One durable workflow per referral (id ``referral-<ref>``)."""

    @workflow.init
    def __init__(self, input: ReferralInput) -> None:
        if input.carried is not None:
            self.s = input.carried
            self.s.runs += 1
        else:
            assert input.submission is not None and input.policy is not None
            now = workflow.now()
            self.s = ReferralState(
                ref=input.ref,
                submission=input.submission,
                policy=input.policy,
                # Received is a moment, not a wait: triage starts at once, so a coordinator's
                # first action can never find the referral in a stage it cannot act on.
                stage=Stage.TRIAGE,
                received_at=now,
                stage_since=now,
            )
        self._lock = asyncio.Lock()
        self._version = 0
        self._continue_after_discharge = False
        # Letters and wake-ups under way outside the lock (QUICK_ACTIONS): the run waits for
        # them before it continues as new or ends, so none is cut off.
        self._following: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ the lifecycle

    @workflow.run
    async def run(self, input: ReferralInput) -> ReferralResult:
        """Receive the referral, then keep its timers until it is closed."""
        if not self.s.acknowledged:
            await self._receive()
        while self.s.stage != Stage.CLOSED:
            await self._wait_for_change_or_timer()
            if self._continue_after_discharge or workflow.info().is_continue_as_new_suggested():
                await self._continue_as_new()
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self._following
        )
        return ReferralResult(
            ref=self.s.ref,
            stage=self.s.stage,
            closed_reason=self.s.closed_reason,
            episodes=self.s.episode_number,
        )

    async def _receive(self) -> None:
        """Record the referral and acknowledge it to the referrer (and the client, if allowed)."""
        async with self._lock:
            client = self.s.submission.client
            letters = self._letters(Occasion.RECEIVED)
            contacts = [c for c in (client.email, client.phone) if c]
            workflow.upsert_search_attributes([REFERRAL_STAGE.value_set(Stage.TRIAGE.value)])
            await self._record(
                "received",
                {"urgency": self.s.submission.urgency.value},
                letters,
                register_contacts=contacts,
                register_person=SearchablePerson(
                    name=client.name, nhs_number=client.nhs_number, phone=client.phone
                ),
            )
            self.s.acknowledged = True

    async def _wait_for_change_or_timer(self) -> None:
        """Sleep until something changes or the next timer of the pathway is due."""
        seen = self._version
        changed = lambda: self._version != seen or self._continue_after_discharge  # noqa: E731
        due = contact_schedule.next_deadline(self.s)
        if due is not None:
            remaining = (due.at - workflow.now()).total_seconds()
            if remaining > 0:
                try:
                    await workflow.wait_condition(changed, timeout=timedelta(seconds=remaining))
                    return
                except TimeoutError:
                    pass
            async with self._lock:
                await self._fire_due_timers()
        else:
            await workflow.wait_condition(changed)

    async def _fire_due_timers(self) -> None:
        # Re-read the rules after each timer: firing one moves it (or changes the stage).
        while (due := contact_schedule.next_deadline(self.s)) is not None and (
            due.at <= workflow.now()
        ):
            await self._on_timer(TimerKind(due.kind))

    async def _on_timer(self, kind: TimerKind) -> None:
        if kind == TimerKind.TRIAGE_REMINDER:
            await self._remind_triage()
        elif kind == TimerKind.CHECKIN:
            await self._check_in()
        elif kind == TimerKind.WAIT_BREACH:
            await self._flag_breach()
        elif kind == TimerKind.SESSION_REMINDER:
            await self._remind_sessions()
        elif kind == TimerKind.SILENCE_NUDGE:
            await self._nudge_silence()
        elif kind == TimerKind.REENTRY_WINDOW_END:
            await self._close("reentry_window_ended", self._letters(Occasion.REENTRY_WINDOW_ENDED))

    async def _continue_as_new(self) -> None:
        """Start a fresh run carrying only what the referral needs, keeping history bounded."""
        await workflow.wait_condition(
            lambda: (
                workflow.all_handlers_finished() and not self._lock.locked() and not self._following
            )
        )
        if self.s.stage == Stage.CLOSED:
            return
        keep = self.s.policy.timeline_kept_in_workflow
        self.s.timeline = self.s.timeline[-keep:]
        workflow.logger.info(
            "continuing as new", extra={"ref": self.s.ref, "stage": self.s.stage.value}
        )
        workflow.continue_as_new(ReferralInput(ref=self.s.ref, carried=self.s))

    # ------------------------------------------------------------------ triage

    @workflow.update
    async def triage(self, decision: TriageDecision) -> ReferralView:
        """A coordinator accepts, declines (reason and signposting) or asks for information."""
        async with self._turn():
            self._check(pathway.check_triage, decision)
            detail: Context = {
                "outcome": decision.outcome.value,
                "coordinator": decision.coordinator,
            }
            if decision.outcome == TriageOutcome.ACCEPT:
                await self._accept(detail)
            elif decision.outcome == TriageOutcome.DECLINE:
                assert decision.decline_reason is not None
                reason = decision.decline_reason.value
                self._apply(pathway.decline, self.s, workflow.now(), decision.signposting)
                detail["decline_reason"] = reason
                letters = self._letters(
                    Occasion.DECLINED,
                    {"decline_reason": reason, "signposting": decision.signposting},
                )
                await self._record("declined", detail, letters, decline_reason=reason)
            else:
                self._apply(pathway.request_information, self.s, decision.question, workflow.now())
                letters = self._letters(Occasion.INFORMATION_REQUESTED, {"question_asked": True})
                await self._record("information_requested", detail, letters)
            return self.view()

    @triage.validator
    def _validate_triage(self, decision: TriageDecision) -> None:
        self._check(pathway.check_triage, decision)

    @workflow.update
    async def answer_information(self, answer: InformationAnswer) -> ReferralView:
        """The referrer answers a coordinator's question; the referral returns to triage."""
        async with self._turn():
            self._check(pathway.check_information_answer)
            self._apply(pathway.receive_information, self.s, workflow.now())
            await self._record(
                "information_received", {}, self._letters(Occasion.INFORMATION_RECEIVED)
            )
            return self.view()

    @answer_information.validator
    def _validate_answer(self, answer: InformationAnswer) -> None:
        self._check(pathway.check_information_answer)

    async def _remind_triage(self) -> None:
        """Past the triage deadline coordinators are reminded, and again at intervals."""
        reminder = self._apply(contact_schedule.remind_triage, self.s)
        await self._record(
            "triage_reminder", {"reminder": reminder}, self._letters(Occasion.TRIAGE_OVERDUE)
        )

    # ------------------------------------------------------------------ waiting

    async def _accept(self, detail: Context) -> None:
        self._apply(pathway.accept, self.s, workflow.now())
        await self._record("accepted", detail, [])
        position = await self._position()
        await self._send_after(self._letters(Occasion.ACCEPTED, position), self.s.seq)
        await self._wake_allocator("joined_list")

    async def _check_in(self) -> None:
        """Waiting well: a check-in each interval; repeated silence -> validation queue."""
        sent = correspondence.writes_to_client(LetterKind.CHECKIN, self.s)
        # Patched: earlier referrals counted every check-in as silence, sent or not.
        awaits_answer = sent or not workflow.patched("checkin-when-sent")
        queued = self._apply(
            contact_schedule.check_in, self.s, workflow.now(), awaits_answer=awaits_answer
        )
        detail: Context = {
            "checkin": self.s.checkins_sent,
            "unanswered": self.s.unanswered_checkins,
            "validation_queue": self.s.in_validation_queue,
        }
        alerts = self._letters(Occasion.VALIDATION_NEEDED) if queued else []
        await self._record("checkin", detail, alerts)
        if sent:
            position = await self._position()
            context: Context = {
                **position,
                "checkin_number": self.s.checkins_sent,
                "weeks_waited": contact_schedule.weeks_waited(self.s, workflow.now()),
            }
            await self._send_after(self._letters(Occasion.CHECKIN, context), self.s.seq)

    async def _flag_breach(self) -> None:
        """The waiting standard is breached: flagged on the referral, coordinators told once."""
        self._apply(contact_schedule.flag_breach, self.s)
        detail: Context = {"weeks_waited": contact_schedule.weeks_waited(self.s, workflow.now())}
        await self._record("wait_breach", detail, self._letters(Occasion.WAIT_BREACH, detail))

    @workflow.update
    async def keep_on_waiting_list(self, coordinator: str) -> ReferralView:
        """A coordinator validates a silent client: they stay on the list, counters reset."""
        async with self._turn():
            self._check(pathway.check_keep_on_list)
            self._apply(pathway.keep_on_list, self.s)
            await self._record("validated_kept", {"coordinator": coordinator}, [])
            return self.view()

    @keep_on_waiting_list.validator
    def _validate_keep(self, coordinator: str) -> None:
        self._check(pathway.check_keep_on_list)

    # ------------------------------------------------------------------ allocation

    @workflow.update
    async def allocate(self, allocation: Allocation) -> ReferralView:
        """A coordinator allocates a waiting referral to a practitioner with caseload room."""
        async with self._turn():
            self._check(pathway.check_allocation, allocation)
            reserved = await self._reserve(allocation.practitioner_id)
            if not reserved.reserved:
                raise ApplicationError(reserved.reason or "no caseload room", type="NoCaseloadRoom")
            await self._start_episode(
                allocation.practitioner_id, {"coordinator": allocation.coordinator}
            )
            return self.view()

    @allocate.validator
    def _validate_allocate(self, allocation: Allocation) -> None:
        self._check(pathway.check_allocation, allocation)

    async def _reserve(self, practitioner_id: str) -> CaseloadResult:
        request = CaseloadRequest(
            practitioner_id=practitioner_id,
            ref=self.s.ref,
            episode=pathway.next_episode(self.s),
            at=workflow.now(),
        )
        if self._quick():
            return await workflow.execute_local_activity(
                RESERVE_CASELOAD,
                request,
                result_type=CaseloadResult,
                start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
        return await workflow.execute_activity(
            RESERVE_CASELOAD,
            request,
            result_type=CaseloadResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )

    async def _start_episode(self, practitioner_id: str, detail: Context) -> None:
        episode = self._apply(pathway.start_episode, self.s, practitioner_id, workflow.now())
        occasion = Occasion.ALLOCATED_RETURNING if episode.returning else Occasion.ALLOCATED
        letters = self._letters(occasion, {"reentry_practitioner_available": True})
        await self._record(
            "allocated",
            {
                **detail,
                "practitioner_id": practitioner_id,
                "episode": episode.number,
                "returning": episode.returning,
            },
            letters,
        )

    # ------------------------------------------------------------------ the episode

    @workflow.update
    async def book_session(self, booking: SessionBooking) -> ReferralView:
        """The practitioner books a session; the client is reminded before it."""
        async with self._turn():
            self._check(pathway.check_booking, booking, workflow.now())
            booked = self._apply(pathway.book_session, self.s, booking)
            await self._record("session_booked", {"session_id": booked.session_id}, [])
            return self.view()

    @book_session.validator
    def _validate_booking(self, booking: SessionBooking) -> None:
        self._check(pathway.check_booking, booking, workflow.now())

    @workflow.update
    async def record_session(self, record: SessionRecord) -> ReferralView:
        """Record a session: attended / did not attend / cancelled, where, liaison done."""
        async with self._turn():
            now = workflow.now()
            self._check(pathway.check_session_record, record, now)
            session, prompt = self._apply(pathway.record_session, self.s, record, now)
            episode = self._current_episode()
            letters = self._letters(Occasion.REPEATED_NON_ATTENDANCE) if prompt else []
            await asyncio.gather(
                self._record(
                    "session_recorded",
                    {
                        "session_id": session.session_id,
                        "outcome": session.outcome.value,
                        "attended": episode.attended,
                        "planned": episode.planned_sessions,
                        "liaison": ",".join(k.value for k in session.liaison) or None,
                    },
                    letters,
                ),
                self._activity(
                    RECORD_SESSION,
                    SessionWrite(
                        ref=self.s.ref,
                        episode=episode.number,
                        session_id=session.session_id,
                        at=session.at,
                        outcome=session.outcome,
                        location=session.location,
                        liaison=session.liaison,
                    ),
                ),
            )
            return self.view()

    @record_session.validator
    def _validate_record_session(self, record: SessionRecord) -> None:
        self._check(pathway.check_session_record, record, workflow.now())

    async def _remind_sessions(self) -> None:
        """Remind the client before each booked session (once per session)."""
        now = workflow.now()
        for booked in contact_schedule.session_reminders_due(self.s, now):
            sent = self._apply(contact_schedule.remind_of_session, booked, now)
            episode = self.s.episode
            context: Context = {
                "session_at": booked.at.isoformat(),
                "session_location": booked.location,
                # The letter's ReQoL-10 link: before the first sessions (the baseline) and
                # before the last planned one (the end measure).
                "reqol_due": client_links.reqol_due_before_session(episode) is not None,
            }
            letters = self._letters(Occasion.SESSION_REMINDER, context) if sent else []
            await self._record("session_reminder", {"session_id": booked.session_id}, letters)

    async def _nudge_silence(self) -> None:
        """Long silence: the practitioner is nudged. The workflow never discharges anyone."""
        self._apply(contact_schedule.nudge_silence, self._current_episode(), workflow.now())
        await self._record("silence_nudge", {}, self._letters(Occasion.SILENCE))

    @workflow.update
    async def record_reqol(self, submission: ReqolSubmission) -> ReferralView:
        """ReQoL-10 at baseline or end of an episode, or skipped with a reason."""
        async with self._turn():
            self._check(pathway.check_reqol, submission)
            measure, urgent = self._apply(pathway.record_reqol, self.s, submission, workflow.now())
            detail: Context = {"when": submission.when.value}
            if submission.responses is not None:
                detail["total"] = measure.total
            else:
                detail["skipped"] = True
            letters = self._letters(Occasion.MEASURE_URGENT) if urgent else []
            await self._record("reqol_recorded", detail, letters)
            return self.view()

    @record_reqol.validator
    def _validate_reqol(self, submission: ReqolSubmission) -> None:
        self._check(pathway.check_reqol, submission)

    @workflow.update
    async def extend(self, extension: Extension) -> ReferralView:
        """The practitioner extends the plan (at most the policy maximum)."""
        async with self._turn():
            self._check(pathway.check_extension, extension)
            previous = self._apply(pathway.extend, self.s, extension)
            await self._record(
                "plan_extended", {"from": previous, "to": extension.planned_sessions}, []
            )
            return self.view()

    @extend.validator
    def _validate_extend(self, extension: Extension) -> None:
        self._check(pathway.check_extension, extension)

    @workflow.update
    async def discharge(self, discharge: Discharge) -> ReferralView:
        """Discharge: outcome recorded anonymously, letters say plainly how to come back."""
        async with self._turn():
            self._check(pathway.check_discharge, discharge)
            now = workflow.now()
            episode = self._apply(pathway.discharge, self.s, now)
            outcome = episode_outcome(self.s.ref, episode, discharge, now, self.s.policy)
            # Open re-entry starts in a fresh run once this update has finished.
            self._continue_after_discharge = True
            await asyncio.gather(
                self._record(
                    "discharged",
                    {
                        "reason": discharge.reason.value,
                        "episode": episode.number,
                        "sessions_attended": episode.attended,
                    },
                    self._letters(Occasion.DISCHARGED),
                    # The run continues as new once this update is done: its letters go first,
                    # so that step stays in the update's own workflow task and no client
                    # message can meet a run that is ending (docs/actions.md).
                    letters_in_turn=True,
                ),
                self._activity(
                    RELEASE_CASELOAD,
                    CaseloadRelease(ref=self.s.ref, episode=episode.number, at=now),
                ),
                self._activity(RECORD_OUTCOME, outcome),
            )
            await self._wake_allocator("capacity_freed", in_turn=True)
            return self.view()

    @discharge.validator
    def _validate_discharge(self, discharge: Discharge) -> None:
        self._check(pathway.check_discharge, discharge)

    # ------------------------------------------------------------------ re-entry

    async def _reactivate(self) -> None:
        """The client asked to come back: their own practitioner if there is room,
        otherwise the front of that practitioner's queue. No re-referral, no triage."""
        practitioner_id = self._apply(pathway.reactivate, self.s)
        reserved = await self._reserve(practitioner_id)
        if reserved.reserved:
            await self._start_episode(practitioner_id, {"reactivated": True})
            return
        self._apply(pathway.join_waiting_list, self.s, workflow.now())
        letters = self._letters(
            Occasion.RETURNED_TO_WAIT, {"reentry_practitioner_available": False}
        )
        await self._record("reactivated_waiting", {"practitioner_id": practitioner_id}, letters)
        await self._wake_allocator("returning_client")

    # ------------------------------------------------------------------ the waiting list

    @workflow.signal
    async def allocation_offered(self, offer: AllocationOffer) -> None:
        """From the allocator: a place is reserved with a practitioner for the next episode.

        Taken if the referral is still waiting and not held; otherwise the place is freed
        for the next person and the allocator is woken.
        """
        async with self._turn():
            if pathway.accepts_offer(self.s, offer.episode):
                reserved = await self._reserve(offer.practitioner_id)
                if reserved.reserved:
                    await self._start_episode(
                        offer.practitioner_id,
                        {"allocated_by": "allocator", "reason": offer.reason},
                    )
                    return
            if pathway.offer_is_for_begun_episode(self.s, offer.episode) and workflow.patched(
                "offer-own-episode"
            ):
                return
            await self._activity(
                RELEASE_CASELOAD,
                CaseloadRelease(
                    ref=self.s.ref,
                    episode=offer.episode,
                    at=workflow.now(),
                    practitioner_id=offer.practitioner_id,
                ),
            )
            await self._wake_allocator("offer_declined")

    @workflow.update
    async def hold(self, hold: Hold) -> ReferralView:
        """A coordinator holds a waiting referral back from automatic allocation, with a
        reason. The wait clock keeps running; the hold is on the timeline."""
        async with self._turn():
            self._check(pathway.check_hold)
            self._apply(pathway.hold, self.s, hold.reason.value)
            await self._record(
                "held", {"reason": hold.reason.value, "coordinator": hold.coordinator}, []
            )
            return self.view()

    @hold.validator
    def _validate_hold(self, hold: Hold) -> None:
        self._check(pathway.check_hold)

    @workflow.update
    async def release_hold(self, release: HoldRelease) -> ReferralView:
        """The referral may be allocated again, in its original place in the order."""
        async with self._turn():
            self._check(pathway.check_hold_release)
            self._apply(pathway.release_hold, self.s)
            await self._record("hold_released", {"coordinator": release.coordinator}, [])
            await self._wake_allocator("hold_released")
            return self.view()

    @release_hold.validator
    def _validate_release(self, release: HoldRelease) -> None:
        self._check(pathway.check_hold_release)

    @workflow.update
    async def remove_from_waiting_list(self, removal: Removal) -> ReferralView:
        """After validation a coordinator removes a silent client, with a reason that the
        referrer and the client are told. Never done by a timer."""
        async with self._turn():
            self._check(pathway.check_removal)
            letters = self._letters(
                Occasion.REMOVED_FROM_LIST, {"removal_reason": removal.reason.value}
            )
            await self._close(
                f"removed_{removal.reason.value}", letters, {"coordinator": removal.coordinator}
            )
            return self.view()

    @remove_from_waiting_list.validator
    def _validate_removal(self, removal: Removal) -> None:
        self._check(pathway.check_removal)

    async def _wake_allocator(self, reason: str, *, in_turn: bool = False) -> None:
        # Patched: referrals recorded before the allocator existed replay without the wake-up.
        if self.s.policy.auto_allocate and workflow.patched("wake-allocator"):
            wake = self._activity(WAKE_ALLOCATOR, WakeRequest(reason=reason), local=False)
            if self._quick() and not in_turn:
                # The read model is written already: the allocator may plan while the
                # caller has its answer.
                self._follow(wake)
            else:
                await wake

    # ------------------------------------------------------------------ closure

    @workflow.update
    async def close(self, closure: Closure) -> ReferralView:
        """A coordinator closes the referral (moved away, transferred, deceased, ...)."""
        async with self._turn():
            self._check(pathway.check_closure)
            letters = self._letters(
                Occasion.CLOSED,
                {"closed_reason": closure.reason.value},
                closure_reason=closure.reason,
            )
            await self._close(closure.reason.value, letters, {"coordinator": closure.coordinator})
            return self.view()

    @close.validator
    def _validate_close(self, closure: Closure) -> None:
        self._check(pathway.check_closure)

    @workflow.update
    async def confirm_withdrawal(self, confirmation: WithdrawalConfirmation) -> ReferralView:
        """A coordinator confirms a withdrawal the client asked for (e.g. by phone)."""
        async with self._turn():
            self._check(pathway.check_withdrawal_confirmation)
            await self._withdraw({"confirmed_by": confirmation.coordinator})
            return self.view()

    @confirm_withdrawal.validator
    def _validate_withdrawal(self, confirmation: WithdrawalConfirmation) -> None:
        self._check(pathway.check_withdrawal_confirmation)

    async def _withdraw(self, detail: Context) -> None:
        await self._close("withdrawn", self._letters(Occasion.WITHDRAWN), detail)

    async def _close(
        self, reason: str, letters: list[Notification], detail: Context | None = None
    ) -> None:
        episode = self._apply(pathway.close, self.s, reason, workflow.now())
        work = [self._record("closed", {"reason": reason, **(detail or {})}, letters)]
        if episode is not None:
            work.append(
                self._activity(
                    RELEASE_CASELOAD,
                    CaseloadRelease(ref=self.s.ref, episode=episode.number, at=workflow.now()),
                )
            )
        await asyncio.gather(*work)
        if episode is not None:
            await self._wake_allocator("capacity_freed")

    # ------------------------------------------------------------------ client messages

    @workflow.signal
    async def client_message(self, message: ClientMessage) -> None:
        """A message from the client's registered contact (already matched and stored).

        Only an unambiguous reading acts (``models.message_meaning``: return / stop / confirm
        / still waiting, where the stage allows it). Anything else waits for a person in the
        inbox and the client gets a holding reply with the crisis contacts. A possible crisis
        is never acted on here: the message's follow-up workflow alerts coordinators, replies
        with the crisis contacts and escalates until someone acknowledges it. A bare STOP by
        text stops texts at once. Nothing is dropped.
        """
        async with self._turn():
            if message.message_id in self.s.recent_message_ids:
                return  # a redelivered signal: already handled
            self.s.recent_message_ids = [*self.s.recent_message_ids, message.message_id][
                -RECENT_MESSAGES_KEPT:
            ]
            if message.reading is None:
                await self._legacy_client_message(message)
                return
            reading = message.reading
            reply_channel = message_meaning.reply_channel(message.channel)
            if message_meaning.stops_texts(reading, message.channel):
                self._apply(message_meaning.stop_texts, self.s)
            acted = False
            if message_meaning.is_read_for_action(reading):
                acted = await self._act_on(reading.intent, reply_channel)
            letters = [
                letter
                for occasion in message_meaning.answers(reading, acted)
                for letter in self._letters(occasion, reply_channel=reply_channel)
            ]
            await asyncio.gather(
                self._record(
                    "client_message",
                    {
                        "message_id": message.message_id,
                        "intent": reading.intent.value,
                        "crisis": reading.crisis,
                        "acted": acted,
                        "texts_stopped": reading.sms_opt_out or None,
                    },
                    letters,
                ),
                self._activity(
                    RECORD_MESSAGE_HANDLING,
                    MessageHandling(
                        message_id=message.message_id,
                        ref=self.s.ref,
                        intent=reading.intent,
                        crisis=reading.crisis,
                        to_inbox=reading.crisis or not acted,
                    ),
                ),
            )

    async def _legacy_client_message(self, message: ClientMessage) -> None:
        """Messages signalled before the service read them (no ``reading``): handled as they
        were then — by the reader of their day — so those histories replay unchanged."""
        crisis = legacy_suggests_crisis(message.text)
        intent = legacy_classify_intent(message.text)
        acted = await self._act_on(intent)
        handled = MessageHandling(
            message_id=message.message_id,
            ref=self.s.ref,
            intent=intent,
            crisis=crisis,
            to_inbox=crisis or not acted,
        )
        letters = self._letters(Occasion.CRISIS_MESSAGE_BEFORE_FOLLOW_UPS) if crisis else []
        await asyncio.gather(
            self._record(
                "client_message",
                {
                    "message_id": message.message_id,
                    "intent": intent.value,
                    "crisis": crisis,
                    "acted": acted,
                },
                letters,
            ),
            self._activity(RECORD_MESSAGE_HANDLING, handled),
        )

    async def _act_on(self, intent: Intent, reply_channel: ContactChannel | None = None) -> bool:
        """Apply a client's intent where it fits the stage; False sends it to the inbox."""
        now = workflow.now()
        self._apply(message_meaning.hear_from_client, self.s, now)
        meaning = message_meaning.meaning(
            self.s,
            intent,
            now,
            # Patched: earlier referrals took a CONFIRM however late it came.
            confirmations_expire=lambda: workflow.patched("withdrawal-confirmation-expires"),
        )
        if meaning is Meaning.RETURN:
            await self._reactivate()
        elif meaning is Meaning.WITHDRAWAL_REQUEST:
            self._apply(pathway.request_withdrawal, self.s, now)
            letters = self._letters(
                Occasion.WITHDRAWAL_REQUESTED,
                {"texts_stopped": self.s.sms_opted_out},
                reply_channel=reply_channel,
            )
            await self._record("withdrawal_requested", {}, letters)
        elif meaning is Meaning.WITHDRAWAL_CONFIRMED:
            await self._withdraw({"confirmed_by": "client"})
        elif meaning is Meaning.CHECKIN_ANSWER:
            cleared = self._apply(contact_schedule.answer_checkin, self.s)
            await self._record("checkin_answered", {"validation_cleared": cleared}, [])
        return meaning is not Meaning.FOR_A_PERSON

    # ------------------------------------------------------------------ the query

    @workflow.query
    def state(self) -> ReferralView:
        """The referral as staff see it: stage, episode, practitioner, sessions, deadlines,
        timeline. No client name, contact or free text."""
        return self.view()

    @workflow.query
    def open_question(self) -> str | None:
        """The question a coordinator asked the referrer at triage, while it waits for the
        answer: free text, asked for the referrer's own view of their referral only."""
        return self.s.open_question if self.s.stage == Stage.INFO_REQUESTED else None

    @workflow.query
    def person(self) -> ReferralSubmission:
        """Who the referral is for and why: the client's name, contacts and preferences, the
        referrer and the reason. Personal data (encrypted in transit by the payload codec): for
        ``services.person_display`` only, which audits every look before it asks."""
        return self.s.submission

    @workflow.query
    def signposting(self) -> str | None:
        """The services a coordinator suggested with a decline: free text, asked for the
        referrer's own view of the decision only."""
        return self.s.signposting if self.s.closed_reason == "declined" else None

    def view(self) -> ReferralView:
        episode = self.s.episode
        waiting = self.s.stage == Stage.WAITING
        return ReferralView(
            ref=self.s.ref,
            stage=self.s.stage,
            urgency=self.s.submission.urgency,
            referrer_organisation=self.s.submission.referrer.organisation,
            episode_number=self.s.episode_number,
            practitioner_id=self.s.practitioner_id,
            sessions_done=episode.attended if episode else 0,
            sessions_planned=episode.planned_sessions if episode else 0,
            booked_sessions=list(episode.booked) if episode else [],
            returning=self.s.returning,
            held_reason=self.s.held_reason,
            position=self.s.position if waiting else None,
            waiting_total=self.s.waiting_total if waiting else None,
            estimate_weeks_low=self.s.estimate_weeks_low if waiting else None,
            estimate_weeks_high=self.s.estimate_weeks_high if waiting else None,
            waiting_since=self.s.waiting_since if waiting else None,
            received_at=self.s.received_at,
            in_validation_queue=self.s.in_validation_queue,
            breach=self.s.breach_flagged,
            withdrawal_pending=self.s.withdrawal_requested_at is not None,
            closed_reason=self.s.closed_reason,
            next_deadline=contact_schedule.next_deadline(self.s),
            timeline=list(self.s.timeline),
            texts_stopped=self.s.sms_opted_out,
            reqol_due=client_links.reqol_due_before_session(self.s.episode),
        )

    # ------------------------------------------------------------------ plumbing

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """One action at a time, and none before the referral is recorded and acknowledged."""
        await workflow.wait_condition(lambda: self.s.acknowledged)
        async with self._lock:
            yield

    def _check(self, rule: Callable[..., None], *args: object) -> None:
        """Apply a pathway rule; a broken rule rejects the action with its reason."""
        try:
            rule(self.s, *args)
        except ActionNotAllowed as rejected:
            raise ApplicationError(
                str(rejected), type="ActionRejected", non_retryable=True
            ) from None

    def _apply(self, change: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Apply a rule's change to the state; a stage it moves to is published (the
        ``ReferralStage`` search attribute) at once, before anything is recorded."""
        before = self.s.stage
        result = change(*args, **kwargs)
        if self.s.stage != before:
            workflow.upsert_search_attributes([REFERRAL_STAGE.value_set(self.s.stage.value)])
            workflow.logger.info("stage", extra={"ref": self.s.ref, "stage": self.s.stage.value})
        return result

    def _current_episode(self) -> Episode:
        assert self.s.episode is not None
        return self.s.episode

    async def _position(self) -> Context:
        request = WaitingPositionRequest(ref=self.s.ref, at=workflow.now())
        if self._quick():
            position = await workflow.execute_local_activity(
                WAITING_POSITION,
                request,
                result_type=WaitingPosition,
                start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
        else:
            position = await workflow.execute_activity(
                WAITING_POSITION,
                request,
                result_type=WaitingPosition,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
        # Kept in state so staff see the same honest figures the client was sent.
        self.s.position = position.position
        self.s.waiting_total = position.waiting_total
        self.s.estimate_weeks_low = position.estimate_weeks_low
        self.s.estimate_weeks_high = position.estimate_weeks_high
        return position.model_dump()

    def _snapshot(self, decline_reason: str | None = None) -> ReferralSnapshot:
        return ReferralSnapshot(
            ref=self.s.ref,
            stage=self.s.stage,
            urgency=self.s.submission.urgency,
            referrer_organisation=self.s.submission.referrer.organisation,
            received_at=self.s.received_at,
            accepted_at=self.s.accepted_at,
            waiting_since=self.s.waiting_since if self.s.stage == Stage.WAITING else None,
            first_session_at=self.s.first_session_at,
            discharged_at=self.s.discharged_at,
            closed_reason=self.s.closed_reason,
            practitioner_id=self.s.practitioner_id,
            episode_number=self.s.episode_number,
            breach=self.s.breach_flagged,
            in_validation_queue=self.s.in_validation_queue,
            withdrawal_pending=self.s.withdrawal_requested_at is not None,
            decline_reason=decline_reason,
            returning_to=self.s.practitioner_id if self.s.returning else None,
            held=self.s.held_reason is not None,
            hold_reason=self.s.held_reason,
        )

    async def _record(
        self,
        kind: str,
        detail: Context,
        letters: list[Notification],
        *,
        register_contacts: list[str] | None = None,
        register_person: SearchablePerson | None = None,
        decline_reason: str | None = None,
        letters_in_turn: bool = False,
    ) -> None:
        """Append a timeline event, update the read model and send the event's letters
        (after the turn, unless ``letters_in_turn``)."""
        self.s.seq += 1
        event = TimelineEvent(
            seq=self.s.seq, at=workflow.now(), kind=kind, stage=self.s.stage, detail=detail
        )
        self.s.timeline.append(event)
        del self.s.timeline[: -self.s.policy.timeline_kept_in_workflow]
        self._version += 1
        record = TransitionRecord(
            snapshot=self._snapshot(decline_reason),
            event=event,
            register_contacts=register_contacts or [],
            contacts_discreet=bool(register_contacts)
            and correspondence.discreet(self.s.submission.client),
            register_person=register_person,
        )
        if self._quick():
            # The read model has the decision before the caller's answer (a page after the
            # redirect shows it); the letters follow outside the lock.
            await self._activity(RECORD_TRANSITION, record)
            if letters_in_turn:
                await self._send(letters, event.seq)
            else:
                await self._send_after(letters, event.seq)
            return
        await asyncio.gather(
            self._activity(RECORD_TRANSITION, record), self._send(letters, event.seq)
        )

    def _letters(
        self,
        occasion: Occasion,
        details: Context | None = None,
        *,
        reply_channel: ContactChannel | None = None,
        closure_reason: ClosureReason | None = None,
    ) -> list[Notification]:
        """The letters and alerts of ``occasion`` (who: ``models.correspondence``)."""
        return correspondence.notifications(
            occasion,
            self.s,
            details,
            reply_channel=reply_channel,
            closure_reason=closure_reason,
        )

    async def _send_after(self, letters: list[Notification], seq: int) -> None:
        """Send the letters of event ``seq``: without waiting for them (QUICK_ACTIONS), or,
        in histories from before, as part of the turn."""
        if not letters:
            return
        if self._quick():
            self._follow(self._send(letters, seq))
        else:
            await self._send(letters, seq)

    def _follow(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the current turn, outside the lock: a text held back by the
        hourly limit per number must not hold up a coordinator's next action."""
        task = asyncio.create_task(work)
        self._following.add(task)
        task.add_done_callback(self._following.discard)

    def _quick(self) -> bool:
        return workflow.patched(QUICK_ACTIONS)

    async def _send(self, letters: list[Notification], seq: int) -> None:
        if not letters:
            return
        for letter in letters:
            # The idempotency key is fixed by the workflow: same event, same letter, same key.
            letter.key = f"{self.s.ref}:{seq}:{letter.kind.value}:{letter.recipient.value}"
        try:
            await workflow.execute_activity(
                SEND_NOTIFICATIONS,
                letters,
                result_type=list[SendResult],
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
        except ActivityError:
            # Only a letter that can never go (no address) fails for good; the outbox row says
            # so for a person to follow up. The pathway itself must go on.
            workflow.logger.warning("letter undeliverable", extra={"ref": self.s.ref, "seq": seq})

    async def _activity(self, name: str, arg: BaseModel, *, local: bool = True) -> None:
        """A read-model write: a local activity (QUICK_ACTIONS), in the worker that runs the
        workflow task, or, in histories from before, an activity."""
        if local and self._quick():
            await workflow.execute_local_activity(
                name,
                arg,
                start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            return
        await workflow.execute_activity(
            name, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY
        )
