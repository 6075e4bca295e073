"""MessageFollowUpWorkflow: a message that a person must read, followed up until one has.

Started by the inbound-message service (id ``message-<message id>``, opaque) for

- a message that suggests crisis or risk, from anyone, registered or not: coordinators are
  alerted at once and the sender gets the crisis contacts; an alert nobody acknowledges within
  the policy's time is sent again and escalated to the duty lead, and again at that interval,
  for as long as it takes — a durable timer, never forgotten;
- a message from an unknown sender (or for a closed referral): the sender gets the holding
  reply with the crisis contacts, and the message waits in the inbox.

A registered client's other messages are read by their referral's workflow, which sends the
holding reply itself when it does not act.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.correspondence import Alert, Occasion, addressees, alert_letter_kind
    from models.follow_up import (
        RECORD_CRISIS_ACKNOWLEDGEMENT,
        CrisisAcknowledgement,
        FollowUpInput,
        FollowUpView,
    )
    from models.notifications import (
        SEND_NOTIFICATIONS,
        AlertKind,
        Notification,
        Recipient,
        SendResult,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Nothing is lost: retries are unlimited, backing off.
ACTIVITY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))


def follow_up_id(message_id: str) -> str:
    """Workflow ids carry the message's opaque id only."""
    return f"message-{message_id}"


@workflow.defn
class MessageFollowUpWorkflow:
    """Reply to the sender; for a possible crisis, alert and escalate until acknowledged."""

    @workflow.init
    def __init__(self, input: FollowUpInput) -> None:
        self._input = input
        self._acknowledged_by: str | None = input.acknowledged_by
        self._acknowledged_at: datetime | None = input.acknowledged_at
        self._escalations = input.escalations
        self._sending: list[workflow.ActivityHandle[list[SendResult]]] = []

    @workflow.run
    async def run(self, input: FollowUpInput) -> FollowUpView:
        """Reply and alert at once; then, for a crisis, wait for an acknowledgement.

        The reply and each alert are separate activities, started without waiting for one
        another: an SMTP outage never holds up the text with the crisis contacts, a Notify
        outage never holds up the coordinators' alert, and the escalation clock runs from the
        start whatever either is doing."""
        if not input.replied:
            for letter in self._first_letters():
                self._start_send([letter], "first")
            input.replied = True
        if input.crisis:
            while self._acknowledged_by is None:
                try:
                    await workflow.wait_condition(
                        lambda: self._acknowledged_by is not None,
                        timeout=input.policy.crisis_acknowledge_within,
                    )
                except TimeoutError:
                    self._escalate()
                if workflow.info().is_continue_as_new_suggested():
                    await self._letters_done()
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    workflow.continue_as_new(self._carried())
        await self._letters_done()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    @workflow.update
    async def acknowledge(self, acknowledgement: CrisisAcknowledgement) -> FollowUpView:
        """A coordinator has read the crisis message and is acting on it: escalation stops."""
        self._acknowledged_by = acknowledgement.coordinator
        self._acknowledged_at = workflow.now()
        await workflow.execute_activity(
            RECORD_CRISIS_ACKNOWLEDGEMENT,
            acknowledgement.model_copy(
                update={"message_id": self._input.message_id, "at": self._acknowledged_at}
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        return self.view()

    @acknowledge.validator
    def _validate_acknowledge(self, acknowledgement: CrisisAcknowledgement) -> None:
        if not self._input.crisis:
            raise ApplicationError("this message has no crisis alert to acknowledge")
        if self._acknowledged_by is not None:
            raise ApplicationError("this crisis alert is already acknowledged")

    @workflow.query
    def view(self) -> FollowUpView:
        """Whether the alert is acknowledged, and how often it has been escalated."""
        return FollowUpView(
            message_id=self._input.message_id,
            ref=self._input.ref,
            crisis=self._input.crisis,
            escalations=self._escalations,
            acknowledged_by=self._acknowledged_by,
            acknowledged_at=self._acknowledged_at,
        )

    # ------------------------------------------------------------------ letters

    def _first_letters(self) -> list[Notification]:
        """The reply to the sender (when there is someone to reply to) and, for a possible
        crisis, the coordinators' alert (who: ``models.correspondence``)."""
        input = self._input
        occasion = Occasion.CRISIS_MESSAGE if input.crisis else Occasion.MESSAGE_FOR_A_PERSON
        letters: list[Notification] = []
        for entry in addressees(occasion):
            if isinstance(entry, Alert):
                letters.append(self._alert(entry.to, entry.kind))
            elif input.reply is not None:
                letters.append(
                    Notification(
                        key="pending",
                        ref=input.ref or "",
                        kind=entry.kind,
                        recipient=entry.to,
                        routes=[input.reply],
                        discreet=input.discreet,
                        context={"ref": input.ref, "client_first_name": input.first_name},
                    )
                )
        return letters

    def _escalate(self) -> None:
        """Nobody acknowledged in time: alert coordinators again and the duty lead."""
        self._escalations += 1
        workflow.logger.warning(
            "crisis alert escalated",
            extra={"message_id": self._input.message_id, "escalations": self._escalations},
        )
        step = f"escalation{self._escalations}"
        for entry in addressees(Occasion.CRISIS_UNACKNOWLEDGED):
            self._start_send([self._alert(entry.to, entry.kind)], step)

    def _alert(self, to: Recipient, alert: AlertKind) -> Notification:
        return Notification(
            key="pending",
            ref=self._input.ref or "",
            kind=alert_letter_kind(to),
            recipient=to,
            context={
                "ref": self._input.ref,
                "alert_kind": alert.value,
                "message_id": self._input.message_id,
            },
        )

    def _start_send(self, letters: list[Notification], step: str) -> None:
        """Start sending, without waiting: ``_letters_done`` collects the outcome."""
        for letter in letters:
            # Fixed by the workflow: the same step always gives the same keys.
            letter.key = (
                f"message:{self._input.message_id}:{step}:{letter.kind.value}:"
                f"{letter.recipient.value}"
            )
        self._sending.append(
            workflow.start_activity(
                SEND_NOTIFICATIONS,
                letters,
                result_type=list[SendResult],
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
        )

    async def _letters_done(self) -> None:
        """Wait for every letter started; one that can never go is logged (its outbox row
        says why), never a failure of the follow-up."""
        while self._sending:
            handle = self._sending.pop(0)
            try:
                await handle
            except ActivityError:
                workflow.logger.warning(
                    "letter undeliverable", extra={"message_id": self._input.message_id}
                )

    def _carried(self) -> FollowUpInput:
        return self._input.model_copy(
            update={
                "escalations": self._escalations,
                "acknowledged_by": self._acknowledged_by,
                "acknowledged_at": self._acknowledged_at,
                "replied": True,
            }
        )
