"""Record-keeping activities: the database read model the dashboard and reports use.

Every activity is idempotent, because Temporal retries them: upserts keyed by what the
workflow computed (ref, sequence number, episode, session id), never by the attempt. Each
activity is one transaction. Log lines carry refs, ids and counts only. Free text (a session's
location, a ReQoL skip reason) is written sealed with the key ring (``readmodel.sealed_text``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from infra.database import as_utc, insert_for, write_transaction
from infra.keys import KeyRing
from models.allocation import URGENCY_RANK
from models.follow_up import RECORD_CRISIS_ACKNOWLEDGEMENT, CrisisAcknowledgement
from models.inbox_replies import RECORD_INBOX_REPLY, InboxReply, ReplyTarget
from models.records import (
    RECORD_MESSAGE_HANDLING,
    RECORD_OUTCOME,
    RECORD_SESSION,
    RECORD_TRANSITION,
    RELEASE_CASELOAD,
    RESERVE_CASELOAD,
    WAITING_POSITION,
    CaseloadRelease,
    CaseloadRequest,
    CaseloadResult,
    MessageHandling,
    OutcomeRecord,
    SessionWrite,
    TransitionRecord,
    WaitingPosition,
    WaitingPositionRequest,
)
from models.tables import (
    CaseloadRow,
    ContactRow,
    InboundMessageRow,
    LiaisonActionRow,
    OutcomeRow,
    PersonSearchRow,
    PractitionerRow,
    ReferralRow,
    SessionRow,
    TimelineEventRow,
)
from readmodel.contacts import contact_key, pseudonym
from readmodel.inbox import record_inbox_reply
from readmodel.person_search import person_rows
from readmodel.sealed_text import seal_optional, seal_text
from readmodel.waiting_list import wait_estimate

log = structlog.get_logger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


def _database_errors_by_type(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """A database error leaves the activity as a retryable ``ReadModelUnavailable`` that names
    its type only: SQLAlchemy's message quotes the statement and its parameters (typed text
    such as the referrer's organisation, contact hashes, sealed text), and an activity's failure
    is stored in Temporal unencrypted and logged by the worker."""

    @functools.wraps(fn)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except SQLAlchemyError as exc:
            log.warning("read model unavailable", error=type(exc).__name__)
            raise ApplicationError(
                f"read model unavailable ({type(exc).__name__})", type="ReadModelUnavailable"
            ) from None

    return guarded


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


class RecordActivities:
    """The read-model activities, bound to a database, the pseudonym key and the key ring."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        pseudonym_key: bytes,
        keyring: KeyRing,
    ) -> None:
        """``pseudonym_key`` keys the contact hashes and the outcome pseudonyms; ``keyring``
        seals free text (the payload codec's keys)."""
        self._sessions = session_factory
        self._key = pseudonym_key
        self._keyring = keyring

    @activity.defn(name=RECORD_TRANSITION)
    @_database_errors_by_type
    async def record_transition(self, record: TransitionRecord) -> None:
        """Upsert the referral's row, add the timeline event, index registered contacts.

        A snapshot older than the row (a lower event seq) never overwrites a newer one; the
        event is inserted once per (ref, seq); contacts are stored as keyed hashes only.
        """
        snapshot, event = record.snapshot, record.event
        at = as_utc(event.at)
        values: dict[str, Any] = {
            "ref": snapshot.ref,
            "stage": str(snapshot.stage),
            "urgency": str(snapshot.urgency),
            "referrer_organisation": snapshot.referrer_organisation,
            "received_at": as_utc(snapshot.received_at),
            "accepted_at": _utc_or_none(snapshot.accepted_at),
            "waiting_since": _utc_or_none(snapshot.waiting_since),
            "first_session_at": _utc_or_none(snapshot.first_session_at),
            "discharged_at": _utc_or_none(snapshot.discharged_at),
            "closed_reason": snapshot.closed_reason,
            "decline_reason": snapshot.decline_reason,
            "practitioner_id": snapshot.practitioner_id,
            "episode_number": snapshot.episode_number,
            "breach": snapshot.breach,
            "in_validation_queue": snapshot.in_validation_queue,
            "withdrawal_pending": snapshot.withdrawal_pending,
            "returning_to": snapshot.returning_to,
            "held": snapshot.held,
            "hold_reason": snapshot.hold_reason,
            "urgency_rank": URGENCY_RANK[snapshot.urgency],
            "last_seq": event.seq,
            "updated_at": at,
        }
        async with write_transaction(self._sessions) as session:
            upsert = insert_for(session, ReferralRow).values(**values)
            upsert = upsert.on_conflict_do_update(
                index_elements=[ReferralRow.ref],
                set_={key: upsert.excluded[key] for key in values if key != "ref"},
                # A retried or late older transition must not roll the row back.
                where=ReferralRow.last_seq <= upsert.excluded.last_seq,
            )
            await session.execute(upsert)
            await session.execute(
                insert_for(session, TimelineEventRow)
                .values(
                    ref=snapshot.ref,
                    seq=event.seq,
                    at=at,
                    kind=event.kind,
                    stage=str(event.stage),
                    detail=event.detail,
                )
                .on_conflict_do_nothing(index_elements=[TimelineEventRow.ref, TimelineEventRow.seq])
            )
            person = record.register_person
            if person is not None:
                rows = person_rows(
                    self._key, snapshot.ref, person.name, person.nhs_number, person.phone
                )
                if rows:
                    await session.execute(
                        insert_for(session, PersonSearchRow).values(rows).on_conflict_do_nothing()
                    )
            keys = {contact_key(self._key, c) for c in record.register_contacts if c.strip()}
            if keys:
                await session.execute(
                    insert_for(session, ContactRow)
                    .values(
                        [
                            {
                                "contact_key": k,
                                "ref": snapshot.ref,
                                "registered_at": at,
                                "discreet": record.contacts_discreet,
                            }
                            for k in keys
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=[ContactRow.contact_key, ContactRow.ref])
                )
        log.info("transition recorded", ref=snapshot.ref, seq=event.seq, stage=str(event.stage))

    @activity.defn(name=RECORD_SESSION)
    @_database_errors_by_type
    async def record_session(self, record: SessionWrite) -> None:
        """Upsert a session and make its liaison actions exactly those given."""
        at = as_utc(record.at)
        kinds = sorted({str(kind) for kind in record.liaison})
        key = {"ref": record.ref, "episode": record.episode, "session_id": record.session_id}
        async with write_transaction(self._sessions) as session:
            upsert = insert_for(session, SessionRow).values(
                **key,
                at=at,
                outcome=str(record.outcome),
                location=seal_text(self._keyring, record.location),
            )
            await session.execute(
                upsert.on_conflict_do_update(
                    index_elements=[SessionRow.ref, SessionRow.episode, SessionRow.session_id],
                    set_={
                        "at": upsert.excluded.at,
                        "outcome": upsert.excluded.outcome,
                        "location": upsert.excluded.location,
                    },
                )
            )
            # A corrected session record replaces its liaison list rather than adding to it.
            await session.execute(
                delete(LiaisonActionRow).where(
                    LiaisonActionRow.ref == record.ref,
                    LiaisonActionRow.episode == record.episode,
                    LiaisonActionRow.session_id == record.session_id,
                    LiaisonActionRow.kind.not_in(kinds),
                )
            )
            if kinds:
                liaison = insert_for(session, LiaisonActionRow).values(
                    [{**key, "kind": kind, "at": at} for kind in kinds]
                )
                await session.execute(
                    liaison.on_conflict_do_update(
                        index_elements=[
                            LiaisonActionRow.ref,
                            LiaisonActionRow.episode,
                            LiaisonActionRow.session_id,
                            LiaisonActionRow.kind,
                        ],
                        set_={"at": liaison.excluded.at},
                    )
                )
        log.info("session recorded", ref=record.ref, episode=record.episode, liaison=len(kinds))

    @activity.defn(name=RECORD_OUTCOME)
    @_database_errors_by_type
    async def record_outcome(self, record: OutcomeRecord) -> None:
        """Upsert an episode's anonymised outcome under the keyed pseudonym of its ref.

        Neither the ref nor any practitioner is stored: outcomes are reported for the
        service, never per person or per practitioner.
        """
        values: dict[str, Any] = {
            "pseudonym": pseudonym(self._key, record.ref),
            "episode": record.episode,
            "period": as_utc(record.discharged_at).strftime("%Y-%m"),
            "discharge_reason": str(record.discharge_reason),
            "sessions_attended": record.sessions_attended,
            "baseline_total": record.baseline_total,
            "end_total": record.end_total,
            "baseline_skipped_reason": seal_optional(self._keyring, record.baseline_skipped_reason),
            "end_skipped_reason": seal_optional(self._keyring, record.end_skipped_reason),
            "change": record.change,
            "recovered": record.recovered,
            "reliably_recovered": record.reliably_recovered,
            "liaison": sorted({str(kind) for kind in record.liaison}),
        }
        async with write_transaction(self._sessions) as session:
            upsert = insert_for(session, OutcomeRow).values(**values)
            await session.execute(
                upsert.on_conflict_do_update(
                    index_elements=[OutcomeRow.pseudonym, OutcomeRow.episode],
                    set_={
                        key: upsert.excluded[key]
                        for key in values
                        if key not in ("pseudonym", "episode")
                    },
                )
            )
        # The ref is an opaque id, but an outcome line must not link it to the period either.
        log.info("outcome recorded", episode=record.episode)

    @activity.defn(name=RESERVE_CASELOAD)
    @_database_errors_by_type
    async def reserve_caseload(self, request: CaseloadRequest) -> CaseloadResult:
        """Put the episode on the practitioner's caseload if they exist, are active and have
        room — atomically, so concurrent reservations never exceed capacity.

        Idempotent: an episode already active on this practitioner's caseload is reserved.
        PostgreSQL serialises reservations per practitioner with ``SELECT ... FOR UPDATE`` on
        the practitioner row; SQLite with ``BEGIN IMMEDIATE`` (one writer at a time).
        """
        try:
            result = await self._reserve(request)
        except IntegrityError:
            # Two first reservations of the same (ref, episode) for different practitioners
            # raced on the primary key: run again, now seeing the winner's row.
            result = await self._reserve(request)
        log.info(
            "caseload reservation",
            ref=request.ref,
            episode=request.episode,
            practitioner_id=request.practitioner_id,
            reserved=result.reserved,
        )
        return result

    async def _reserve(self, request: CaseloadRequest) -> CaseloadResult:
        pid = request.practitioner_id
        async with write_transaction(self._sessions) as session:
            # Lock order (practitioner, then caseload row) is the same in every reservation.
            practitioner = (
                await session.execute(
                    select(PractitionerRow).where(PractitionerRow.id == pid).with_for_update()
                )
            ).scalar_one_or_none()
            existing = (
                await session.execute(
                    select(CaseloadRow)
                    .where(CaseloadRow.ref == request.ref, CaseloadRow.episode == request.episode)
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if existing is not None and existing.ended_at is None:
                if existing.practitioner_id == pid:
                    return CaseloadResult(reserved=True)
                return CaseloadResult(
                    reserved=False,
                    reason=f"referral {request.ref} episode {request.episode} is already on "
                    "another practitioner's caseload",
                )
            if practitioner is None:
                return CaseloadResult(reserved=False, reason=f"unknown practitioner {pid}")
            if not practitioner.active:
                return CaseloadResult(reserved=False, reason=f"practitioner {pid} is on leave")
            active = (
                await session.execute(
                    select(func.count())
                    .select_from(CaseloadRow)
                    .where(CaseloadRow.practitioner_id == pid, CaseloadRow.ended_at.is_(None))
                )
            ).scalar_one()
            if active >= practitioner.capacity:
                return CaseloadResult(
                    reserved=False,
                    reason=f"practitioner {pid} has no caseload room "
                    f"({active} of {practitioner.capacity})",
                )
            if existing is not None:
                # The episode was released earlier: it comes back onto a caseload.
                existing.practitioner_id = pid
                existing.started_at = as_utc(request.at)
                existing.ended_at = None
            else:
                session.add(
                    CaseloadRow(
                        ref=request.ref,
                        episode=request.episode,
                        practitioner_id=pid,
                        started_at=as_utc(request.at),
                        ended_at=None,
                    )
                )
        return CaseloadResult(reserved=True)

    @activity.defn(name=RELEASE_CASELOAD)
    @_database_errors_by_type
    async def release_caseload(self, release: CaseloadRelease) -> None:
        """Take the episode off its practitioner's caseload (once: the first end time stays)."""
        async with write_transaction(self._sessions) as session:
            await session.execute(
                update(CaseloadRow)
                .where(
                    CaseloadRow.ref == release.ref,
                    CaseloadRow.episode == release.episode,
                    CaseloadRow.ended_at.is_(None),
                    *(
                        [CaseloadRow.practitioner_id == release.practitioner_id]
                        if release.practitioner_id is not None
                        else []
                    ),
                )
                .values(ended_at=as_utc(release.at))
            )
        log.info("caseload released", ref=release.ref, episode=release.episode)

    @activity.defn(name=WAITING_POSITION)
    @_database_errors_by_type
    async def waiting_position(self, request: WaitingPositionRequest) -> WaitingPosition:
        """Where the referral stands on the waiting list, with an honest wait range: the
        figures of ``readmodel.waiting_list.wait_estimate``, as the API and dashboard show."""
        now = as_utc(request.at) if request.at is not None else _activity_now()
        async with self._sessions() as session:
            position, total, low, high = await wait_estimate(session, request.ref, now)
        return WaitingPosition(
            position=position,
            waiting_total=total,
            estimate_weeks_low=low,
            estimate_weeks_high=high,
        )

    @activity.defn(name=RECORD_MESSAGE_HANDLING)
    @_database_errors_by_type
    async def record_message_handling(self, handling: MessageHandling) -> None:
        """Record how the workflow read a stored inbound message (intent, crisis, inbox).

        A message acts only on its own referral: handling that names another referral than
        the one the message was matched to is refused. A message a coordinator has already
        resolved stays resolved.
        """
        async with write_transaction(self._sessions) as session:
            row = (
                await session.execute(
                    select(InboundMessageRow)
                    .where(InboundMessageRow.id == handling.message_id)
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if row is None:
                raise ApplicationError(
                    f"unknown inbound message {handling.message_id}",
                    type="UnknownInboundMessage",
                    non_retryable=True,
                )
            if row.ref is not None and row.ref != handling.ref:
                raise ApplicationError(
                    f"inbound message {handling.message_id} belongs to another referral",
                    type="MessageReferralMismatch",
                    non_retryable=True,
                )
            row.ref = handling.ref
            row.intent = str(handling.intent)
            row.crisis = handling.crisis
            if row.resolved_at is None:
                row.in_inbox = handling.to_inbox
                row.status = "handled"
        log.info(
            "message handling recorded",
            message_id=handling.message_id,
            ref=handling.ref,
            intent=str(handling.intent),
            to_inbox=handling.to_inbox,
        )

    @activity.defn(name=RECORD_CRISIS_ACKNOWLEDGEMENT)
    @_database_errors_by_type
    async def record_crisis_acknowledgement(self, acknowledgement: CrisisAcknowledgement) -> None:
        """Record who acknowledged a crisis alert, and when (the first acknowledgement stays)."""
        async with write_transaction(self._sessions) as session:
            await session.execute(
                update(InboundMessageRow)
                .where(
                    InboundMessageRow.id == acknowledgement.message_id,
                    InboundMessageRow.crisis_acknowledged_at.is_(None),
                )
                .values(
                    crisis_acknowledged_at=acknowledgement.at or _activity_now(),
                    crisis_acknowledged_by=acknowledgement.coordinator,
                )
            )
        log.info("crisis alert acknowledged", message_id=acknowledgement.message_id)

    @activity.defn(name=RECORD_INBOX_REPLY)
    @_database_errors_by_type
    async def record_inbox_reply(self, reply: InboxReply) -> ReplyTarget:
        """Record a coordinator's coded reply on the message (the first stays) and return
        where it goes (the sender's own address; encrypted in the workflow's history)."""
        return await record_inbox_reply(
            self._sessions, self._keyring, reply, reply.at or _activity_now()
        )


def _activity_now() -> datetime:
    """ "Now" for an activity: the time the server scheduled this attempt (which follows a
    time-skipping test server's clock), else the wall clock (called outside Temporal)."""
    if activity.in_activity():
        return as_utc(activity.info().current_attempt_scheduled_time)
    return datetime.now(UTC)
