"""Who is written to, on which occasion, and how: the one rule every letter and alert follows.

``CORRESPONDENCE`` below is the whole answer to "who gets which letter?": for each occasion of
the pathway, the letters and staff alerts it sends, in the order they go. The one exception
to the table is in ``addressees``: a closure for a death or a duplicate record is never written
to the client.

A client is written to only on the channels they agreed to, preferred channel first, and not at
all when they asked not to be written to — except for a *reply* to a message they sent us (the
crisis contacts, the holding reply, the question that confirms a withdrawal), which goes back by
the channel the message came in on: nobody who writes to us in distress is left unanswered.
After a bare STOP by text no further texts go, apart from the crisis contacts and the one
question whether they also want to leave the list.

The referral's workflow asks :func:`notifications` for an occasion's letters (a client letter
with no route is not written); the notification activity sends each by the first route whose
contact is not known to be unreachable (:func:`first_reachable`). Referrers are written to by
email; practitioners, coordinators and the duty lead by the email the registry and the settings
hold. When timers write: ``models.contact_schedule``.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum
from typing import NamedTuple

from models.actions import ClosureReason
from models.notifications import (
    AlertKind,
    ContactChannel,
    LetterKind,
    Notification,
    Recipient,
    Route,
)
from models.referral import ClientDetails, ReferralState

Context = dict[str, str | int | bool | None]

# Without a preferred channel: email first (as letters always went), then text.
DEFAULT_ORDER: tuple[ContactChannel, ...] = (ContactChannel.EMAIL, ContactChannel.SMS)

# Answers to a message the client sent: they go back on the channel it came in on, whatever
# the client's standing preferences (they wrote to us on it) and even after a text STOP.
REPLIES: frozenset[LetterKind] = frozenset(
    {
        LetterKind.CRISIS_REPLY,
        LetterKind.HOLDING_REPLY,
        LetterKind.INBOX_REPLY,
        LetterKind.WITHDRAWAL_CONFIRMATION_REQUEST,
    }
)

# The only texts after a STOP by text: help now, and the one question whether they also want
# to leave the list (the convention people expect of SMS).
AFTER_STOP: frozenset[LetterKind] = frozenset(
    {LetterKind.CRISIS_REPLY, LetterKind.WITHDRAWAL_CONFIRMATION_REQUEST}
)


class Occasion(StrEnum):
    """A moment of the pathway that writes to someone."""

    RECEIVED = "received"
    DECLINED = "declined"
    INFORMATION_REQUESTED = "information_requested"
    INFORMATION_RECEIVED = "information_received"
    TRIAGE_OVERDUE = "triage_overdue"
    ACCEPTED = "accepted"
    CHECKIN = "checkin"
    VALIDATION_NEEDED = "validation_needed"
    WAIT_BREACH = "wait_breach"
    ALLOCATED = "allocated"
    ALLOCATED_RETURNING = "allocated_returning"
    RETURNED_TO_WAIT = "returned_to_wait"
    SESSION_REMINDER = "session_reminder"
    REPEATED_NON_ATTENDANCE = "repeated_non_attendance"
    SILENCE = "silence"
    MEASURE_URGENT = "measure_urgent"
    DISCHARGED = "discharged"
    REENTRY_WINDOW_ENDED = "reentry_window_ended"
    REMOVED_FROM_LIST = "removed_from_list"
    CLOSED = "closed"
    WITHDRAWAL_REQUESTED = "withdrawal_requested"
    WITHDRAWN = "withdrawn"
    MESSAGE_FOR_A_PERSON = "message_for_a_person"
    TEXTS_STOPPED = "texts_stopped"
    CRISIS_MESSAGE = "crisis_message"
    CRISIS_UNACKNOWLEDGED = "crisis_unacknowledged"
    CRISIS_MESSAGE_BEFORE_FOLLOW_UPS = "crisis_message_before_follow_ups"
    INBOX_REPLY = "inbox_reply"


class Letter(NamedTuple):
    """A letter of ``kind`` to ``to``; ``details``: it carries the occasion's details (the
    other letters of the occasion carry only the names and the reference)."""

    kind: LetterKind
    to: Recipient
    details: bool = False


class Alert(NamedTuple):
    """An alert of ``kind`` to staff (``to``); ``details`` as for a letter."""

    kind: AlertKind
    to: Recipient
    details: bool = False


_CLIENT, _REFERRER = Recipient.CLIENT, Recipient.REFERRER
_PRACTITIONER, _COORDINATORS = Recipient.PRACTITIONER, Recipient.COORDINATORS

# Who is written to on each occasion, in the order the letters go.
CORRESPONDENCE: dict[Occasion, tuple[Letter | Alert, ...]] = {
    # Triage.
    Occasion.RECEIVED: (
        Letter(LetterKind.ACKNOWLEDGEMENT, _REFERRER),
        Letter(LetterKind.ACKNOWLEDGEMENT, _CLIENT),
    ),
    # The referrer is told why, and where else to turn; the client only that it was declined.
    Occasion.DECLINED: (
        Letter(LetterKind.DECLINED, _REFERRER, details=True),
        Letter(LetterKind.DECLINED, _CLIENT),
    ),
    Occasion.INFORMATION_REQUESTED: (
        Letter(LetterKind.INFORMATION_REQUEST, _REFERRER, details=True),
    ),
    Occasion.INFORMATION_RECEIVED: (Alert(AlertKind.INFORMATION_RECEIVED, _COORDINATORS),),
    Occasion.TRIAGE_OVERDUE: (Alert(AlertKind.TRIAGE_OVERDUE, _COORDINATORS),),
    # Waiting: both letters give the position and the estimated wait.
    Occasion.ACCEPTED: (
        Letter(LetterKind.ACCEPTED, _REFERRER, details=True),
        Letter(LetterKind.WAITING_LIST, _CLIENT, details=True),
    ),
    Occasion.CHECKIN: (Letter(LetterKind.CHECKIN, _CLIENT, details=True),),
    Occasion.VALIDATION_NEEDED: (Alert(AlertKind.VALIDATION_NEEDED, _COORDINATORS),),
    Occasion.WAIT_BREACH: (Alert(AlertKind.WAIT_BREACH, _COORDINATORS, details=True),),
    Occasion.REMOVED_FROM_LIST: (
        Letter(LetterKind.REMOVED_FROM_LIST, _REFERRER, details=True),
        Letter(LetterKind.REMOVED_FROM_LIST, _CLIENT, details=True),
    ),
    # Allocation. A client who came back after discharge is told their return is confirmed;
    # the referrer is not written to again.
    Occasion.ALLOCATED: (
        Letter(LetterKind.ALLOCATION, _CLIENT, details=True),
        Alert(AlertKind.NEW_ALLOCATION, _PRACTITIONER),
        Letter(LetterKind.ALLOCATION, _REFERRER),
    ),
    Occasion.ALLOCATED_RETURNING: (
        Letter(LetterKind.REENTRY_CONFIRMATION, _CLIENT, details=True),
        Alert(AlertKind.RETURNING_CLIENT, _PRACTITIONER),
    ),
    # Back after discharge while their practitioner is full: first in that practitioner's queue.
    Occasion.RETURNED_TO_WAIT: (
        Letter(LetterKind.REENTRY_CONFIRMATION, _CLIENT, details=True),
        Alert(AlertKind.RETURNING_CLIENT, _COORDINATORS),
    ),
    # The episode.
    Occasion.SESSION_REMINDER: (Letter(LetterKind.SESSION_REMINDER, _CLIENT, details=True),),
    Occasion.REPEATED_NON_ATTENDANCE: (Alert(AlertKind.REPEATED_NON_ATTENDANCE, _PRACTITIONER),),
    Occasion.SILENCE: (Alert(AlertKind.SILENCE, _PRACTITIONER),),
    Occasion.MEASURE_URGENT: (Alert(AlertKind.MEASURE_URGENT, _PRACTITIONER),),
    Occasion.DISCHARGED: (
        Letter(LetterKind.DISCHARGE, _REFERRER),
        Letter(LetterKind.DISCHARGE, _CLIENT),
    ),
    # Closure. The discharge letter said how long re-entry stays open: its end writes nothing.
    Occasion.REENTRY_WINDOW_ENDED: (),
    Occasion.CLOSED: (
        Letter(LetterKind.CLOSED, _REFERRER, details=True),
        Letter(LetterKind.CLOSED, _CLIENT, details=True),
    ),
    # Someone should know of a withdrawal request: they may want to call before it happens.
    Occasion.WITHDRAWAL_REQUESTED: (
        Letter(LetterKind.WITHDRAWAL_CONFIRMATION_REQUEST, _CLIENT, details=True),
        Alert(AlertKind.WITHDRAWAL_REQUESTED, _COORDINATORS),
    ),
    Occasion.WITHDRAWN: (
        Letter(LetterKind.WITHDRAWN, _REFERRER),
        Letter(LetterKind.WITHDRAWN, _CLIENT),
    ),
    # Messages. A client's message nobody acted on (and any message from an unknown sender)
    # gets the holding reply; a possible crisis, from anyone, the crisis contacts at once and
    # the coordinators an alert — escalated to the duty lead while nobody acknowledges it.
    Occasion.MESSAGE_FOR_A_PERSON: (Letter(LetterKind.HOLDING_REPLY, _CLIENT),),
    # A coordinator's coded reply from the inbox (models.inbox_replies).
    Occasion.INBOX_REPLY: (Letter(LetterKind.INBOX_REPLY, _CLIENT),),
    Occasion.TEXTS_STOPPED: (Alert(AlertKind.TEXTS_STOPPED, _COORDINATORS),),
    Occasion.CRISIS_MESSAGE: (
        Letter(LetterKind.CRISIS_REPLY, _CLIENT),
        Alert(AlertKind.CRISIS_MESSAGE, _COORDINATORS),
    ),
    Occasion.CRISIS_UNACKNOWLEDGED: (
        Alert(AlertKind.CRISIS_UNACKNOWLEDGED, _COORDINATORS),
        Alert(AlertKind.CRISIS_UNACKNOWLEDGED, Recipient.DUTY_LEAD),
    ),
    # Messages signalled before their follow-up workflows existed, replayed as they were.
    Occasion.CRISIS_MESSAGE_BEFORE_FOLLOW_UPS: (
        Alert(AlertKind.CRISIS_MESSAGE, _COORDINATORS),
        Letter(LetterKind.CRISIS_REPLY, _CLIENT),
    ),
}

# Never write to a client about their own death, or to a duplicate record.
CLIENT_NOT_TOLD_OF_CLOSURE: frozenset[ClosureReason] = frozenset(
    {ClosureReason.DECEASED, ClosureReason.DUPLICATE}
)


def alert_letter_kind(to: Recipient) -> LetterKind:
    """The kind of letter an alert to ``to`` is (its template and its sender's address)."""
    return (
        LetterKind.PRACTITIONER_ALERT
        if to == Recipient.PRACTITIONER
        else LetterKind.COORDINATOR_ALERT
    )


def addressees(
    occasion: Occasion, *, closure_reason: ClosureReason | None = None
) -> tuple[Letter | Alert, ...]:
    """Who is written to on ``occasion`` (``closure_reason``: why a referral is closed)."""
    entries = CORRESPONDENCE[occasion]
    if occasion is Occasion.CLOSED and closure_reason in CLIENT_NOT_TOLD_OF_CLOSURE:
        entries = tuple(e for e in entries if e.to is not Recipient.CLIENT)
    return entries


def _recipients_by_kind() -> dict[LetterKind, tuple[Recipient, ...]]:
    recipients: dict[LetterKind, list[Recipient]] = {}
    for entries in CORRESPONDENCE.values():
        for entry in entries:
            kind = entry.kind if isinstance(entry, Letter) else alert_letter_kind(entry.to)
            if entry.to not in recipients.setdefault(kind, []):
                recipients[kind].append(entry.to)
    return {kind: tuple(to) for kind, to in recipients.items()}


# Who ever receives each letter kind (from the table above).
LETTER_RECIPIENTS: dict[LetterKind, tuple[Recipient, ...]] = _recipients_by_kind()


def agreed_channels(client: ClientDetails) -> list[ContactChannel]:
    """The client's agreed channels that have an address, the preferred one first.

    No explicit list means every channel the referral gave a contact for (referrals made
    before preferences existed)."""
    agreed = client.channels if client.channels is not None else list(ContactChannel)
    usable = [c for c in DEFAULT_ORDER if c in agreed and client.address(c)]
    if client.preferred_channel in usable:
        usable.remove(client.preferred_channel)
        usable.insert(0, client.preferred_channel)
    return usable


def client_routes(
    kind: LetterKind,
    client: ClientDetails,
    *,
    sms_opted_out: bool = False,
    reply_channel: ContactChannel | None = None,
) -> list[Route]:
    """The routes of a letter to the client, best first; empty: the client is not written to.

    ``reply_channel`` is the channel of the message this letter answers, for the kinds in
    ``REPLIES``."""
    if Recipient.CLIENT not in LETTER_RECIPIENTS.get(kind, ()):
        return []
    stopped = sms_opted_out and reply_channel is ContactChannel.SMS and kind not in AFTER_STOP
    if kind in REPLIES and reply_channel is not None and not stopped:
        address = client.address(reply_channel)
        if address:
            return [Route(channel=reply_channel, address=address)]
    if not client.may_contact:
        return []
    channels = agreed_channels(client)
    if sms_opted_out:
        channels = [c for c in channels if c is not ContactChannel.SMS]
    return [Route(channel=c, address=a) for c in channels if (a := client.address(c))]


def first_reachable(routes: list[Route], unreachable: Collection[str]) -> Route | None:
    """The first route whose address is not known to be unreachable (``unreachable``: the
    addresses a delivery receipt reported as failing for good)."""
    return next((r for r in routes if r.address not in unreachable), None)


def discreet(client: ClientDetails) -> bool:
    """Letters to a client for whom messages are not safe to leave say only who to call."""
    return not client.safe_to_leave_messages


def writes_to_client(kind: LetterKind, state: ReferralState) -> bool:
    """Whether a letter of ``kind`` would reach the client now by any route."""
    return bool(client_routes(kind, state.submission.client, sms_opted_out=state.sms_opted_out))


def notifications(
    occasion: Occasion,
    state: ReferralState,
    details: Context | None = None,
    *,
    reply_channel: ContactChannel | None = None,
    closure_reason: ClosureReason | None = None,
) -> list[Notification]:
    """The letters and alerts of ``occasion`` for the referral, in the order they go.

    ``details`` go into the letters marked for them; ``reply_channel`` is the channel of the
    client's message that a reply answers. A client letter with no route is left out: the
    client is not written to (their choice). Keys are set by the sender ("pending" here)."""
    letters: list[Notification] = []
    for entry in addressees(occasion, closure_reason=closure_reason):
        extra = details if entry.details else None
        if isinstance(entry, Alert):
            letters.append(_alert(state, entry, extra))
            continue
        letter = _letter(state, entry, extra, reply_channel)
        if letter.recipient != Recipient.CLIENT or letter.routes:
            letters.append(letter)
    return letters


def _letter(
    state: ReferralState,
    entry: Letter,
    details: Context | None,
    reply_channel: ContactChannel | None,
) -> Notification:
    client = state.submission.client
    referrer = state.submission.referrer
    base: Context = {
        "ref": state.ref,
        "client_first_name": client.name.split()[0],
        "referrer_name": referrer.name,
        "episode_number": state.episode_number,
        "recipient": entry.to.value,
    }
    to_client = entry.to == Recipient.CLIENT
    return Notification(
        key="pending",
        ref=state.ref,
        kind=entry.kind,
        recipient=entry.to,
        routes=client_routes(
            entry.kind, client, sms_opted_out=state.sms_opted_out, reply_channel=reply_channel
        )
        if to_client
        else [],
        discreet=to_client and discreet(client),
        to_address=None if to_client else str(referrer.email),
        practitioner_id=state.practitioner_id,
        context={**base, **(details or {})},
    )


def _alert(state: ReferralState, entry: Alert, details: Context | None) -> Notification:
    return Notification(
        key="pending",
        ref=state.ref,
        kind=alert_letter_kind(entry.to),
        recipient=entry.to,
        practitioner_id=state.practitioner_id,
        context={"ref": state.ref, "alert_kind": entry.kind.value, **(details or {})},
    )
