"""ReferralWorkflow: one referral's whole life, from the referrer's first contact to open re-entry.

Reads like the lifecycle in DESIGN.md:

    received -> triage -> (declined | info requested -> triage | accepted -> waiting)
    waiting -> (withdrawn | allocated) -> in episode -> discharged -> (reactivated -> ...)

Staff actions are updates with validators (a wrong action is rejected before anything is
written); client messages are a signal; ``state`` is a query. Timers come from the rules in
``models.pathway``. Discharge continues-as-new into open re-entry, carrying only what is needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from models import pathway
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
        ReqolWhen,
        SessionBooking,
        SessionRecord,
        TriageDecision,
        TriageOutcome,
        WithdrawalConfirmation,
    )
    from models.correspondence import client_routes, discreet
    from models.legacy_reading import legacy_classify_intent, legacy_suggests_crisis
    from models.messages import Channel, ClientMessage, Intent
    from models.notifications import (
        SEND_NOTIFICATIONS,
        AlertKind,
        ContactChannel,
        LetterKind,
        Notification,
        Recipient,
        SendResult,
    )
    from models.pathway import ActionRejected, TimerKind
    from models.policy import ServicePolicy
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
        OutcomeRecord,
        ReferralSnapshot,
        SessionWrite,
        TransitionRecord,
        WaitingPosition,
        WaitingPositionRequest,
        WakeRequest,
    )
    from models.referral import (
        BookedSession,
        Episode,
        RecordedSession,
        ReferralState,
        ReferralSubmission,
        ReferralView,
        ReqolRecord,
        SessionOutcome,
        Stage,
        TimelineEvent,
    )
    from models.reqol import ReqolResponses, change, score
    from models.search_attributes import REFERRAL_STAGE

ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Side effects must eventually happen (nothing is lost), so retries are unlimited, backing off.
ACTIVITY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
RECENT_MESSAGES_KEPT = 50


class ReferralInput(BaseModel):
    """Start a referral (``submission``) or carry one on after continue-as-new (``carried``)."""

    ref: str
    submission: ReferralSubmission | None = None
    policy: ServicePolicy | None = None
    carried: ReferralState | None = None


class ReferralResult(BaseModel):
    ref: str
    stage: Stage
    closed_reason: str | None
    episodes: int


def _reply_channel(channel: Channel) -> ContactChannel | None:
    """The channel a reply goes back on (a demo message from the CLI has none)."""
    return {Channel.SMS: ContactChannel.SMS, Channel.EMAIL: ContactChannel.EMAIL}.get(channel)


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
        await workflow.wait_condition(workflow.all_handlers_finished)
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
            letters = [
                self._letter(LetterKind.ACKNOWLEDGEMENT, Recipient.REFERRER),
                self._letter(LetterKind.ACKNOWLEDGEMENT, Recipient.CLIENT),
            ]
            contacts = [c for c in (client.email, client.phone) if c]
            workflow.upsert_search_attributes([REFERRAL_STAGE.value_set(Stage.TRIAGE.value)])
            await self._record(
                "received",
                {"urgency": self.s.submission.urgency.value},
                letters,
                register_contacts=contacts,
            )
            self.s.acknowledged = True

    async def _wait_for_change_or_timer(self) -> None:
        """Sleep until something changes or the next timer of the pathway is due."""
        seen = self._version
        changed = lambda: self._version != seen or self._continue_after_discharge  # noqa: E731
        due = pathway.next_deadline(self.s)
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
        while (due := pathway.next_deadline(self.s)) is not None and due.at <= workflow.now():
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
            await self._close("reentry_window_ended", letters=[])

    async def _continue_as_new(self) -> None:
        """Start a fresh run carrying only what the referral needs, keeping history bounded."""
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self._lock.locked()
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
            detail = {"outcome": decision.outcome.value, "coordinator": decision.coordinator}
            if decision.outcome == TriageOutcome.ACCEPT:
                await self._accept(detail)
            elif decision.outcome == TriageOutcome.DECLINE:
                assert decision.decline_reason is not None
                self.s.closed_reason = "declined"
                detail["decline_reason"] = decision.decline_reason.value
                context = {
                    "decline_reason": decision.decline_reason.value,
                    "signposting": decision.signposting,
                }
                letters = [
                    self._letter(LetterKind.DECLINED, Recipient.REFERRER, context),
                    self._letter(LetterKind.DECLINED, Recipient.CLIENT),
                ]
                self._enter(Stage.CLOSED)
                await self._record(
                    "declined", detail, letters, decline_reason=decision.decline_reason.value
                )
            else:
                self.s.open_question = decision.question
                self._enter(Stage.INFO_REQUESTED)
                letter = self._letter(
                    LetterKind.INFORMATION_REQUEST, Recipient.REFERRER, {"question_asked": True}
                )
                await self._record("information_requested", detail, [letter])
            return self.view()

    @triage.validator
    def _validate_triage(self, decision: TriageDecision) -> None:
        self._check(pathway.check_triage, decision)

    @workflow.update
    async def answer_information(self, answer: InformationAnswer) -> ReferralView:
        """The referrer answers a coordinator's question; the referral returns to triage."""
        async with self._turn():
            self._check(pathway.check_information_answer)
            self.s.open_question = None
            self._enter(Stage.TRIAGE)
            alert = self._alert(Recipient.COORDINATORS, AlertKind.INFORMATION_RECEIVED)
            await self._record("information_received", {}, [alert])
            return self.view()

    @answer_information.validator
    def _validate_answer(self, answer: InformationAnswer) -> None:
        self._check(pathway.check_information_answer)

    async def _remind_triage(self) -> None:
        """Past the triage deadline coordinators are reminded, and again at intervals."""
        self.s.triage_reminders_sent += 1
        alert = self._alert(Recipient.COORDINATORS, AlertKind.TRIAGE_OVERDUE)
        await self._record("triage_reminder", {"reminder": self.s.triage_reminders_sent}, [alert])

    # ------------------------------------------------------------------ waiting

    async def _accept(self, detail: dict[str, str | int | bool | None]) -> None:
        now = workflow.now()
        self.s.accepted_at = now
        self._join_waiting_list(now)
        await self._record("accepted", detail, [])
        position = await self._position()
        letters = [
            self._letter(LetterKind.ACCEPTED, Recipient.REFERRER, position),
            self._letter(LetterKind.WAITING_LIST, Recipient.CLIENT, position),
        ]
        await self._send(letters, self.s.seq)
        await self._wake_allocator("joined_list")

    def _join_waiting_list(self, now: datetime) -> None:
        self.s.waiting_since = now
        self.s.last_checkin_at = None
        self.s.checkin_awaiting_answer = False
        self.s.unanswered_checkins = 0
        self.s.held_reason = None
        self._enter(Stage.WAITING)

    async def _check_in(self) -> None:
        """Waiting well: a check-in each interval; repeated silence -> validation queue."""
        if self.s.checkin_awaiting_answer:
            self.s.unanswered_checkins += 1
        reachable = bool(
            client_routes(LetterKind.CHECKIN, self.s.submission.client, **self._contact_state())
        )
        self.s.checkins_sent += 1
        self.s.last_checkin_at = workflow.now()
        # Silence counts only after a check-in that went: a client we may not (or can no
        # longer) write to is not silent. Patched: earlier referrals counted every one.
        self.s.checkin_awaiting_answer = reachable or not workflow.patched("checkin-when-sent")
        letters: list[Notification] = []
        if pathway.needs_validation(self.s) and not self.s.in_validation_queue:
            self.s.in_validation_queue = True
            letters.append(self._alert(Recipient.COORDINATORS, AlertKind.VALIDATION_NEEDED))
        detail = {
            "checkin": self.s.checkins_sent,
            "unanswered": self.s.unanswered_checkins,
            "validation_queue": self.s.in_validation_queue,
        }
        await self._record("checkin", detail, letters)
        if reachable:
            position = await self._position()
            context = {
                **position,
                "checkin_number": self.s.checkins_sent,
                "weeks_waited": self._weeks_waited(),
            }
            await self._send(
                [self._letter(LetterKind.CHECKIN, Recipient.CLIENT, context)], self.s.seq
            )

    async def _flag_breach(self) -> None:
        """The waiting standard is breached: flagged on the referral, coordinators told once."""
        self.s.breach_flagged = True
        alert = self._alert(
            Recipient.COORDINATORS, AlertKind.WAIT_BREACH, {"weeks_waited": self._weeks_waited()}
        )
        await self._record("wait_breach", {"weeks_waited": self._weeks_waited()}, [alert])

    @workflow.update
    async def keep_on_waiting_list(self, coordinator: str) -> ReferralView:
        """A coordinator validates a silent client: they stay on the list, counters reset."""
        async with self._turn():
            self._check(pathway.check_keep_on_list)
            self.s.in_validation_queue = False
            self.s.unanswered_checkins = 0
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
            episode=self.s.episode_number + 1,
            at=workflow.now(),
        )
        return await workflow.execute_activity(
            RESERVE_CASELOAD,
            request,
            result_type=CaseloadResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )

    async def _start_episode(
        self, practitioner_id: str, detail: dict[str, str | int | bool | None]
    ) -> None:
        now = workflow.now()
        returning = self.s.returning
        self.s.episode_number += 1
        self.s.practitioner_id = practitioner_id
        if practitioner_id not in self.s.practitioner_history:
            self.s.practitioner_history.append(practitioner_id)
        self.s.episode = Episode(
            number=self.s.episode_number,
            practitioner_id=practitioner_id,
            allocated_at=now,
            planned_sessions=self.s.policy.planned_sessions,
            returning=returning,
            last_contact_at=now,
        )
        self.s.returning = False
        self.s.in_validation_queue = False
        self._enter(Stage.ALLOCATED)
        kind = LetterKind.REENTRY_CONFIRMATION if returning else LetterKind.ALLOCATION
        letters = [
            self._letter(kind, Recipient.CLIENT, {"reentry_practitioner_available": True}),
            self._alert(
                Recipient.PRACTITIONER,
                AlertKind.RETURNING_CLIENT if returning else AlertKind.NEW_ALLOCATION,
            ),
        ]
        if not returning:
            letters.append(self._letter(LetterKind.ALLOCATION, Recipient.REFERRER))
        await self._record(
            "allocated",
            {
                **detail,
                "practitioner_id": practitioner_id,
                "episode": self.s.episode_number,
                "returning": returning,
            },
            letters,
        )

    # ------------------------------------------------------------------ the episode

    @workflow.update
    async def book_session(self, booking: SessionBooking) -> ReferralView:
        """The practitioner books a session; the client is reminded before it."""
        async with self._turn():
            self._check(pathway.check_booking, booking, workflow.now())
            episode = self._current_episode()
            session_id = f"e{episode.number}s{len(episode.sessions) + len(episode.booked) + 1}"
            episode.booked.append(
                BookedSession(session_id=session_id, at=booking.at, location=booking.location)
            )
            episode.booked.sort(key=lambda b: b.at)
            await self._record("session_booked", {"session_id": session_id}, [])
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
            episode = self._current_episode()
            booked = next((b for b in episode.booked if b.session_id == record.session_id), None)
            if booked is not None:
                episode.booked.remove(booked)
            session = RecordedSession(
                session_id=record.session_id or f"e{episode.number}w{len(episode.sessions) + 1}",
                at=record.at or (booked.at if booked else now),
                outcome=record.outcome,
                location=booked.location
                if booked and record.location == "not recorded"
                else record.location,
                liaison=record.liaison,
            )
            episode.sessions.append(session)
            letters: list[Notification] = []
            if record.outcome == SessionOutcome.ATTENDED:
                episode.consecutive_dna = 0
                episode.last_contact_at = max(episode.last_contact_at, session.at)
                if episode.first_session_at is None:
                    episode.first_session_at = session.at
                    if self.s.first_session_at is None:
                        self.s.first_session_at = session.at
                    self._enter(Stage.IN_EPISODE)
            elif record.outcome == SessionOutcome.DID_NOT_ATTEND:
                episode.consecutive_dna += 1
                if pathway.repeated_non_attendance(episode, self.s.policy.dna_nudge_after):
                    letters.append(
                        self._alert(Recipient.PRACTITIONER, AlertKind.REPEATED_NON_ATTENDANCE)
                    )
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
        episode = self._current_episode()
        now = workflow.now()
        for booked in episode.booked:
            if not booked.reminded and booked.at - self.s.policy.session_reminder_before <= now:
                booked.reminded = True
                context = {"session_at": booked.at.isoformat(), "session_location": booked.location}
                letters = []
                if booked.at > now:
                    letters.append(
                        self._letter(LetterKind.SESSION_REMINDER, Recipient.CLIENT, context)
                    )
                await self._record("session_reminder", {"session_id": booked.session_id}, letters)

    async def _nudge_silence(self) -> None:
        """Long silence: the practitioner is nudged. The workflow never discharges anyone."""
        episode = self._current_episode()
        episode.silence_nudged_at = workflow.now()
        alert = self._alert(Recipient.PRACTITIONER, AlertKind.SILENCE)
        await self._record("silence_nudge", {}, [alert])

    @workflow.update
    async def record_reqol(self, submission: ReqolSubmission) -> ReferralView:
        """ReQoL-10 at baseline or end of an episode, or skipped with a reason."""
        async with self._turn():
            self._check(pathway.check_reqol, submission)
            episode = self._current_episode()
            now = workflow.now()
            letters: list[Notification] = []
            detail: dict[str, str | int | bool | None] = {"when": submission.when.value}
            if submission.responses is not None:
                result = score(
                    ReqolResponses(
                        responses=submission.responses, physical_health=submission.physical_health
                    ),
                    cutoff=self.s.policy.reqol_clinical_cutoff,
                )
                measure = ReqolRecord(total=result.total, recorded_at=now)
                detail["total"] = result.total
                if result.alert:
                    # The item that asks about risk, at its two worst levels: urgent.
                    letters.append(self._alert(Recipient.PRACTITIONER, AlertKind.MEASURE_URGENT))
            else:
                measure = ReqolRecord(skipped_reason=submission.skipped_reason, recorded_at=now)
                detail["skipped"] = True
            if submission.when == ReqolWhen.BASELINE:
                episode.baseline = measure
            else:
                episode.end = measure
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
            episode = self._current_episode()
            previous = episode.planned_sessions
            episode.planned_sessions = extension.planned_sessions
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
            episode = self._current_episode()
            now = workflow.now()
            outcome = self._outcome(episode, discharge, now)
            self.s.discharged_at = now
            self.s.episode = None
            self._enter(Stage.DISCHARGED)
            # Open re-entry starts in a fresh run once this update has finished.
            self._continue_after_discharge = True
            letters = [
                self._letter(LetterKind.DISCHARGE, Recipient.REFERRER),
                self._letter(LetterKind.DISCHARGE, Recipient.CLIENT),
            ]
            await asyncio.gather(
                self._record(
                    "discharged",
                    {
                        "reason": discharge.reason.value,
                        "episode": episode.number,
                        "sessions_attended": episode.attended,
                    },
                    letters,
                ),
                self._activity(
                    RELEASE_CASELOAD,
                    CaseloadRelease(ref=self.s.ref, episode=episode.number, at=now),
                ),
                self._activity(RECORD_OUTCOME, outcome),
            )
            await self._wake_allocator("capacity_freed")
            return self.view()

    @discharge.validator
    def _validate_discharge(self, discharge: Discharge) -> None:
        self._check(pathway.check_discharge, discharge)

    def _outcome(self, episode: Episode, discharge: Discharge, now: datetime) -> OutcomeRecord:
        record = OutcomeRecord(
            ref=self.s.ref,
            episode=episode.number,
            discharged_at=now,
            discharge_reason=discharge.reason,
            sessions_attended=episode.attended,
            baseline_total=episode.baseline.total if episode.baseline else None,
            end_total=episode.end.total if episode.end else None,
            baseline_skipped_reason=episode.baseline.skipped_reason if episode.baseline else None,
            end_skipped_reason=episode.end.skipped_reason if episode.end else None,
            liaison=sorted({k for s in episode.sessions for k in s.liaison}),
        )
        if record.baseline_total is not None and record.end_total is not None:
            moved = change(
                record.baseline_total,
                record.end_total,
                cutoff=self.s.policy.reqol_clinical_cutoff,
                reliable=self.s.policy.reqol_reliable_change,
            )
            record.change = moved.change.value
            record.recovered = moved.recovered
            record.reliably_recovered = moved.reliably_recovered
        return record

    # ------------------------------------------------------------------ re-entry

    async def _reactivate(self) -> None:
        """The client asked to come back: their own practitioner if there is room,
        otherwise the front of that practitioner's queue. No re-referral, no triage."""
        practitioner_id = self.s.practitioner_id
        assert practitioner_id is not None
        self.s.returning = True
        reserved = await self._reserve(practitioner_id)
        if reserved.reserved:
            await self._start_episode(practitioner_id, {"reactivated": True})
            return
        self._join_waiting_list(workflow.now())
        letters = [
            self._letter(
                LetterKind.REENTRY_CONFIRMATION,
                Recipient.CLIENT,
                {"reentry_practitioner_available": False},
            ),
            self._alert(Recipient.COORDINATORS, AlertKind.RETURNING_CLIENT),
        ]
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
            self.s.held_reason = hold.reason.value
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
            self.s.held_reason = None
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
            context: dict[str, str | int | bool | None] = {"removal_reason": removal.reason.value}
            letters = [
                self._letter(LetterKind.REMOVED_FROM_LIST, Recipient.REFERRER, context),
                self._letter(LetterKind.REMOVED_FROM_LIST, Recipient.CLIENT, context),
            ]
            await self._close(
                f"removed_{removal.reason.value}", letters, {"coordinator": removal.coordinator}
            )
            return self.view()

    @remove_from_waiting_list.validator
    def _validate_removal(self, removal: Removal) -> None:
        self._check(pathway.check_removal)

    async def _wake_allocator(self, reason: str) -> None:
        # Patched: referrals recorded before the allocator existed replay without the wake-up.
        if self.s.policy.auto_allocate and workflow.patched("wake-allocator"):
            await self._activity(WAKE_ALLOCATOR, WakeRequest(reason=reason))

    # ------------------------------------------------------------------ closure

    @workflow.update
    async def close(self, closure: Closure) -> ReferralView:
        """A coordinator closes the referral (moved away, transferred, deceased, ...)."""
        async with self._turn():
            self._check(pathway.check_closure)
            letters = [
                self._letter(
                    LetterKind.CLOSED, Recipient.REFERRER, {"closed_reason": closure.reason.value}
                )
            ]
            # Never write to a client about their own death or a duplicate record.
            if closure.reason not in (
                ClosureReason.DECEASED,
                ClosureReason.DUPLICATE,
            ):
                letters.append(
                    self._letter(
                        LetterKind.CLOSED, Recipient.CLIENT, {"closed_reason": closure.reason.value}
                    )
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

    async def _withdraw(self, detail: dict[str, str | int | bool | None]) -> None:
        letters = [
            self._letter(LetterKind.WITHDRAWN, Recipient.REFERRER),
            self._letter(LetterKind.WITHDRAWN, Recipient.CLIENT),
        ]
        await self._close("withdrawn", letters, detail)

    async def _close(
        self,
        reason: str,
        letters: list[Notification],
        detail: dict[str, str | int | bool | None] | None = None,
    ) -> None:
        episode = self.s.episode
        self.s.closed_reason = reason
        self.s.withdrawal_requested_at = None
        self._enter(Stage.CLOSED)
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

        Only an unambiguous reading acts (return / stop / confirm / still waiting, where the
        stage allows it). Anything else waits for a person in the inbox and the client gets a
        holding reply with the crisis contacts. A possible crisis is never acted on here: the
        message's follow-up workflow alerts coordinators, replies with the crisis contacts and
        escalates until someone acknowledges it. A bare STOP by text stops texts at once.
        Nothing is dropped.
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
            reply_channel = _reply_channel(message.channel)
            if reading.sms_opt_out and message.channel == Channel.SMS:
                self.s.sms_opted_out = True
            acted = False
            if not reading.crisis:
                acted = await self._act_on(reading.intent, reply_channel)
            letters: list[Notification] = []
            if not acted and not reading.crisis and not reading.sms_opt_out:
                letters.append(
                    self._letter(LetterKind.HOLDING_REPLY, Recipient.CLIENT, reply=reply_channel)
                )
            if reading.sms_opt_out:
                letters.append(self._alert(Recipient.COORDINATORS, AlertKind.TEXTS_STOPPED))
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
        letters: list[Notification] = []
        if crisis:
            letters += [
                self._alert(Recipient.COORDINATORS, AlertKind.CRISIS_MESSAGE),
                self._letter(LetterKind.CRISIS_REPLY, Recipient.CLIENT),
            ]
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
        stage = self.s.stage
        if self.s.episode is not None:
            self.s.episode.last_contact_at = workflow.now()
        if intent == Intent.RETURN and stage == Stage.DISCHARGED:
            await self._reactivate()
            return True
        if intent == Intent.STOP and stage in pathway.WITHDRAWABLE_STAGES:
            self.s.withdrawal_requested_at = workflow.now()
            letters = [
                self._letter(
                    LetterKind.WITHDRAWAL_CONFIRMATION_REQUEST,
                    Recipient.CLIENT,
                    {"texts_stopped": self.s.sms_opted_out},
                    reply=reply_channel,
                ),
                # Someone should know: they may want to call before anything changes.
                self._alert(Recipient.COORDINATORS, AlertKind.WITHDRAWAL_REQUESTED),
            ]
            await self._record("withdrawal_requested", {}, letters)
            return True
        if intent == Intent.CONFIRM and self.s.withdrawal_requested_at is not None:
            if stage in pathway.WITHDRAWABLE_STAGES:
                if not self._confirmation_in_time():
                    return False  # long after the question: a person asks again
                await self._withdraw({"confirmed_by": "client"})
                return True
        if intent in (Intent.STILL_WAITING, Intent.CONFIRM) and stage == Stage.WAITING:
            self.s.checkin_awaiting_answer = False
            self.s.unanswered_checkins = 0
            cleared = self.s.in_validation_queue
            self.s.in_validation_queue = False
            await self._record("checkin_answered", {"validation_cleared": cleared}, [])
            return True
        return False

    def _confirmation_in_time(self) -> bool:
        """A CONFIRM counts only soon after the question it answers (a "confirmed" months later
        is about something else). Patched: earlier referrals had no such limit."""
        if not workflow.patched("withdrawal-confirmation-expires"):
            return True
        assert self.s.withdrawal_requested_at is not None
        return pathway.withdrawal_confirmation_in_time(self.s, workflow.now())

    # ------------------------------------------------------------------ the query

    @workflow.query
    def state(self) -> ReferralView:
        """The referral as staff see it: stage, episode, practitioner, sessions, deadlines,
        timeline. No client name, contact or free text."""
        return self.view()

    def view(self) -> ReferralView:
        episode = self.s.episode
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
            position=self.s.position if self.s.stage == Stage.WAITING else None,
            waiting_total=self.s.waiting_total if self.s.stage == Stage.WAITING else None,
            estimate_weeks_low=self.s.estimate_weeks_low if self.s.stage == Stage.WAITING else None,
            estimate_weeks_high=self.s.estimate_weeks_high
            if self.s.stage == Stage.WAITING
            else None,
            waiting_since=self.s.waiting_since if self.s.stage == Stage.WAITING else None,
            received_at=self.s.received_at,
            in_validation_queue=self.s.in_validation_queue,
            breach=self.s.breach_flagged,
            withdrawal_pending=self.s.withdrawal_requested_at is not None,
            closed_reason=self.s.closed_reason,
            next_deadline=pathway.next_deadline(self.s),
            timeline=list(self.s.timeline),
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
        except ActionRejected as rejected:
            raise ApplicationError(
                str(rejected), type="ActionRejected", non_retryable=True
            ) from None

    def _current_episode(self) -> Episode:
        assert self.s.episode is not None
        return self.s.episode

    def _enter(self, stage: Stage) -> None:
        if stage != self.s.stage:
            self.s.stage = stage
            self.s.stage_since = workflow.now()
            if stage in pathway.TRIAGE_STAGES:
                self.s.triage_reminders_sent = 0
            workflow.upsert_search_attributes([REFERRAL_STAGE.value_set(stage.value)])
            workflow.logger.info("stage", extra={"ref": self.s.ref, "stage": stage.value})

    def _weeks_waited(self) -> int:
        return (workflow.now() - self.s.received_at).days // 7

    async def _position(self) -> dict[str, str | int | bool | None]:
        position = await workflow.execute_activity(
            WAITING_POSITION,
            WaitingPositionRequest(ref=self.s.ref, at=workflow.now()),
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
        detail: dict[str, str | int | bool | None],
        letters: list[Notification],
        *,
        register_contacts: list[str] | None = None,
        decline_reason: str | None = None,
    ) -> None:
        """Append a timeline event, update the read model and send the event's letters."""
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
            contacts_discreet=bool(register_contacts) and discreet(self.s.submission.client),
        )
        await asyncio.gather(
            self._activity(RECORD_TRANSITION, record), self._send(letters, event.seq)
        )

    async def _send(self, letters: list[Notification], seq: int) -> None:
        # A client letter with no route is one the client is not written to (their choice).
        letters = [n for n in letters if n.recipient != Recipient.CLIENT or n.routes]
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

    async def _activity(self, name: str, arg: BaseModel) -> None:
        await workflow.execute_activity(
            name, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY
        )

    def _contact_state(self) -> dict[str, bool]:
        return {"sms_opted_out": self.s.sms_opted_out}

    def _letter(
        self,
        kind: LetterKind,
        to: Recipient,
        context: dict[str, str | int | bool | None] | None = None,
        *,
        reply: ContactChannel | None = None,
    ) -> Notification:
        """A letter to the client or the referrer. A client's routes come from the one rule
        (``models.correspondence``); none means the client is not written to."""
        client = self.s.submission.client
        referrer = self.s.submission.referrer
        base: dict[str, str | int | bool | None] = {
            "ref": self.s.ref,
            "client_first_name": client.name.split()[0],
            "referrer_name": referrer.name,
            "episode_number": self.s.episode_number,
            "recipient": to.value,
        }
        to_client = to == Recipient.CLIENT
        return Notification(
            key="pending",
            ref=self.s.ref,
            kind=kind,
            recipient=to,
            routes=client_routes(kind, client, **self._contact_state(), reply_channel=reply)
            if to_client
            else [],
            discreet=to_client and discreet(client),
            to_address=None if to_client else str(referrer.email),
            practitioner_id=self.s.practitioner_id,
            context={**base, **(context or {})},
        )

    def _alert(
        self,
        to: Recipient,
        alert: AlertKind,
        context: dict[str, str | int | bool | None] | None = None,
    ) -> Notification:
        kind = (
            LetterKind.PRACTITIONER_ALERT
            if to == Recipient.PRACTITIONER
            else LetterKind.COORDINATOR_ALERT
        )
        return Notification(
            key="pending",
            ref=self.s.ref,
            kind=kind,
            recipient=to,
            practitioner_id=self.s.practitioner_id,
            context={"ref": self.s.ref, "alert_kind": alert.value, **(context or {})},
        )
