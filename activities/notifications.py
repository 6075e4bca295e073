"""Letters and alerts: render Jinja2 templates and send them by email (SMTP) or text (GOV.UK
Notify), exactly once per key.

The workflow computes each notification's key; the outbox row and the Message-ID derive from
it, so a retried activity never sends a letter twice, and a resend after a crash between
"sent" and "recorded" carries the same Message-ID (mail clients and gateways then collapse it).

Privacy (DESIGN.md, "Safety and privacy rules"): templates see only an allow-list of context
variables (names, dates, positions, codes) — never a referral reason, summary, diagnosis or risk
note. Log lines and error messages carry the reference, kind, recipient role and key only.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosmtplib
import structlog
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)
from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from infra.database import insert_for, write_transaction
from infra.keys import KeyRing
from infra.link_tokens import LinkSigner
from models.actions import DeclineReason, RemovalReason
from models.client_links import (
    LINK_PATH,
    LinkPurpose,
    link_token_id,
    purpose_code,
    purpose_for_letter,
)
from models.correspondence import REPLIES, first_reachable
from models.inbox_replies import reply_words
from models.notifications import (
    REDELIVER_NOTIFICATION,
    SEND_NOTIFICATIONS,
    URGENT_ALERTS,
    AlertKind,
    ContactChannel,
    LetterKind,
    Notification,
    Recipient,
    Redelivery,
    Route,
    SendResult,
)
from models.settings import Settings
from models.tables import OutboxRow, PractitionerRow
from readmodel.contacts import contact_key
from readmodel.unreachable_contacts import unreachable_among

TEMPLATES_DIR = Path(__file__).parent / "templates"

# The only context variables a template may see. Anything else the caller passes (a "reason",
# a "summary"…) is dropped before rendering, so a clinical string can never reach a letter.
ALLOWED_CONTEXT: frozenset[str] = frozenset(
    {
        "service_name",
        "service_phone",
        "ref",
        "client_first_name",
        "referrer_name",
        "practitioner_first_name",
        "position",
        "waiting_total",
        "estimate_weeks_low",
        "estimate_weeks_high",
        "decline_reason",
        "signposting",
        "question_asked",
        "session_at",
        "session_location",
        "alert_kind",
        "checkin_number",
        "weeks_waited",
        "episode_number",
        "reentry_practitioner_available",
        "how_to_return",
        "withdrawal",
        "removal_reason",
        "message_id",
        "texts_stopped",
        "link",
        "reqol_due",
        "reply_code",
    }
)

# Variables render() computes from the context, for the templates.
DERIVED_CONTEXT: frozenset[str] = frozenset(
    {
        "recipient",
        "greeting_name",
        "show_crisis",
        "subject",
        "decline_phrase",
        "alert_phrase",
        "session_when",
        "estimate_sentence",
        "removal_phrase",
        "wait_range",
        "read_within",
        "crisis",
        "reply_words",
    }
)

# Subjects name the service and the reference, never a person or a clinical detail.
SUBJECTS: dict[LetterKind, str] = {
    LetterKind.ACKNOWLEDGEMENT: "{service}: we have received your referral ({ref})",
    LetterKind.ACCEPTED: "{service}: we can offer support ({ref})",
    LetterKind.DECLINED: "{service}: about your referral ({ref})",
    LetterKind.INFORMATION_REQUEST: "{service}: more information needed for referral {ref}",
    LetterKind.WAITING_LIST: "{service}: you are on our waiting list ({ref})",
    LetterKind.CHECKIN: "{service}: checking in while you wait ({ref})",
    LetterKind.ALLOCATION: "{service}: your recovery practitioner ({ref})",
    LetterKind.SESSION_REMINDER: "{service}: reminder of your next session ({ref})",
    LetterKind.DISCHARGE: "{service}: your sessions have ended, and how to come back ({ref})",
    LetterKind.REENTRY_CONFIRMATION: "{service}: welcome back ({ref})",
    LetterKind.WITHDRAWAL_CONFIRMATION_REQUEST: "{service}: please confirm your withdrawal ({ref})",
    LetterKind.WITHDRAWN: "{service}: your withdrawal is confirmed ({ref})",
    LetterKind.CLOSED: "{service}: your referral is closed ({ref})",
    LetterKind.REMOVED_FROM_LIST: "{service}: you are no longer on our waiting list ({ref})",
    LetterKind.CRISIS_REPLY: "{service}: we have your message - help is available now ({ref})",
    LetterKind.HOLDING_REPLY: "{service}: we have your message ({ref})",
    LetterKind.INBOX_REPLY: "{service}: about your message ({ref})",
    LetterKind.COORDINATOR_ALERT: "Harbour: referral {ref} needs attention",
    LetterKind.PRACTITIONER_ALERT: "Harbour: referral {ref} needs attention",
}

# Where the recipient changes what the subject should say.
SUBJECT_OVERRIDES: dict[tuple[LetterKind, Recipient], str] = {
    (LetterKind.ACKNOWLEDGEMENT, Recipient.REFERRER): "{service}: referral {ref} acknowledged",
    (LetterKind.ACCEPTED, Recipient.REFERRER): "{service}: referral {ref} accepted",
    (LetterKind.DECLINED, Recipient.REFERRER): "{service}: referral {ref} not accepted",
    (
        LetterKind.WAITING_LIST,
        Recipient.REFERRER,
    ): "{service}: referral {ref} is on the waiting list",
    (LetterKind.ALLOCATION, Recipient.PRACTITIONER): "Harbour: referral {ref} allocated to you",
    (LetterKind.ALLOCATION, Recipient.REFERRER): "{service}: referral {ref} allocated",
    (LetterKind.DISCHARGE, Recipient.REFERRER): "{service}: referral {ref} discharged",
    (LetterKind.REENTRY_CONFIRMATION, Recipient.PRACTITIONER): "Harbour: referral {ref} returning",
    (LetterKind.REENTRY_CONFIRMATION, Recipient.REFERRER): "{service}: referral {ref} returning",
    (LetterKind.WITHDRAWN, Recipient.REFERRER): "{service}: referral {ref} withdrawn",
    (LetterKind.CLOSED, Recipient.REFERRER): "{service}: referral {ref} closed",
    (LetterKind.REMOVED_FROM_LIST, Recipient.REFERRER): (
        "{service}: referral {ref} removed from the waiting list"
    ),
}

# Who a letter is written to when render() is not told (tests, previews).
DEFAULT_RECIPIENT: dict[LetterKind, Recipient] = {
    LetterKind.INFORMATION_REQUEST: Recipient.REFERRER,
    LetterKind.COORDINATOR_ALERT: Recipient.COORDINATORS,
    LetterKind.PRACTITIONER_ALERT: Recipient.PRACTITIONER,
}

# Letters that can go to a client; each one to a client carries the crisis contacts.
CLIENT_LETTERS: frozenset[LetterKind] = frozenset(LetterKind) - {
    LetterKind.INFORMATION_REQUEST,
    LetterKind.COORDINATOR_ALERT,
    LetterKind.PRACTITIONER_ALERT,
}

# Written to follow "because …"; neutral about who reads it (referrer or client).
DECLINE_PHRASES: dict[DeclineReason, str] = {
    DeclineReason.NEEDS_SECONDARY_CARE: (
        "the support needed is best offered by secondary mental health services"
    ),
    DeclineReason.NEEDS_PRIMARY_CARE_ONLY: (
        "the support needed is best offered through primary care, such as the GP practice "
        "or NHS Talking Therapies"
    ),
    DeclineReason.OUT_OF_AREA: "the address is outside the area our service covers",
    DeclineReason.ALREADY_SUPPORTED: "similar support is already in place from another service",
    DeclineReason.NOT_CONSENTED: "we have not been able to confirm agreement to the referral",
    DeclineReason.OTHER: "it does not fit what our service can offer at the moment",
}
DECLINE_FALLBACK = DECLINE_PHRASES[DeclineReason.OTHER]

# Written to follow "because …": why someone was taken off the list after validation.
REMOVAL_PHRASES: dict[RemovalReason, str] = {
    RemovalReason.NO_RESPONSE: "we have written several times and not heard back",
    RemovalReason.NO_LONGER_WANTED: "we understand the support is no longer wanted",
    RemovalReason.SUPPORTED_ELSEWHERE: "we understand support is now coming from another service",
    RemovalReason.MOVED_AWAY: "we understand the person has moved out of our area",
}
REMOVAL_FALLBACK = "we could not keep the place open"

# Operational reasons only. A crisis alert says "urgent", not what the message said.
ALERT_PHRASES: dict[AlertKind, str] = {
    AlertKind.TRIAGE_OVERDUE: "triage is overdue",
    AlertKind.VALIDATION_NEEDED: "check-ins have gone unanswered, so the waiting-list place "
    "needs validating",
    AlertKind.WAIT_BREACH: "the wait has passed the service's waiting standard",
    AlertKind.CRISIS_MESSAGE: "urgent - a message from the client to read now",
    AlertKind.INBOX_MESSAGE: "a message from the client is in the inbox",
    AlertKind.INFORMATION_RECEIVED: "the referrer has sent the information asked for",
    AlertKind.RETURNING_CLIENT: "the client has asked to come back",
    AlertKind.SILENCE: "there has been no contact for a while",
    AlertKind.REPEATED_NON_ATTENDANCE: "several sessions in a row were missed",
    AlertKind.MEASURE_NEEDS_ATTENTION: "a ReQoL-10 measure is due or needs attention",
    AlertKind.NEW_ALLOCATION: "it has been allocated to you",
    AlertKind.WITHDRAWAL_REQUESTED: "a withdrawal was asked for and awaits confirmation",
    AlertKind.MEASURE_URGENT: "urgent - a ReQoL-10 answer needs a conversation with the client "
    "today",
    AlertKind.CRISIS_UNACKNOWLEDGED: "urgent - a possible crisis message has not been "
    "acknowledged yet; read it and acknowledge it in Harbour now",
    AlertKind.CLIENT_UNREACHABLE: "the client could not be reached by text; the letter went "
    "by their next channel, if they have one - please check their contact details",
    AlertKind.TEXTS_STOPPED: "the client texted STOP: no more texts will go to them",
}
ALERT_FALLBACK = "please take a look"

LETTER_TIMEZONE = ZoneInfo("Europe/London")

_log = structlog.get_logger()


class LetterRenderError(ValueError):
    """A letter could not be rendered. The message names the kind only, never a value."""


def _weeks(value: object) -> str:
    """Jinja filter: ``1 -> "1 week"``, ``3 -> "3 weeks"``."""
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return f"{value} weeks"
    return f"{number} week" if number == 1 else f"{number} weeks"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        # HTML is escaped (names are user input); text letters are plain text.
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        # Strict: a misspelt variable fails in tests instead of printing an empty string.
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["weeks"] = _weeks
    return env


ENVIRONMENT = _environment()


def template_names(kind: LetterKind) -> tuple[str, str]:
    """The text and HTML template file names of a letter kind."""
    return f"{kind.value}.txt", f"{kind.value}.html"


def message_id_for(key: str) -> str:
    """Deterministic Message-ID: the same key always gives the same id, across retries."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@harbour>"


