"""Who is written to, and how: the one rule every letter and alert goes through.

A client is written to only on the channels they agreed to, preferred channel first, and not at
all when they asked not to be written to — except for a *reply* to a message they sent us (the
crisis contacts, the holding reply, the question that confirms a withdrawal), which goes back by
the channel the message came in on: nobody who writes to us in distress is left unanswered.
After a bare STOP by text no further texts go, apart from the crisis contacts and the one
question whether they also want to leave the list.

The workflow asks :func:`client_routes` for the ordered routes of each client letter (an empty
list: the letter is not written); the notification activity sends by the first route whose
contact is not known to be unreachable (:func:`first_reachable`). Referrers are written to by
email; practitioners and coordinators by the email the registry and the settings hold.
"""

from __future__ import annotations

from collections.abc import Collection

from models.notifications import ContactChannel, LetterKind, Recipient, Route
from models.referral import ClientDetails

# Without a preferred channel: email first (as letters always went), then text.
DEFAULT_ORDER: tuple[ContactChannel, ...] = (ContactChannel.EMAIL, ContactChannel.SMS)

# Answers to a message the client sent: they go back on the channel it came in on, whatever
# the client's standing preferences (they wrote to us on it) and even after a text STOP.
REPLIES: frozenset[LetterKind] = frozenset(
    {
        LetterKind.CRISIS_REPLY,
        LetterKind.HOLDING_REPLY,
        LetterKind.WITHDRAWAL_CONFIRMATION_REQUEST,
    }
)

# The only texts after a STOP by text: help now, and the one question whether they also want
# to leave the list (the convention people expect of SMS).
AFTER_STOP: frozenset[LetterKind] = frozenset(
    {LetterKind.CRISIS_REPLY, LetterKind.WITHDRAWAL_CONFIRMATION_REQUEST}
)

# Who receives each letter kind of the lifecycle (alerts go to staff, decided by the event).
LETTER_RECIPIENTS: dict[LetterKind, tuple[Recipient, ...]] = {
    LetterKind.ACKNOWLEDGEMENT: (Recipient.REFERRER, Recipient.CLIENT),
    LetterKind.ACCEPTED: (Recipient.REFERRER,),
    LetterKind.WAITING_LIST: (Recipient.CLIENT,),
    LetterKind.DECLINED: (Recipient.REFERRER, Recipient.CLIENT),
    LetterKind.INFORMATION_REQUEST: (Recipient.REFERRER,),
    LetterKind.CHECKIN: (Recipient.CLIENT,),
    LetterKind.ALLOCATION: (Recipient.CLIENT, Recipient.REFERRER),
    LetterKind.REENTRY_CONFIRMATION: (Recipient.CLIENT,),
    LetterKind.SESSION_REMINDER: (Recipient.CLIENT,),
    LetterKind.DISCHARGE: (Recipient.REFERRER, Recipient.CLIENT),
    LetterKind.WITHDRAWAL_CONFIRMATION_REQUEST: (Recipient.CLIENT,),
    LetterKind.WITHDRAWN: (Recipient.REFERRER, Recipient.CLIENT),
    LetterKind.CLOSED: (Recipient.REFERRER, Recipient.CLIENT),
    LetterKind.REMOVED_FROM_LIST: (Recipient.REFERRER, Recipient.CLIENT),
    LetterKind.CRISIS_REPLY: (Recipient.CLIENT,),
    LetterKind.HOLDING_REPLY: (Recipient.CLIENT,),
    LetterKind.COORDINATOR_ALERT: (Recipient.COORDINATORS,),
    LetterKind.PRACTITIONER_ALERT: (Recipient.PRACTITIONER,),
}


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
