"""What every fault scenario asserts at the end, and the figures it prints.

Once the faults are over:

1. every referral reaches the stage of its journey — in its workflow and in the read model;
2. every letter its timeline calls for (``EXPECTED_LETTERS``, keyed ``ref:seq:kind:recipient``
   as the workflow keys them) reaches the SMTP server or Notify; the time this takes after the
   last fault is the recovery time;
3. no letter was sent that the timeline does not call for; a letter that reached the server
   twice carried the same Message-ID (email) or Notify reference (text) both times;
4. no letter was marked sent before the server accepted it;
5. the read model holds every event of every timeline;
6. every timer fired within a minute of its due time, and none is overdue by more than that;
7. no client's name or contact, no clinical text and no typed location reached the worker's
   log or Temporal's history in clear (payloads are encrypted; failure messages are not).

A letter or event that is missing is looked for again until a deadline: the worker may still
be catching up. What is wrong is wrong at any time, and is reported at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from activities.notifications import message_id_for
from infra.database import as_utc
from models.notifications import ContactChannel, LetterKind, Recipient
from models.referral import ReferralView
from models.tables import OutboxRow, ReferralRow, TimelineEventRow
from tests.factories import CLINICAL_MARKER
from tests.faults.journeys import LOCATION_MARKER, Referral, Staff, Timers
from tests.faults.smtp_server import Accepted
from tests.faults.stack import FaultStack
from tests.helpers import raw_history_text
from workflows.referral import workflow_id

# Bounds, not expectations: how long the stack may take to catch up once the faults are over.
SETTLE_TIMEOUT = 240.0
TIMER_GRACE = timedelta(minutes=1)
DELIVERED = frozenset({"sent", "delivered"})

_C, _R = Recipient.CLIENT, Recipient.REFERRER
# The letters each timeline event calls for, as (kind, recipient), for the journeys here.
EXPECTED_LETTERS: dict[str, tuple[tuple[LetterKind, Recipient], ...]] = {
    "received": ((LetterKind.ACKNOWLEDGEMENT, _R), (LetterKind.ACKNOWLEDGEMENT, _C)),
    "accepted": ((LetterKind.ACCEPTED, _R), (LetterKind.WAITING_LIST, _C)),
    "declined": ((LetterKind.DECLINED, _R), (LetterKind.DECLINED, _C)),
    "information_requested": ((LetterKind.INFORMATION_REQUEST, _R),),
    "triage_reminder": ((LetterKind.COORDINATOR_ALERT, Recipient.COORDINATORS),),
    "checkin": ((LetterKind.CHECKIN, _C),),
    "allocated": (
        (LetterKind.ALLOCATION, _C),
        (LetterKind.PRACTITIONER_ALERT, Recipient.PRACTITIONER),
        (LetterKind.ALLOCATION, _R),
    ),
    "session_recorded": (),
    "discharged": ((LetterKind.DISCHARGE, _R), (LetterKind.DISCHARGE, _C)),
}
VALIDATION_ALERT = (LetterKind.COORDINATOR_ALERT, Recipient.COORDINATORS)


@dataclass(frozen=True)
class ExpectedLetter:
    key: str
    ref: str
    seq: int
    channel: ContactChannel


@dataclass
class FaultFigures:
    """What a scenario prints (and BENCHMARKS.md records)."""

    scenario: str
    database: str
    referrals: int = 0
    emails: int = 0
    texts: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    fault_seconds: float = 0.0  # how long the faults were in force, in all
    duplicates: int = 0
    activity_failures: int = 0  # activity attempts that failed and were retried
    staff_retries: int = 0
    timers: int = 0
    max_timer_lateness: float = 0.0
    latest_timer: str = ""  # which timer was latest (its kind)
    recovery_seconds: float = 0.0
    wall_seconds: float = 0.0

    def line(self) -> str:
        faults = ", ".join(f"{name} x{count}" for name, count in self.faults.items())
        return (
            f"{self.scenario} [{self.database}]: {self.referrals} referrals, "
            f"{self.emails + self.texts} letters ({self.emails} emails, {self.texts} texts), "
            f"faults: {faults} ({self.fault_seconds:.1f}s in force); "
            f"duplicates (same id) {self.duplicates}; {self.activity_failures} activity "
            f"attempts failed and retried, staff retries {self.staff_retries}; "
            f"{self.timers} timers, latest {self.max_timer_lateness:.1f}s after due"
            f"{f' ({self.latest_timer})' if self.latest_timer else ''}; "
            f"recovered {self.recovery_seconds:.1f}s after the last fault; "
            f"{self.wall_seconds:.0f}s in all"
        )


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float, what: str, stack: FaultStack
) -> Any:
    """Await ``check()`` until it returns without an AssertionError; past ``timeout`` fail
    with its last complaint and the children's logs."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except AssertionError as error:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what}: not within {timeout:.0f}s: {error}\n{stack.diagnostics()}"
                ) from None
        await _pause()