def readable_datetime(value: object) -> str | None:
    """ISO datetime -> "Tuesday 3 March 2026 at 2:30pm" in UK time; None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(LETTER_TIMEZONE)
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    time = f"{hour}{suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d}{suffix}"
    return f"{moment:%A} {moment.day} {moment:%B %Y} at {time}"


def estimate_sentence(low: object, high: object) -> str:
    """An honest sentence about the expected wait, or that we cannot estimate it yet."""
    known = [int(v) for v in (low, high) if isinstance(v, int) and not isinstance(v, bool)]
    if not known:
        return (
            "We cannot give you an honest estimate of the wait yet. We will let you know "
            "as soon as we can."
        )
    first, last = min(known), max(known)
    if first == last:
        return (
            f"We expect the wait to be about {_weeks(first)}. This may change, "
            "and we will keep you updated."
        )
    return (
        f"We expect the wait to be between {first} and {_weeks(last)}. This may change, "
        "and we will keep you updated."
    )


def wait_range(low: object, high: object) -> str | None:
    """ "4-8 weeks" (or "about 4 weeks") for a text, or None when there is no estimate."""
    known = [int(v) for v in (low, high) if isinstance(v, int) and not isinstance(v, bool)]
    if not known:
        return None
    first, last = min(known), max(known)
    return f"about {_weeks(first)}" if first == last else f"{first}-{_weeks(last)}"


def _phrase(codes: type[StrEnum], table: Mapping[Any, str], code: object, fallback: str) -> str:
    # Unknown codes get the fallback, never the raw value (it could be anything).
    try:
        return table[codes(code)]
    except (ValueError, KeyError):
        return fallback


def _tidy_text(text: str) -> str:
    # Template blocks leave runs of blank lines; letters want one blank line between paragraphs.
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def render(
    kind: LetterKind | str,
    context: Mapping[str, object],
    settings: Settings,
    recipient: Recipient | str | None = None,
    *,
    discreet: bool = False,
) -> tuple[str, str, str]:
    """Render a letter: ``(subject, text, html)``.

    Only ``ALLOWED_CONTEXT`` keys are passed to the templates; others are dropped. The
    ``recipient`` (default: the kind's usual reader, the client for most letters) chooses the
    wording, the greeting, and whether the crisis contacts are included; signposting is shown
    to referrers only. ``discreet`` (a client for whom messages are not safe to leave) renders
    only a request to call, naming neither the service nor the letter's subject. Raises
    ``LetterRenderError`` (no personal data in its message).
    """
    kind, values = _template_values(kind, context, settings, recipient)
    names = ("discreet.txt", "discreet.html") if discreet else template_names(kind)
    if discreet:
        values["subject"] = "Please call us"
    try:
        text = ENVIRONMENT.get_template(names[0]).render(values)
        html = ENVIRONMENT.get_template(names[1]).render(values)
    except TemplateError as exc:
        raise LetterRenderError(
            f"cannot render {kind.value} letter ({type(exc).__name__})"
        ) from None
    return str(values["subject"]), _tidy_text(text), html


def render_sms(
    kind: LetterKind | str,
    context: Mapping[str, object],
    settings: Settings,
    *,
    discreet: bool = False,
) -> str:
    """Render a text to a client: one line, short (one or two fragments), the service's name
    and the next step, never a clinical detail. ``discreet``: only a request to call."""
    kind, values = _template_values(kind, context, settings, Recipient.CLIENT)
    name = "discreet.sms" if discreet else f"{kind.value}.sms"
    try:
        text = ENVIRONMENT.get_template(name).render(values)
    except TemplateError as exc:
        raise LetterRenderError(f"cannot render {kind.value} text ({type(exc).__name__})") from None
    return " ".join(text.split())


def _template_values(
    kind: LetterKind | str,
    context: Mapping[str, object],
    settings: Settings,
    recipient: Recipient | str | None,
) -> tuple[LetterKind, dict[str, object]]:
    """The letter kind and the variables its templates see (allowed and derived only)."""
    try:
        kind = LetterKind(kind)
    except ValueError:
        raise LetterRenderError("unknown letter kind") from None
    try:
        role = Recipient(recipient) if recipient is not None else None
    except ValueError:
        raise LetterRenderError(f"unknown recipient role for {kind.value} letter") from None
    role = role or DEFAULT_RECIPIENT.get(kind, Recipient.CLIENT)

    values: dict[str, object] = dict.fromkeys(ALLOWED_CONTEXT)
    values.update({k: v for k, v in context.items() if k in ALLOWED_CONTEXT})
    values["service_name"] = values["service_name"] or settings.service_name
    values["service_phone"] = values["service_phone"] or settings.service_phone
    if role is not Recipient.REFERRER:
        # Coordinators write signposting for the referrer; it is not sent to anyone else.
        values["signposting"] = None

    ref = str(values["ref"] or "")
    template = SUBJECT_OVERRIDES.get((kind, role), SUBJECTS[kind])
    subject = template.format(service=values["service_name"], ref=ref)
    if kind is LetterKind.COORDINATOR_ALERT or kind is LetterKind.PRACTITIONER_ALERT:
        about = f"referral {ref}" if ref else "a message from an unknown sender"
        urgent = values["alert_kind"] in {a.value for a in URGENT_ALERTS}
        subject = f"Harbour{' (urgent)' if urgent else ''}: {about} needs attention"
    elif not ref:
        subject = subject.replace(" ()", "")

    greeting = {
        Recipient.CLIENT: values["client_first_name"],
        Recipient.REFERRER: values["referrer_name"],
        Recipient.PRACTITIONER: values["practitioner_first_name"],
    }.get(role)
    values.update(
        recipient=role.value,
        greeting_name=greeting,
        show_crisis=role is Recipient.CLIENT and kind in CLIENT_LETTERS,
        subject=subject,
        decline_phrase=_phrase(
            DeclineReason, DECLINE_PHRASES, values["decline_reason"], DECLINE_FALLBACK
        ),
        alert_phrase=_phrase(AlertKind, ALERT_PHRASES, values["alert_kind"], ALERT_FALLBACK),
        removal_phrase=_phrase(
            RemovalReason, REMOVAL_PHRASES, values["removal_reason"], REMOVAL_FALLBACK
        ),
        session_when=readable_datetime(values["session_at"])
        or "at the time you arranged with your practitioner",
        estimate_sentence=estimate_sentence(
            values["estimate_weeks_low"], values["estimate_weeks_high"]
        ),
        wait_range=wait_range(values["estimate_weeks_low"], values["estimate_weeks_high"]),
        read_within=settings.inbox_read_within,
        crisis=kind is LetterKind.CRISIS_REPLY,
        reply_words=reply_words(values["reply_code"], str(values["service_phone"] or "")),
    )
    return kind, values


class _Refused(Exception):
    """A gateway refused one notification for good (the rest of the batch still goes)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _client_routes(notification: Notification) -> list[Route]:
    """A client letter's routes; letters queued before routes existed carry an address."""
    if notification.routes:
        return notification.routes
    routes = []
    if notification.to_address:
        routes.append(Route(channel=ContactChannel.EMAIL, address=notification.to_address))
    if notification.to_phone:
        routes.append(Route(channel=ContactChannel.SMS, address=notification.to_phone))
    return routes


class _Undeliverable(Exception):
    """A permanent problem with one notification (the others in the batch still go)."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# A letter already in one of these states has gone: a retry never sends it again.
GONE = frozenset({"sent", "delivered", "suppressed"})
# Texts that go at once whatever the hourly limit per number: help now, the holding reply (at
# most one an hour), and the question a STOP asks: the person is there, waiting for it.
UNLIMITED_TEXTS = frozenset(
    {
        LetterKind.CRISIS_REPLY,
        LetterKind.HOLDING_REPLY,
        LetterKind.WITHDRAWAL_CONFIRMATION_REQUEST,
    }
)
# How long to wait before trying a gateway that answered 429 (rate limit) again.
RATE_LIMIT_BACKOFF = timedelta(seconds=60)


def notify_client(settings: Settings) -> NotificationsAPIClient | None:
    """GOV.UK Notify's client from the settings, or None when no key is configured."""
    if settings.notify_api_key is None:
        return None
    return NotificationsAPIClient(
        settings.notify_api_key.get_secret_value(), base_url=settings.notify_base_url, timeout=10
    )


class NotificationActivities:
    """Sends the workflow's letters and alerts by email (SMTP) and text (GOV.UK Notify),
    recorded in the outbox."""

    def __init__(
        self,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        pseudonym_key: bytes,
        keyring: KeyRing,
    ) -> None:
        self._settings = settings
        self._session_factory = session_factory
        self._pseudonym_key = pseudonym_key
        self._keyring = keyring
        self._link_signer = LinkSigner(pseudonym_key)
        # Texts need a template as well as a key; without both, texts cannot go.
        self._notify = notify_client(settings) if settings.notify_sms_template_id else None

    @activity.defn(name=SEND_NOTIFICATIONS)
    async def send_notifications(self, notifications: list[Notification]) -> list[SendResult]:
        """Send each notification at most once (outbox keyed by ``notification.key``).

        Channels: a client letter goes by the first of its routes (chosen by
        ``models.correspondence``) whose contact is not known to be unreachable — by text
        through GOV.UK Notify (``reference`` = the key) or by email. Referrers get email at
        ``to_address``; practitioners are looked up in the registry; coordinators and the
        duty lead get the settings' addresses.

        A batch costs one outbox read, one write recording every attempt ("sending") before
        anything is sent, one SMTP connection, the texts one by one, and one write marking
        what was sent. A text retried after a crash is first looked up at Notify by its
        reference, so a retry never sends it twice.

        Failures: an SMTP, Notify or database outage, or Notify's 429, raises a retryable
        error (Temporal retries; the outbox skips what was already sent) — the texts of a batch
        are still sent when the mail server is down; more texts to one
        number in an hour than the policy allows wait for the hour to pass. A notification that
        can never be delivered (no address, unreachable, a template problem, recipient refused)
        is recorded in the outbox, the rest of the batch is still sent, and then a
        non-retryable ``ApplicationError`` names the keys — never an address or a name.
        """
        statuses = await self._outbox_statuses([n.key for n in notifications])
        registry = await self._practitioners(
            {n.practitioner_id for n in notifications if n.practitioner_id}
        )
        unreachable = await self._unreachable(notifications)
        results: dict[str, SendResult] = {}
        attempts: list[_Attempt] = []
        problems: list[str] = []
        seen: set[str] = set()
        for notification in notifications:
            if notification.key in seen:
                continue  # the same letter twice in one batch goes once
            seen.add(notification.key)
            prepared = self._prepare(
                notification, statuses.get(notification.key), registry, unreachable
            )
            if isinstance(prepared, SendResult):
                results[notification.key] = prepared
                continue
            attempts.append(prepared)
            if prepared.problem is not None:
                problems.append(f"{notification.key}: {prepared.problem}")
        emails = [a for a in attempts if a.email is not None]
        texts = [a for a in attempts if a.sms is not None]
        # Record every attempt before sending: if we crash after sending, the retry resends
        # with the same Message-ID (or finds the text at Notify) rather than losing the letter.
        await self._record(attempts)
        try:
            sent, refused = await self._smtp_send_all(emails)
        except ApplicationError as mail_failure:
            # A mail outage must not hold back the batch's texts (the question that confirms a
            # withdrawal goes to the client by text, the coordinators' alert by email, in one
            # batch): send them, then retry the emails.
            await self._notify_send_all(texts, statuses)
            raise mail_failure from None
        texted, text_refused, suppressed = await self._notify_send_all(texts, statuses)
        refused |= text_refused
        problems += [f"{key}: {reason}" for key, reason in refused.items()]
        for letter in [*emails, *texts]:
            if letter.notification.key in sent or letter.notification.key in texted:
                results[letter.notification.key] = letter.result("sent")
            elif letter.notification.key in suppressed:
                results[letter.notification.key] = letter.result("suppressed")
        if problems:
            raise ApplicationError(
                "undeliverable notifications: " + "; ".join(problems),
                type="NotificationUndeliverable",
                non_retryable=True,
            )
        return [results[n.key] for n in notifications]

    @activity.defn(name=REDELIVER_NOTIFICATION)
    async def redeliver_notification(self, redelivery: Redelivery) -> list[SendResult]:
        """A text failed for good: send the same letter by the client's next permitted
        channel (its contact is now marked unreachable, so the route is skipped) and tell
        coordinators the client could not be reached by text."""
        try:
            async with self._session_factory() as session:
                row = await session.get(OutboxRow, redelivery.key)
        except SQLAlchemyError as exc:
            raise _database_error(exc) from None
        if row is None or row.payload is None:
            return []
        original = Notification.model_validate_json(self._keyring.unseal(row.payload))
        alert = Notification(
            key=f"{redelivery.key}:unreachable",
            ref=original.ref,
            kind=LetterKind.COORDINATOR_ALERT,
            recipient=Recipient.COORDINATORS,
            context={"ref": original.ref, "alert_kind": AlertKind.CLIENT_UNREACHABLE.value},
        )
        fallback = original.model_copy(update={"key": f"{redelivery.key}:fallback"})
        return await self.send_notifications([alert, fallback])

    def _prepare(
        self,
        notification: Notification,
        existing: str | None,
        registry: Mapping[str, PractitionerRow],
        unreachable: set[str],
    ) -> SendResult | _Attempt:
        """What to do with one notification: a result already known (sent before), or the
        outbox attempt to record — with the email or text to send, or why it cannot go."""
        log = _log.bind(
            ref=notification.ref,
            kind=notification.kind.value,
            recipient_role=notification.recipient.value,
            key=notification.key,
        )
        message_id = message_id_for(notification.key)
        if existing in GONE:
            log.info("notification.already_sent")
            return SendResult(key=notification.key, status="already_sent", message_id=message_id)

        def attempt(
            channel: str,
            address: str | None,
            subject: str,
            status: str,
            problem: str | None = None,
            email: tuple[str, EmailMessage] | None = None,
            sms: tuple[str, str] | None = None,
        ) -> _Attempt:
            return _Attempt(
                notification,
                channel,
                address,
                subject,
                message_id,
                status,
                log,
                problem,
                email,
                sms,
                existing,
            )

        notification = _with_practitioner_name(notification, registry)
        notification = self._with_link(notification)
        try:
            route = self._route(notification, registry, unreachable)
            subject, text, html = render(
                notification.kind,
                notification.context,
                self._settings,
                notification.recipient,
                discreet=notification.discreet,
            )
            if route.channel is ContactChannel.SMS:
                sms_text = render_sms(
                    notification.kind,
                    notification.context,
                    self._settings,
                    discreet=notification.discreet,
                )
        except _Undeliverable as exc:
            log.warning("notification.undeliverable", problem=exc.status)
            return attempt("email", None, "", exc.status, problem=exc.reason)
        except LetterRenderError as exc:
            log.error("notification.undeliverable", problem="render_failed")
            return attempt("email", None, "", "render_failed", problem=str(exc))

        if route.channel is ContactChannel.SMS:
            return attempt("sms", None, subject, "sending", sms=(route.address, sms_text))

        try:
            message = self._build_message(
                notification, route.address, subject, text, html, message_id
            )
        except (ValueError, TypeError):
            # e.g. a line break in an address or ref: the header is refused; retrying cannot help.
            log.warning("notification.undeliverable", problem="bad_header")
            problem = "a value is not usable in an email header"
            return attempt("email", None, subject, "bad_header", problem=problem)
        # Client addresses stay in the encrypted workflow state, not in the read model.
        stored_address = None if notification.recipient is Recipient.CLIENT else route.address
        return attempt("email", stored_address, subject, "sending", email=(route.address, message))

    def _with_link(self, notification: Notification) -> Notification:
        link = client_link(self._link_signer, self._settings, notification)
        if link is None:
            return notification
        return notification.model_copy(update={"context": {**notification.context, "link": link}})

    def _route(
        self,
        notification: Notification,
        registry: Mapping[str, PractitionerRow],
        unreachable: set[str],
    ) -> Route:
        """The route of the notification's recipient, or raise ``_Undeliverable``."""
        match notification.recipient:
            case Recipient.CLIENT:
                routes = _client_routes(notification)
                if self._notify is None:
                    # No text gateway configured: a text cannot go, the next channel may.
                    routes = [r for r in routes if r.channel is not ContactChannel.SMS]
                # A reply goes back to the number that just wrote to us, whatever a receipt
                # once said of it: it has just shown that it works.
                skip = set() if notification.kind in REPLIES else unreachable
                route = first_reachable(routes, skip)
                if route is not None:
                    return route
                if routes:
                    raise _Undeliverable("unreachable", "every contact of the client failed")
            case Recipient.REFERRER:
                if notification.to_address:
                    return Route(channel=ContactChannel.EMAIL, address=notification.to_address)
            case Recipient.PRACTITIONER:
                row = registry.get(notification.practitioner_id or "")
                if row is not None and row.email:
                    return Route(channel=ContactChannel.EMAIL, address=row.email)
            case Recipient.COORDINATORS:
                if self._settings.coordinators_email:
                    return Route(
                        channel=ContactChannel.EMAIL, address=self._settings.coordinators_email
                    )
            case Recipient.DUTY_LEAD:
                if self._settings.duty_lead_email:
                    return Route(
                        channel=ContactChannel.EMAIL, address=self._settings.duty_lead_email
                    )
        raise _Undeliverable("no_address", f"no address for the {notification.recipient.value}")

    def _build_message(
        self,
        notification: Notification,
        address: str,
        subject: str,
        text: str,
        html: str,
        message_id: str,
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.mail_from
        message["To"] = address
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = message_id
        if notification.recipient is Recipient.CLIENT and self._settings.reply_to:
            # Replies reach the inbound route, so "reply RETURN" works by email too.
            message["Reply-To"] = self._settings.reply_to
        message["X-Harbour-Ref"] = notification.ref
        message["X-Harbour-Kind"] = notification.kind.value
        alert = notification.context.get("alert_kind")
        if isinstance(alert, str) and alert in AlertKind._value2member_map_:
            # A code, so coordinators can filter mail; it says nothing clinical.
            message["X-Harbour-Alert"] = alert
        # RFC 3834: keeps out-of-office auto-replies from landing in the coordinators' inbox.
        message["Auto-Submitted"] = "auto-generated"
        # Quoted-printable keeps the message 7-bit clean for any relay (no 8BITMIME needed).
        message.set_content(text, cte="quoted-printable")
        message.add_alternative(html, subtype="html", cte="quoted-printable")
        return message

    async def _smtp_send_all(self, outgoing: list[_Attempt]) -> tuple[set[str], dict[str, str]]:
        """Send the batch over one SMTP connection: (keys sent, keys refused for good → why).

        Whatever happens, what was sent (and refused) is marked in the outbox before this
        returns or raises, so a retry resends only what did not go.
        """
        sent: set[str] = set()
        refused: dict[str, str] = {}
        if not outgoing:
            return sent, refused
        settings = self._settings
        credentials = (
            {"username": settings.smtp_username, "password": settings.smtp_password}
            if settings.smtp_username and settings.smtp_password
            else {}
        )
        # TLS only when configured: implicit TLS on 465, STARTTLS elsewhere. Off means off
        # (no opportunistic STARTTLS), so the local sink works without certificates.
        implicit_tls = settings.smtp_use_tls and settings.smtp_port == 465
        smtp = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            use_tls=implicit_tls,
            start_tls=settings.smtp_use_tls and not implicit_tls,
            timeout=30,
            **credentials,
        )
        sender = parseaddr(settings.mail_from)[1]
        current: _Attempt | None = None
        try:
            async with smtp:
                for current in outgoing:
                    assert current.email is not None
                    address, message = current.email
                    try:
                        await smtp.sendmail(sender, [address], _flatten(message))
                    except aiosmtplib.SMTPRecipientsRefused as exc:
                        codes = sorted({r.code for r in exc.recipients})
                        if not (codes and all(500 <= code < 600 for code in codes)):
                            current.log.warning(
                                "notification.smtp_failed",
                                error="SMTPRecipientsRefused",
                                smtp_codes=codes,
                            )
                            raise ApplicationError(
                                f"SMTP recipient temporarily refused {codes}",
                                type="SMTPTemporaryFailure",
                            ) from None
                        refused[current.notification.key] = f"recipient refused ({codes})"
                        current.log.warning(
                            "notification.undeliverable", problem="rejected", smtp_codes=codes
                        )
                        continue
                    sent.add(current.notification.key)
                    current.log.info("notification.sent")
        except (aiosmtplib.SMTPException, OSError) as exc:
            # Outage, timeout, auth or config problem: retry (Temporal backs off). Exception
            # texts can echo addresses, so only the type goes into the failure.
            log = current.log if current is not None else _log
            log.warning("notification.smtp_failed", error=type(exc).__name__)
            raise ApplicationError(
                f"SMTP send failed ({type(exc).__name__})", type="SMTPUnavailable"
            ) from None
        finally:
            if sent or refused:
                await self._mark_delivery(sorted(sent), sorted(refused))
        return sent, refused

    async def _notify_send_all(
        self, outgoing: list[_Attempt], statuses: Mapping[str, str]
    ) -> tuple[dict[str, str], dict[str, str], list[str]]:
        """Send the batch's texts through Notify: (keys sent → Notify id, keys refused → why,
        holding replies not sent because one went within the hour).

        What was sent is marked in the outbox before this returns or raises. Texts to one
        number past the hourly limit, and Notify's 429, wait (a retryable error that tells
        Temporal when to try again); an outage retries; a 400 (a number Notify will not text)
        is refused for good.
        """
        sent: dict[str, str] = {}
        refused: dict[str, str] = {}
        suppressed: list[str] = []
        if not outgoing:
            return sent, refused, suppressed
        notify = self._notify
        assert notify is not None  # texts are only prepared when a gateway is configured
        template = self._settings.notify_sms_template_id
        try:
            for current in outgoing:
                assert current.sms is not None
                number, text = current.sms
                key = current.notification.key
                if current.previous_status == "sending":
                    # Tried before and never marked: Notify may have it already (a crash
                    # between its answer and our write). Its reference is our key.
                    found = await self._notify_call(
                        current, notify.get_all_notifications, reference=key, template_type="sms"
                    )
                    earlier = found.get("notifications") or []
                    if earlier:
                        sent[key] = str(earlier[0]["id"])
                        current.log.info("notification.found_at_gateway")
                        continue
                if current.notification.kind is LetterKind.HOLDING_REPLY and (
                    await self._recent_holding_reply(number)
                ):
                    # One holding reply an hour is enough: more would only crowd the phone.
                    suppressed.append(key)
                    current.log.info("notification.holding_reply_suppressed")
                    continue
                # The crisis contacts, the holding reply and the one question after a STOP
                # never wait: the person is there now.
                urgent = current.notification.kind in UNLIMITED_TEXTS
                wait = None if urgent else await self._hourly_limit_wait(number)
                if wait is not None:
                    current.log.info("notification.sms_deferred", wait_seconds=wait.seconds)
                    raise ApplicationError(
                        "texts to one number are limited per hour; waiting",
                        type="SmsHourlyLimit",
                        next_retry_delay=wait,
                    )
                try:
                    answer = await self._notify_call(
                        current,
                        notify.send_sms_notification,
                        phone_number=number,
                        template_id=template,
                        personalisation={"body": text},
                        reference=key,
                    )
                except _Refused as exc:
                    refused[key] = exc.reason
                    continue
                sent[key] = str(answer["id"])
                current.log.info("notification.sent", channel="sms")
        finally:
            if sent or refused or suppressed:
                await self._mark_delivery(sorted(sent), sorted(refused), sent, suppressed)
        return sent, refused, suppressed

    async def _recent_holding_reply(self, number: str) -> bool:
        """Whether a holding reply went to this number within the limit's window."""
        since = datetime.now(UTC) - self._settings.effective_policy().texts_limit_window
        try:
            async with self._session_factory() as session:
                found = await session.scalar(
                    select(func.count()).where(
                        OutboxRow.recipient_key == contact_key(self._pseudonym_key, number),
                        OutboxRow.kind == LetterKind.HOLDING_REPLY.value,
                        OutboxRow.sent_at >= since,
                    )
                )
        except SQLAlchemyError as exc:
            raise _database_error(exc) from None
        return bool(found)

    async def _notify_call(self, current: _Attempt, call: Any, **kwargs: Any) -> dict[str, Any]:
        """One call to Notify's client (synchronous, so in a thread), its errors sorted into
        retry later / wait / refused for good. Errors name the status code only: Notify's
        messages can echo the number."""
        try:
            return await asyncio.to_thread(functools.partial(call, **kwargs))
        except APIError as exc:
            code = exc.status_code
            current.log.warning("notification.notify_failed", status_code=code)
            if code == 429:
                raise ApplicationError(
                    "Notify rate limit (429)",
                    type="NotifyRateLimited",
                    next_retry_delay=RATE_LIMIT_BACKOFF,
                ) from None
            if code == 400:
                raise _Refused(f"text refused by the gateway ({code})") from None
            raise ApplicationError(
                f"Notify unavailable ({code})", type="NotifyUnavailable"
            ) from None

    async def _hourly_limit_wait(self, number: str) -> timedelta | None:
        """None if another text may go to this number now; else how long until one may."""
        policy = self._settings.effective_policy()
        limit = policy.texts_per_number_per_hour
        since = datetime.now(UTC) - policy.texts_limit_window
        recipient = contact_key(self._pseudonym_key, number)
        try:
            async with self._session_factory() as session:
                count, oldest = (
                    await session.execute(
                        select(func.count(), func.min(OutboxRow.sent_at)).where(
                            OutboxRow.recipient_key == recipient, OutboxRow.sent_at >= since
                        )
                    )
                ).one()
        except SQLAlchemyError as exc:
            raise _database_error(exc) from None
        if count < limit:
            return None
        oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        return max(oldest_at - since, timedelta(seconds=1))

    async def _unreachable(self, notifications: list[Notification]) -> set[str]:
        """The client addresses in the batch that a gateway reported failing for good."""
        by_key = {
            contact_key(self._pseudonym_key, route.address): route.address
            for n in notifications
            if n.recipient is Recipient.CLIENT
            for route in _client_routes(n)
        }
        if not by_key:
            return set()
        try:
            async with self._session_factory() as session:
                return {by_key[k] for k in await unreachable_among(session, by_key)}
        except SQLAlchemyError as exc:
            raise _database_error(exc) from None

    # --- outbox -----------------------------------------------------------------------------

    async def _outbox_statuses(self, keys: list[str]) -> dict[str, str]:
        try:
            async with self._session_factory() as session:
                rows = await session.execute(
                    select(OutboxRow.key, OutboxRow.status).where(OutboxRow.key.in_(keys))
                )
                return {key: status for key, status in rows.all()}
        except SQLAlchemyError as exc:
            raise _database_error(exc) from None

    async def _practitioners(self, ids: set[str]) -> dict[str, PractitionerRow]:
        if not ids:
            return {}
        try:
            async with self._session_factory() as session:
                rows = await session.scalars(
                    select(PractitionerRow).where(PractitionerRow.id.in_(sorted(ids)))
                )
                return {row.id: row for row in rows}
        except SQLAlchemyError as exc:
            raise _database_error(exc) from None

    # Writes go through write_transaction: on SQLite it takes the write lock up front, so a
    # read-then-update never fails half-way with "database is locked" under several workers.

    async def _record(self, attempts: list[_Attempt]) -> None:
        """Insert or update the outbox row of each attempt, counting the attempt."""
        if not attempts:
            return
        now = datetime.now(UTC)
        try:
            async with write_transaction(self._session_factory) as session:
                for a in attempts:
                    values = {
                        "key": a.notification.key,
                        "ref": a.notification.ref,
                        "kind": a.notification.kind.value,
                        "recipient_role": a.notification.recipient.value,
                        "channel": a.channel,
                        "recipient": a.address,
                        "subject": a.subject,
                        "message_id": a.message_id,
                        "status": a.status,
                        "attempts": 1,
                        "created_at": now,
                        "recipient_key": None
                        if a.sms is None
                        else contact_key(self._pseudonym_key, a.sms[0]),
                        # Kept sealed so a failed text can be sent again by another channel.
                        "payload": self._keyring.seal(a.notification.model_dump_json().encode())
                        if a.notification.recipient is Recipient.CLIENT
                        else None,
                    }
                    upsert = insert_for(session, OutboxRow).values(**values)
                    await session.execute(
                        upsert.on_conflict_do_update(
                            index_elements=[OutboxRow.key],
                            set_={
                                k: upsert.excluded[k]
                                for k in (
                                    "channel",
                                    "recipient",
                                    "subject",
                                    "message_id",
                                    "status",
                                    "recipient_key",
                                    "payload",
                                )
                            }
                            | {"attempts": OutboxRow.attempts + 1},
                        )
                    )
        except SQLAlchemyError as exc:
            raise _database_error(exc) from None

    async def _mark_delivery(
        self,
        sent: list[str],
        rejected: list[str],
        provider_ids: Mapping[str, str] | None = None,
        suppressed: list[str] | None = None,
    ) -> None:
        """Mark what the server took ("sent", with the gateway's id for texts) and what it
        refused for good."""
        try:
            async with write_transaction(self._session_factory) as session:
                if sent:
                    await session.execute(
                        update(OutboxRow)
                        .where(OutboxRow.key.in_(sent))
                        .values(status="sent", sent_at=datetime.now(UTC))
                    )
                if suppressed:
                    await session.execute(
                        update(OutboxRow)
                        .where(OutboxRow.key.in_(suppressed))
                        .values(status="suppressed")
                    )
                for key, provider_id in (provider_ids or {}).items():
                    await session.execute(
                        update(OutboxRow)
                        .where(OutboxRow.key == key)
                        .values(provider_id=provider_id)
                    )
                if rejected:
                    await session.execute(
                        update(OutboxRow)
                        .where(OutboxRow.key.in_(rejected))
                        .values(status="rejected")
                    )
        except SQLAlchemyError as exc:
            raise _database_error(exc) from None


@dataclass(frozen=True)
class _Attempt:
    """One notification's attempt: its outbox row, and the email to send (to, message) or
    why it cannot be delivered."""

    notification: Notification
    channel: str
    address: str | None  # as stored in the outbox: never a client's address
    subject: str
    message_id: str
    status: str
    log: Any
    problem: str | None = None
    email: tuple[str, EmailMessage] | None = None
    sms: tuple[str, str] | None = None  # (number, text)
    previous_status: str | None = None  # the outbox row's status before this attempt

    def result(self, status: str) -> SendResult:
        return SendResult(key=self.notification.key, status=status, message_id=self.message_id)


def client_link(signer: LinkSigner, settings: Settings, notification: Notification) -> str | None:
    """The secure link a client's letter carries, if it asks something (``models.client_links``):
    none for staff, the referrer, or a discreet letter (it must name nothing)."""
    purpose = purpose_for_letter(notification.kind)
    if purpose is None or notification.recipient is not Recipient.CLIENT or notification.discreet:
        return None
    if purpose is LinkPurpose.REQOL and notification.context.get("reqol_due") is not True:
        return None  # the baseline is recorded (or the letter predates this rule)
    token = signer.make(purpose_code(purpose), notification.ref, link_token_id(notification.key))
    return settings.public_url.rstrip("/") + LINK_PATH + token


def _with_practitioner_name(
    notification: Notification, registry: Mapping[str, PractitionerRow]
) -> Notification:
    """Letters name the practitioner by first name (the registry knows it, the workflow only
    knows their opaque id)."""
    if not notification.practitioner_id or notification.context.get("practitioner_first_name"):
        return notification
    row = registry.get(notification.practitioner_id)
    if row is None or not row.name.strip():
        return notification
    context = {**notification.context, "practitioner_first_name": row.name.split()[0]}
    return notification.model_copy(update={"context": context})


# Python folds a header longer than 78 characters by moving it all to a continuation line,
# which parsers read back with a leading space. Subjects stay far below RFC 5322's hard
# limit of 998, so letting them run long is valid and keeps them clean.
_WIRE_POLICY = SMTP_POLICY.clone(max_line_length=998)


def _flatten(message: EmailMessage) -> bytes:
    """The message as sent on the wire (CRLF line endings, unfolded short headers)."""
    return message.as_bytes(policy=_WIRE_POLICY)


def _database_error(exc: SQLAlchemyError) -> ApplicationError:
    # SQLAlchemy messages include bound parameters (addresses): keep only the type.
    _log.warning("notification.outbox_unavailable", error=type(exc).__name__)
    return ApplicationError(f"outbox unavailable ({type(exc).__name__})", type="OutboxUnavailable")
