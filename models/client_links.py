"""The rules of a client's secure link: what each link is for, how long it lasts, which
answers it takes and what each answer means to the referral.

A link is made for one letter (``LINK_PURPOSES``: the letters that ask the client something)
and does one thing for one referral. It takes one change: once a change went through the
link is spent. "I need help now" is not a change: it works as long as the link's signature
does (spent or expired), because a possible crisis must always reach a person.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from enum import StrEnum

from models.messages import Intent
from models.notifications import LetterKind
from models.referral import Episode, ReqolWhen


class LinkPurpose(StrEnum):
    """What a link is for (``PURPOSE_CODES``: the one letter a token carries for it)."""

    CHECKIN = "checkin"
    WITHDRAW = "withdraw"
    REENTRY = "reentry"
    REQOL = "reqol"


class LinkAnswer(StrEnum):
    """An answer given through a link's page."""

    STILL_WAITING = "still_waiting"
    OK = "ok"
    HELP = "help"
    TAKE_ME_OFF = "take_me_off"
    CONFIRM_WITHDRAWAL = "confirm_withdrawal"
    COME_BACK = "come_back"
    REQOL = "reqol"


PURPOSE_CODES: dict[LinkPurpose, str] = {
    LinkPurpose.CHECKIN: "c",
    LinkPurpose.WITHDRAW: "w",
    LinkPurpose.REENTRY: "b",  # come back
    LinkPurpose.REQOL: "q",
}

# The letters that ask the client something, and the link each carries.
LINK_PURPOSES: dict[LetterKind, LinkPurpose] = {
    LetterKind.CHECKIN: LinkPurpose.CHECKIN,
    LetterKind.WITHDRAWAL_CONFIRMATION_REQUEST: LinkPurpose.WITHDRAW,
    LetterKind.DISCHARGE: LinkPurpose.REENTRY,
    LetterKind.SESSION_REMINDER: LinkPurpose.REQOL,
}

# How long a link lasts after its letter was written. A check-in is asked again within four
# weeks; the withdrawal question is answered within days or asked again by a person; coming
# back is open for a long time after discharge (the letter also says to reply or call).
LINK_LIFETIMES: dict[LinkPurpose, timedelta] = {
    LinkPurpose.CHECKIN: timedelta(days=28),
    LinkPurpose.WITHDRAW: timedelta(days=14),
    LinkPurpose.REENTRY: timedelta(days=365),
    LinkPurpose.REQOL: timedelta(days=14),
}

# The answers each link's page offers ("help" on every one).
LINK_ANSWERS: dict[LinkPurpose, tuple[LinkAnswer, ...]] = {
    LinkPurpose.CHECKIN: (
        LinkAnswer.STILL_WAITING,
        LinkAnswer.OK,
        LinkAnswer.HELP,
        LinkAnswer.TAKE_ME_OFF,
    ),
    LinkPurpose.WITHDRAW: (LinkAnswer.CONFIRM_WITHDRAWAL, LinkAnswer.HELP),
    LinkPurpose.REENTRY: (LinkAnswer.COME_BACK, LinkAnswer.HELP),
    LinkPurpose.REQOL: (LinkAnswer.REQOL, LinkAnswer.HELP),
}

# What an answer means as a client's message (``models.message_meaning`` decides what the
# referral does with it in its stage, exactly as for a text or an email).
ANSWER_INTENTS: dict[LinkAnswer, Intent] = {
    LinkAnswer.STILL_WAITING: Intent.STILL_WAITING,
    LinkAnswer.OK: Intent.STILL_WAITING,
    LinkAnswer.HELP: Intent.OTHER,
    LinkAnswer.TAKE_ME_OFF: Intent.STOP,
    LinkAnswer.CONFIRM_WITHDRAWAL: Intent.CONFIRM,
    LinkAnswer.COME_BACK: Intent.RETURN,
}

# What the kept copy of an answer says (the inbox shows it like a message; no free text).
ANSWER_RECORDS: dict[LinkAnswer, str] = {
    LinkAnswer.STILL_WAITING: "Answered by link: still waiting",
    LinkAnswer.OK: "Answered by link: I'm OK",
    LinkAnswer.HELP: "Answered by link: I need help now",
    LinkAnswer.TAKE_ME_OFF: "Answered by link: please take me off the list",
    LinkAnswer.CONFIRM_WITHDRAWAL: "Answered by link: yes, take me off the list",
    LinkAnswer.COME_BACK: "Answered by link: I'd like to come back",
}


# Where a link's page is, under the service's public address.
LINK_PATH = "/c/"


def purpose_code(purpose: LinkPurpose) -> str:
    """The one letter a token carries for ``purpose``."""
    return PURPOSE_CODES[purpose]


def purpose_from_code(code: str) -> LinkPurpose | None:
    """The purpose whose code is ``code``, if any."""
    return next((p for p, c in PURPOSE_CODES.items() if c == code), None)


def link_token_id(notification_key: str) -> str:
    """The token id of the link in the letter with ``notification_key``: derived from the key,
    so a letter written again after a retry carries a link with the same id (one use
    between them)."""
    return hashlib.sha256(b"harbour.link:" + notification_key.encode()).hexdigest()[:16]


def reqol_due_before_session(episode: Episode | None) -> ReqolWhen | None:
    """Which ReQoL-10 a client may give by link before their next session, if any: the
    baseline while it is still to be taken; the end measure before the last planned session
    (all but one attended), once the baseline is in and while the end is not. A plan that is
    extended later moves the last session on; an end measure already given stays."""
    if episode is None:
        return None
    if episode.baseline is None:
        return ReqolWhen.BASELINE
    if episode.end is None and episode.attended + 1 >= episode.planned_sessions:
        return ReqolWhen.END
    return None


def purpose_for_letter(kind: LetterKind) -> LinkPurpose | None:
    """The link a client's letter of ``kind`` carries, if it asks something."""
    return LINK_PURPOSES.get(kind)


def lifetime(purpose: LinkPurpose) -> timedelta:
    """How long a link for ``purpose`` is valid after it was made."""
    return LINK_LIFETIMES[purpose]


def answer_allowed(purpose: LinkPurpose, answer: LinkAnswer) -> bool:
    """Whether a link for ``purpose`` takes ``answer``: a link does its one thing only."""
    return answer in LINK_ANSWERS[purpose]


def spends_link(answer: LinkAnswer) -> bool:
    """Whether ``answer`` is a change that uses the link up. Asking for help never does: a
    person in crisis must never meet "this link was already used"."""
    return answer is not LinkAnswer.HELP


def is_crisis(answer: LinkAnswer) -> bool:
    """Whether the answer alerts coordinators as a possible crisis does."""
    return answer is LinkAnswer.HELP