async def _pause() -> None:
    await asyncio.sleep(0.2)


def expected_letters(referral: Referral, view: ReferralView) -> list[ExpectedLetter]:
    """The letters the referral's timeline calls for (only events of its journeys expected)."""
    letters = []
    queued = False
    for event in view.timeline:
        assert event.kind in EXPECTED_LETTERS, (
            f"{view.ref}: unexpected event {event.kind!r} on a {referral.journey} journey"
        )
        wanted = list(EXPECTED_LETTERS[event.kind])
        if event.kind == "checkin" and event.detail.get("validation_queue") and not queued:
            queued = True  # the check-in that puts it in the validation queue alerts, once
            wanted.append(VALIDATION_ALERT)
        for kind, recipient in wanted:
            channel = referral.channel if recipient is Recipient.CLIENT else ContactChannel.EMAIL
            key = f"{view.ref}:{event.seq}:{kind.value}:{recipient.value}"
            letters.append(ExpectedLetter(key, view.ref, event.seq, channel))
    return letters


def timer_lateness(
    referral: Referral, view: ReferralView, timers: Timers
) -> list[tuple[float, str]]:
    """Seconds between each timer's due time and its firing (the event's workflow time), with
    the timer's kind."""
    policy = timers.policy(referral.journey)
    late: list[tuple[float, str]] = []
    anchor: datetime | None = None  # when the current stage's clock started
    fired = 0
    for event in view.timeline:
        if event.kind in ("received", "information_requested"):
            anchor, fired = event.at, 0
        elif event.kind == "accepted":
            anchor = event.at
        elif event.kind == "triage_reminder":
            assert anchor is not None
            due = anchor + policy.triage_deadline + fired * policy.triage_reminder_every
            late.append(((event.at - due).total_seconds(), "triage reminder"))
            fired += 1
        elif event.kind == "checkin":
            assert anchor is not None
            late.append(((event.at - (anchor + policy.checkin_every)).total_seconds(), "check-in"))
            anchor = event.at
    return late


async def settle_and_check(
    stack: FaultStack,
    referrals: list[Referral],
    staff: Staff,
    figures: FaultFigures,
    *,
    faults_over_at: float,
) -> FaultFigures:
    """Wait (bounded) for the stack to catch up after the faults, then assert everything in
    this module's docstring; fill in and return ``figures``."""
    by_ref = {r.ref: r for r in referrals}
    assert len(by_ref) == len(referrals) and all(by_ref), "some referral was never submitted"

    async def stages_reached() -> dict[str, ReferralView]:
        views = {ref: await staff.read(ref) for ref in by_ref}
        wrong = {r: (v.stage.value, by_ref[r].final_stage.value) for r, v in views.items()}
        wrong = {r: pair for r, pair in wrong.items() if pair[0] != pair[1]}
        assert not wrong, f"{len(wrong)} referrals not where their journey ends: {wrong}"
        async with stack.sessions() as session:
            rows = dict((await session.execute(select(ReferralRow.ref, ReferralRow.stage))).all())
        stale = {r: rows.get(r) for r in by_ref if rows.get(r) != by_ref[r].final_stage.value}
        assert not stale, f"read model stages differ: {stale}"
        return views

    views: dict[str, ReferralView] = await eventually(
        stages_reached, SETTLE_TIMEOUT, "every referral in its journey's stage", stack
    )
    snapshot_at = datetime.now(UTC)
    expected = {
        letter.key: letter
        for ref, view in views.items()
        for letter in expected_letters(by_ref[ref], view)
    }
    last_seq = {ref: max(e.seq for e in view.timeline) for ref, view in views.items()}

    async def all_delivered() -> tuple[dict[str, OutboxRow], dict[str, list[Accepted]], list]:
        async with stack.sessions() as session:
            rows = {
                row.key: row
                for row in await session.scalars(
                    select(OutboxRow).where(OutboxRow.ref.in_(list(by_ref)))
                )
            }
        copies = stack.smtp.copies()
        texts = await stack.notify.texts()
        references = {t.get("reference") for t in texts}
        missing = []
        for key, letter in expected.items():
            row = rows.get(key)
            if row is None or row.status not in DELIVERED:
                missing.append(f"{key} ({row.status if row else 'no outbox row'})")
            elif letter.channel is ContactChannel.EMAIL and row.message_id not in copies:
                missing.append(f"{key} (marked {row.status}, never reached the SMTP server)")
            elif letter.channel is ContactChannel.SMS and key not in references:
                missing.append(f"{key} (marked {row.status}, never reached Notify)")
        assert not missing, f"{len(missing)} letters not delivered, e.g. {missing[:5]}"
        return rows, copies, texts

    rows, copies, texts = await eventually(
        all_delivered, SETTLE_TIMEOUT, "every letter delivered", stack
    )
    figures.recovery_seconds = max(0.0, time.monotonic() - faults_over_at)

    problems: list[str] = []
    # 3. Nothing the timelines do not call for; repeats only under the same id.
    for key, row in rows.items():
        ref, seq = key.split(":")[0], int(key.split(":")[1])
        if seq <= last_seq[ref] and key not in expected:
            problems.append(f"outbox has a letter no event called for: {key} ({row.status})")
        if key in expected:
            if row.message_id != message_id_for(key):
                problems.append(f"{key}: Message-ID {row.message_id} is not derived from its key")
            if row.channel != expected[key].channel.value:
                problems.append(f"{key}: went by {row.channel}, not {expected[key].channel}")
    wanted_ids = {message_id_for(k): k for k, e in expected.items() if e.channel.value == "email"}
    for message_id, accepted in copies.items():
        ours = [a for a in accepted if a.ref in by_ref]
        if ours and message_id not in wanted_ids:
            # A later event's letter is fine; anything else is a stray (or re-keyed) copy.
            later = any(
                row.message_id == message_id and int(k.split(":")[1]) > last_seq[row.ref]
                for k, row in rows.items()
            )
            if not later:
                problems.append(
                    f"an email for {ours[0].ref} ({ours[0].kind}) with Message-ID {message_id} "
                    "that no event called for"
                )
    text_copies: dict[str, list[dict[str, Any]]] = {}
    for text in texts:
        reference = str(text.get("reference") or "")
        if reference.split(":")[0] in by_ref:
            text_copies.setdefault(reference, []).append(text)
    for reference in text_copies:
        ref, seq = reference.split(":")[0], int(reference.split(":")[1])
        if seq <= last_seq[ref] and reference not in expected:
            problems.append(f"a text no event called for: {reference}")
    # 4. Never marked sent before the server had it.
    for key, letter in expected.items():
        row = rows[key]
        assert row.sent_at is not None
        sent_at = as_utc(row.sent_at)
        if letter.channel is ContactChannel.EMAIL:
            first = min(a.accepted_at for a in copies[row.message_id])
        else:
            first = min(_stamp(t["created_at"]) for t in text_copies[key])
        if sent_at < first:
            problems.append(
                f"{key} marked sent at {sent_at.isoformat()}, before the server accepted it at "
                f"{first.isoformat()}"
            )
    # 5. The read model has every event of every timeline.
    async with stack.sessions() as session:
        recorded = set(
            (
                await session.execute(
                    select(TimelineEventRow.ref, TimelineEventRow.seq).where(
                        TimelineEventRow.ref.in_(list(by_ref))
                    )
                )
            ).all()
        )
    for ref, view in views.items():
        lost = [e.seq for e in view.timeline if (ref, e.seq) not in recorded]
        if lost:
            problems.append(f"{ref}: events {lost} of its timeline are not in the read model")
    # 6. Timers on time.
    lateness = [
        late
        for ref, view in views.items()
        for late in timer_lateness(by_ref[ref], view, staff.timers)
    ]
    for ref, view in views.items():
        for late, kind in timer_lateness(by_ref[ref], view, staff.timers):
            if late > TIMER_GRACE.total_seconds():
                problems.append(f"{ref}: a {kind} fired {late:.1f}s after it was due")
        due = view.next_deadline
        if due is not None and due.at < snapshot_at - TIMER_GRACE:
            problems.append(f"{ref}: its {due.kind} timer is overdue since {due.at.isoformat()}")
    # 7. Nothing personal in clear where faults leave their traces.
    secrets = {CLINICAL_MARKER, LOCATION_MARKER}
    for referral in referrals:
        secrets |= {referral.name, referral.contact, referral.contact.lstrip("+")}
    logs = [
        ("the worker's log", stack.worker.log_path.read_text(errors="replace")),
        ("Temporal's log", stack.temporal.log_path.read_text(errors="replace")),
    ]
    histories = [await raw_history_text(stack.client, workflow_id(ref)) for ref in by_ref]
    for where, text in [*logs] + [
        (f"the history of {ref}", history) for ref, history in zip(by_ref, histories, strict=True)
    ]:
        leaked = sorted(s for s in secrets if s in text)
        if leaked:
            problems.append(f"{where} holds in clear: {leaked[:3]}")
    assert not problems, f"{len(problems)} problems: " + "\n".join(problems[:20])

    emails = [e for e in expected.values() if e.channel is ContactChannel.EMAIL]
    figures.referrals = len(referrals)
    figures.emails = len(emails)
    figures.texts = len(expected) - len(emails)
    figures.duplicates = sum(len(copies[rows[e.key].message_id]) - 1 for e in emails) + sum(
        len(text_copies[e.key]) - 1 for e in expected.values() if e.channel.value == "sms"
    )
    figures.staff_retries = staff.retries
    figures.activity_failures = stack.activity_failures()
    figures.timers = len(lateness)
    if lateness:
        figures.max_timer_lateness, figures.latest_timer = max(lateness)
    return figures


def _stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
