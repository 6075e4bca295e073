"""The read model's activities and functions, on SQLite and PostgreSQL alike.

The activities are called directly (they are plain async methods); each is called twice
where Temporal could retry it, and the database must look as if it were called once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError

from activities.records import RecordActivities
from infra.database import SQLITE_BUSY_TIMEOUT_MS, alembic_config, make_engine, migrate
from models.actions import DischargeReason
from models.messages import Intent
from models.records import (
    CaseloadRelease,
    CaseloadRequest,
    MessageHandling,
    OutcomeRecord,
    ReferralSnapshot,
    SessionWrite,
    TransitionRecord,
    WaitingPositionRequest,
)
from models.referral import LiaisonKind, SessionOutcome, Stage, TimelineEvent, Urgency
from models.tables import (
    Base,
    CaseloadRow,
    ContactRow,
    InboundMessageRow,
    LiaisonActionRow,
    OutcomeRow,
    ReferralRow,
    SessionRow,
    TimelineEventRow,
)
from models.waiting_list import estimate_wait_weeks
from readmodel.contacts import contact_key, pseudonym
from readmodel.inbox import list_inbox, resolve_inbox_item, store_inbound_message
from readmodel.practitioners import add_practitioner, list_practitioners
from readmodel.sealed_text import open_text
from readmodel.timeline import get_timeline
from tests.fixtures.temporal import TEST_KEYRING

KEY = b"test pseudonym key for the read model"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def records(session_factory: Sessions) -> RecordActivities:
    return RecordActivities(session_factory, KEY, TEST_KEYRING)


def transition(
    ref: str,
    seq: int,
    stage: Stage = Stage.RECEIVED,
    *,
    at: datetime | None = None,
    urgency: Urgency = Urgency.ROUTINE,
    received_at: datetime = T0,
    contacts: list[str] | None = None,
    kind: str = "stage",
    **snapshot: Any,
) -> TransitionRecord:
    """A transition record for ``ref``: its snapshot at event ``seq``."""
    return TransitionRecord(
        snapshot=ReferralSnapshot(
            ref=ref,
            stage=stage,
            urgency=urgency,
            referrer_organisation="Harbour Surgery",
            received_at=received_at,
            **snapshot,
        ),
        event=TimelineEvent(
            seq=seq, at=at or T0 + timedelta(hours=seq), kind=kind, stage=stage, detail={"n": seq}
        ),
        register_contacts=contacts or [],
    )


async def count(session_factory: Sessions, entity: Any, *where: Any) -> int:
    async with session_factory() as session:
        query = select(func.count()).select_from(entity)
        if where:
            query = query.where(*where)
        return (await session.execute(query)).scalar_one()


async def referral_row(session_factory: Sessions, ref: str) -> ReferralRow:
    async with session_factory() as session:
        return (
            await session.execute(select(ReferralRow).where(ReferralRow.ref == ref))
        ).scalar_one()


# --- migrations -----------------------------------------------------------------------------


async def _tables_and_differences(db_url: str) -> tuple[set[str], list[Any]]:
    """The database's table names, and how its schema differs from models.tables."""
    engine = make_engine(db_url)
    try:
        async with engine.connect() as connection:

            def check(sync: Connection) -> tuple[set[str], list[Any]]:
                names = set(inspect(sync).get_table_names())
                context = MigrationContext.configure(sync, opts={"compare_type": True})
                return names, compare_metadata(context, Base.metadata)

            return await connection.run_sync(check)
    finally:
        await engine.dispose()


async def test_migrations_create_exactly_the_tables_schema(empty_db_url: str) -> None:
    # An empty database, not the tests' migrated template: this test runs the migrations.
    db_url = empty_db_url
    await migrate(db_url)
    await migrate(db_url)  # a second run is a no-op
    names, differences = await _tables_and_differences(db_url)
    assert names == set(Base.metadata.tables) | {"alembic_version"}
    assert differences == []


async def test_each_tests_database_is_the_migrated_schema(db_url: str) -> None:
    # Tests get copies of a template migrated once (tests/fixtures/database.py): the copy
    # must be the migrated schema, at the head revision, with no rows.
    names, differences = await _tables_and_differences(db_url)
    assert names == set(Base.metadata.tables) | {"alembic_version"}
    assert differences == []
    engine = make_engine(db_url)
    try:
        async with engine.connect() as connection:
            revision = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
            counts = {
                name: (await connection.execute(select(func.count()).select_from(table))).scalar()
                for name, table in Base.metadata.tables.items()
            }
    finally:
        await engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    assert revision == head is not None
    assert set(counts.values()) == {0}, counts


async def test_alembic_command_works_inside_a_running_loop(tmp_path: Path) -> None:
    # migrations/env.py runs its own loop on a thread when no connection is handed to it.
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'cli.db'}"
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    assert names == set(Base.metadata.tables) | {"alembic_version"}


async def test_sqlite_session_factory_is_migrated_and_in_wal_mode(
    sqlite_session_factory: Sessions,
) -> None:
    async with sqlite_session_factory() as session:
        mode = (await session.execute(text("PRAGMA journal_mode"))).scalar_one()
        timeout = (await session.execute(text("PRAGMA busy_timeout"))).scalar_one()
    assert (mode, timeout) == ("wal", SQLITE_BUSY_TIMEOUT_MS)
    assert await count(sqlite_session_factory, ReferralRow) == 0


# --- the wait estimate (pure) ---------------------------------------------------------------


def test_estimate_wait_weeks() -> None:
    assert estimate_wait_weeks(5, 0, 12) == (None, None)  # no allocations: no honest estimate
    # 12 allocations in 12 weeks: 1 a week -> 10th in line: 8 (faster) to 14 (slower) weeks.
    assert estimate_wait_weeks(10, 12, 12) == (8, 14)
    assert estimate_wait_weeks(1, 12, 12) == (0, 2)
    assert estimate_wait_weeks(0, 12, 12) == (0, 1)  # at least a week at the high end
    assert estimate_wait_weeks(1, 120, 12) == (0, 1)
    # Exact arithmetic: 3 a week, 9th -> 9/3.75 = 2.4 -> 2; 9/2.25 = 4 exactly -> 4 (not 5).
    assert estimate_wait_weeks(9, 36, 12) == (2, 4)
    for position in range(60):
        low, high = estimate_wait_weeks(position, 7, 12)
        assert low is not None and high is not None and 0 <= low <= high and high >= 1
    with pytest.raises(ValueError):
        estimate_wait_weeks(-1, 3, 12)
    with pytest.raises(ValueError):
        estimate_wait_weeks(1, 3, 0)
    # More urgent referrals that joined recently take their places first: 24 allocations but
    # 12 overtakers leave 1 a week for this one, as in the plain case above.
    assert estimate_wait_weeks(10, 24, 12, overtaking=12) == (8, 14)
    assert estimate_wait_weeks(10, 12, 12, overtaking=12) == (None, None)  # nothing left over
    with pytest.raises(ValueError):
        estimate_wait_weeks(1, 3, 12, overtaking=-1)


def test_keyed_hashes_normalise_and_separate_domains() -> None:
    assert contact_key(KEY, "  Sam.Client@Example.org ") == contact_key(
        KEY, "sam.client@example.org"
    )
    assert contact_key(KEY, "07700 900123") == contact_key(KEY, "+44 7700 900123")
    assert contact_key(KEY, "07700 900123") != contact_key(b"another key", "07700 900123")
    # The same text hashed as a contact and as a ref never collide.
    assert contact_key(KEY, "r00000001") != pseudonym(KEY, "r00000001")
    assert len(pseudonym(KEY, "R00000001")) == 64


# --- record_transition ----------------------------------------------------------------------


async def test_record_transition_is_idempotent_and_keeps_contacts_hashed(
    records: RecordActivities, session_factory: Sessions
) -> None:
    record = transition("R00000001", 1, contacts=["sam.client@example.org", "07700 900123", "  "])
    await records.record_transition(record)
    await records.record_transition(record)  # Temporal retried it

    assert await count(session_factory, ReferralRow) == 1
    assert await count(session_factory, TimelineEventRow) == 1
    async with session_factory() as session:
        contacts = (await session.execute(select(ContactRow))).scalars().all()
    assert {c.contact_key for c in contacts} == {
        contact_key(KEY, "sam.client@example.org"),
        contact_key(KEY, "+447700900123"),
    }
    assert all(c.ref == "R00000001" for c in contacts)
    row = await referral_row(session_factory, "R00000001")
    assert (row.stage, row.last_seq, row.urgency) == ("received", 1, "routine")


async def test_record_transition_never_rolls_the_row_back(
    records: RecordActivities, session_factory: Sessions
) -> None:
    await records.record_transition(transition("R00000002", 1))
    await records.record_transition(
        transition("R00000002", 3, Stage.WAITING, waiting_since=T0 + timedelta(days=2))
    )
    await records.record_transition(transition("R00000002", 2, Stage.TRIAGE))  # late, older

    row = await referral_row(session_factory, "R00000002")
    assert row.stage == "waiting"
    assert row.last_seq == 3
    assert row.updated_at.replace(tzinfo=UTC) == T0 + timedelta(hours=3)
    assert row.waiting_since.replace(tzinfo=UTC) == T0 + timedelta(days=2)
    # ...but the older event still joins the timeline, in sequence order.
    timeline = await get_timeline(session_factory, "R00000002")
    assert [(e.seq, e.stage) for e in timeline] == [
        (1, Stage.RECEIVED),
        (2, Stage.TRIAGE),
        (3, Stage.WAITING),
    ]
    assert timeline[1].at == T0 + timedelta(hours=2)
    assert timeline[1].detail == {"n": 2}
    assert await get_timeline(session_factory, "R-unknown") == []


# --- record_session -------------------------------------------------------------------------


async def test_record_session_upserts_session_and_liaison(
    records: RecordActivities, session_factory: Sessions
) -> None:
    session = SessionWrite(
        ref="R00000003",
        episode=1,
        session_id="s-1",
        at=T0,
        outcome=SessionOutcome.ATTENDED,
        location="café",
        liaison=[LiaisonKind.HOUSING, LiaisonKind.BENEFITS],
    )
    await records.record_session(session)
    await records.record_session(session)
    assert await count(session_factory, SessionRow) == 1
    assert await count(session_factory, LiaisonActionRow) == 2

    # A corrected record replaces the session's details and its liaison list.
    corrected = session.model_copy(
        update={"location": "beach", "liaison": [LiaisonKind.COMMUNITY_GROUP]}
    )
    await records.record_session(corrected)
    async with session_factory() as db:
        stored = (await db.execute(select(SessionRow))).scalar_one()
        kinds = (await db.execute(select(LiaisonActionRow.kind))).scalars().all()
    # The location is kept sealed; opened, it is the corrected one.
    assert "beach" not in stored.location
    assert (open_text(TEST_KEYRING, stored.location), stored.outcome) == ("beach", "attended")
    assert kinds == ["community_group"]


async def test_a_database_outage_fails_the_activity_without_quoting_what_it_wrote(
    tmp_path: Path,
) -> None:
    """Issue 10's fault injection (PostgreSQL restarted mid-transition): SQLAlchemy's error
    quotes the statement and its parameters — typed text such as the referrer's organisation,
    contact hashes — and an activity's failure is stored in Temporal unencrypted and logged by
    the worker. The failure names the error's type only, and stays retryable."""
    marker = "ORGANISATION-MARKER-5521"
    # A database the worker cannot write: its tables were never created.
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'unmigrated.db'}")
    record = transition("R00000009", 1, contacts=["a@b.example"])
    record.snapshot = record.snapshot.model_copy(update={"referrer_organisation": marker})
    try:
        records = RecordActivities(async_sessionmaker(engine), KEY, TEST_KEYRING)
        with pytest.raises(ApplicationError) as caught:
            await records.record_transition(record)
    finally:
        await engine.dispose()
    failure = caught.value
    assert not failure.non_retryable
    assert failure.type == "ReadModelUnavailable" and "OperationalError" in failure.message
    assert marker not in str(failure) and "INSERT" not in str(failure)
    assert failure.__cause__ is None and failure.__suppress_context__


# --- record_outcome -------------------------------------------------------------------------


async def test_record_outcome_is_anonymous_and_idempotent(
    records: RecordActivities, session_factory: Sessions
) -> None:
    outcome = OutcomeRecord(
        ref="R00000004",
        episode=1,
        discharged_at=datetime(2026, 5, 31, 23, 30, tzinfo=UTC),
        discharge_reason=DischargeReason.COMPLETED,
        sessions_attended=6,
        baseline_total=14,
        end_total=27,
        change="reliable_improvement",
        recovered=True,
        reliably_recovered=True,
        liaison=[LiaisonKind.HOUSING],
    )
    await records.record_outcome(outcome)
    await records.record_outcome(outcome.model_copy(update={"end_total": 28}))

    async with session_factory() as session:
        rows = (await session.execute(select(OutcomeRow))).scalars().all()
    assert len(rows) == 1
    row = rows[0]
    assert row.pseudonym == pseudonym(KEY, "R00000004")
    assert (row.period, row.end_total, row.liaison) == ("2026-05", 28, ["housing"])
    # Neither the ref nor anything else identifying appears in any column.
    columns = {c.name for c in OutcomeRow.__table__.columns}
    assert not columns & {"ref", "practitioner_id", "practitioner"}
    for column in columns:
        assert "R00000004" not in str(getattr(row, column))


# --- caseload -------------------------------------------------------------------------------


async def test_reserve_caseload_reasons_idempotency_and_release(
    records: RecordActivities, session_factory: Sessions
) -> None:
    await add_practitioner(session_factory, "p-1", "Ana Lowry", "ana@harbour.example", 2)
    await add_practitioner(session_factory, "p-2", "Ben Ode", "ben@harbour.example", 5, False)

    def ask(pid: str, ref: str, episode: int = 1) -> CaseloadRequest:
        return CaseloadRequest(practitioner_id=pid, ref=ref, episode=episode, at=T0)

    unknown = await records.reserve_caseload(ask("p-9", "R10000001"))
    assert (unknown.reserved, unknown.reason) == (False, "unknown practitioner p-9")
    away = await records.reserve_caseload(ask("p-2", "R10000001"))
    assert (away.reserved, away.reason) == (False, "practitioner p-2 is on leave")

    assert (await records.reserve_caseload(ask("p-1", "R10000001"))).reserved
    assert (await records.reserve_caseload(ask("p-1", "R10000001"))).reserved  # retried
    assert (await records.reserve_caseload(ask("p-1", "R10000002"))).reserved
    full = await records.reserve_caseload(ask("p-1", "R10000003"))
    assert (full.reserved, full.reason) == (False, "practitioner p-1 has no caseload room (2 of 2)")
    taken = await records.reserve_caseload(ask("p-2", "R10000001"))
    assert not taken.reserved and "another practitioner" in (taken.reason or "")
    assert await count(session_factory, CaseloadRow) == 2

    release = CaseloadRelease(ref="R10000001", episode=1, at=T0 + timedelta(weeks=8))
    await records.release_caseload(release)
    await records.release_caseload(release.model_copy(update={"at": T0 + timedelta(weeks=9)}))
    async with session_factory() as session:
        ended = (
            await session.execute(
                select(CaseloadRow.ended_at).where(CaseloadRow.ref == "R10000001")
            )
        ).scalar_one()
    assert ended.replace(tzinfo=UTC) == T0 + timedelta(weeks=8)  # the first release stands

    assert (await records.reserve_caseload(ask("p-1", "R10000003"))).reserved  # room again
    # A new episode for the returning client is a new caseload row.
    assert not (await records.reserve_caseload(ask("p-1", "R10000001", episode=2))).reserved
    practitioners = {p.id: p for p in await list_practitioners(session_factory)}
    assert (practitioners["p-1"].caseload, practitioners["p-1"].capacity) == (2, 2)
    assert (practitioners["p-2"].caseload, practitioners["p-2"].active) == (0, False)


async def test_concurrent_reservations_never_exceed_capacity(
    records: RecordActivities, session_factory: Sessions
) -> None:
    await add_practitioner(session_factory, "p-1", "Ana Lowry", "ana@harbour.example", 6)
    requests = [
        CaseloadRequest(practitioner_id="p-1", ref=f"R2000{i:04d}", episode=1, at=T0)
        for i in range(20)
    ]
    results = await asyncio.gather(*(records.reserve_caseload(r) for r in requests))

    assert sum(r.reserved for r in results) == 6
    refused = [r.reason for r in results if not r.reserved]
    assert refused == ["practitioner p-1 has no caseload room (6 of 6)"] * 14
    assert await count(session_factory, CaseloadRow, CaseloadRow.ended_at.is_(None)) == 6

    # The same reservation retried concurrently is one row, reserved every time.
    again = await asyncio.gather(
        *(records.reserve_caseload(requests[0].model_copy()) for _ in range(5))
    )
    assert [r.reserved for r in again] == [results[0].reserved] * 5
    assert await count(session_factory, CaseloadRow) == 6


# --- waiting position -----------------------------------------------------------------------


async def test_waiting_position_orders_by_urgency_then_time_then_ref(
    records: RecordActivities, session_factory: Sessions
) -> None:
    waiting = [
        ("R30000001", Urgency.ROUTINE, T0),
        ("R30000002", Urgency.URGENT, T0 + timedelta(days=3)),
        ("R30000003", Urgency.SOON, T0 + timedelta(days=1)),
        ("R30000004", Urgency.ROUTINE, T0 - timedelta(days=1)),
        ("R30000006", Urgency.URGENT, T0 + timedelta(days=3)),  # same time: by ref
        ("R30000005", Urgency.URGENT, T0 + timedelta(days=3)),
    ]
    for ref, urgency, received in waiting:
        await records.record_transition(
            transition(ref, 4, Stage.WAITING, urgency=urgency, received_at=received)
        )
    await records.record_transition(transition("R30000009", 1, Stage.TRIAGE))  # not waiting

    expected = ["R30000002", "R30000005", "R30000006", "R30000003", "R30000004", "R30000001"]
    for position, ref in enumerate(expected, start=1):
        result = await records.waiting_position(WaitingPositionRequest(ref=ref, at=T0))
        assert (result.position, result.waiting_total) == (position, 6), ref
        assert (result.estimate_weeks_low, result.estimate_weeks_high) == (None, None)

    # Twelve allocations in the last twelve weeks: one a week. Older ones do not count.
    await add_practitioner(session_factory, "p-1", "Ana", "ana@harbour.example", 100)
    now = T0 + timedelta(weeks=30)
    for i in range(14):
        started = now - timedelta(weeks=11, days=6) + timedelta(days=7 * i)
        if i >= 12:
            started = now - timedelta(weeks=20 + i)
        await records.reserve_caseload(
            CaseloadRequest(practitioner_id="p-1", ref=f"R3100{i:04d}", episode=1, at=started)
        )
    last = await records.waiting_position(WaitingPositionRequest(ref="R30000001", at=now))
    assert (last.position, last.estimate_weeks_low, last.estimate_weeks_high) == (6, 4, 8)

    # A referral not on the list is placed where it would stand, and counted.
    triage = await records.waiting_position(WaitingPositionRequest(ref="R30000009", at=now))
    assert (triage.position, triage.waiting_total) == (7, 7)
    missing = await records.waiting_position(WaitingPositionRequest(ref="R3MISSING", at=now))
    assert (missing.position, missing.waiting_total) == (7, 7)


# --- inbound messages -----------------------------------------------------------------------


async def test_inbound_messages_are_kept_deduplicated_and_matched(
    records: RecordActivities, session_factory: Sessions
) -> None:
    # Two referrals share a phone (the client came back); the newer one is live.
    await records.record_transition(
        transition("R40000001", 1, contacts=["07700 900123"], received_at=T0 - timedelta(days=400))
    )
    await records.record_transition(
        transition("R40000002", 1, contacts=["+44 7700 900123", "Sam@Example.org"], received_at=T0)
    )
    await records.record_transition(
        transition("R40000003", 1, contacts=["07700 900999"], received_at=T0)
    )
    await records.record_transition(
        transition("R40000003", 9, Stage.CLOSED, contacts=[], received_at=T0)
    )

    sms = await store_inbound_message(
        session_factory,
        KEY,
        TEST_KEYRING,
        channel="sms",
        sender="+447700900123",
        body="I'd like to come back",
        received_at=T0,
        gateway_id="gw-1",
    )
    assert (sms.ref, sms.duplicate, sms.status) == ("R40000002", False, "matched")
    again = await store_inbound_message(
        session_factory,
        KEY,
        TEST_KEYRING,
        channel="sms",
        sender="+447700900123",
        body="I'd like to come back",
        received_at=T0,
        gateway_id="gw-1",
    )
    assert (again.id, again.ref, again.duplicate) == (sms.id, "R40000002", True)

    email = await store_inbound_message(
        session_factory,
        KEY,
        TEST_KEYRING,
        channel="email",
        sender=" SAM@example.ORG ",
        body="still waiting",
        received_at=T0,
    )
    assert email.ref == "R40000002"

    stranger = await store_inbound_message(
        session_factory,
        KEY,
        TEST_KEYRING,
        channel="sms",
        sender="07700 900000",
        body="hello?",
        received_at=T0,
    )
    closed_only = await store_inbound_message(
        session_factory,
        KEY,
        TEST_KEYRING,
        channel="sms",
        sender="07700900999",
        body="hi",
        received_at=T0,
    )
    odd_sender = await store_inbound_message(
        session_factory,
        KEY,
        TEST_KEYRING,
        channel="cli",
        sender="not a contact",
        body="x",
        received_at=T0,
    )
    for message in (stranger, closed_only, odd_sender):
        assert (message.ref, message.status) == (None, "inbox")

    assert await count(session_factory, InboundMessageRow) == 5  # every message kept, once
    async with session_factory() as session:
        stored = (await session.execute(select(InboundMessageRow))).scalars().all()
    for row in stored:  # the sender is kept only as its keyed hash
        assert "7700" not in row.sender_key and "@" not in row.sender_key

    inbox = await list_inbox(session_factory, TEST_KEYRING)
    # Matched messages wait in the inbox too until their workflow has read them (none has
    # here): a message whose workflow never gets it still reaches a person.
    unread = {sms.id, email.id}
    assert {item.id for item in inbox} == {stranger.id, closed_only.id, odd_sender.id} | unread
    assert inbox[0].received_at == T0

    assert await resolve_inbox_item(
        session_factory, TEST_KEYRING, stranger.id, "wrong number", at=T0
    )
    assert await resolve_inbox_item(session_factory, TEST_KEYRING, stranger.id, "again", at=T0)
    assert not await resolve_inbox_item(session_factory, TEST_KEYRING, "no-such-id", "x")
    inbox = await list_inbox(session_factory, TEST_KEYRING)
    assert stranger.id not in {item.id for item in inbox}
    history = {
        item.id: item
        for item in await list_inbox(session_factory, TEST_KEYRING, include_resolved=True)
    }
    assert (history[stranger.id].resolution_note, history[stranger.id].status) == (
        "wrong number",
        "resolved",
    )


async def test_redelivery_finishes_a_message_whose_matching_never_ran(
    session_factory: Sessions,
) -> None:
    first = await store_inbound_message(
        session_factory,
        KEY,
        TEST_KEYRING,
        channel="sms",
        sender="07700 900000",
        body="hi",
        received_at=T0,
        gateway_id="gw-9",
    )
    async with session_factory.begin() as session:  # as if we crashed before matching
        await session.execute(
            update(InboundMessageRow).values(status="received", in_inbox=False, ref=None)
        )
    again = await store_inbound_message(
        session_factory,
        KEY,
        TEST_KEYRING,
        channel="sms",
        sender="07700 900000",
        body="hi",
        received_at=T0,
        gateway_id="gw-9",
    )
    assert (again.id, again.duplicate, again.status) == (first.id, True, "inbox")
    assert [item.id for item in await list_inbox(session_factory, TEST_KEYRING)] == [first.id]


async def test_record_message_handling(
    records: RecordActivities, session_factory: Sessions
) -> None:
    await records.record_transition(transition("R50000001", 1, contacts=["a@example.org"]))
    stored = await store_inbound_message(
        session_factory,
        KEY,
        TEST_KEYRING,
        channel="email",
        sender="a@example.org",
        body="x",
        received_at=T0,
    )
    handling = MessageHandling(
        message_id=stored.id, ref="R50000001", intent=Intent.OTHER, crisis=True, to_inbox=True
    )
    await records.record_message_handling(handling)
    await records.record_message_handling(handling)
    async with session_factory() as session:
        row = (await session.execute(select(InboundMessageRow))).scalar_one()
    assert (row.ref, row.intent, row.crisis, row.in_inbox, row.status) == (
        "R50000001",
        "other",
        True,
        True,
        "handled",
    )
    assert [item.id for item in await list_inbox(session_factory, TEST_KEYRING)] == [stored.id]

    with pytest.raises(ApplicationError) as unknown:
        await records.record_message_handling(handling.model_copy(update={"message_id": "nope"}))
    assert unknown.value.non_retryable
    with pytest.raises(ApplicationError) as mismatch:
        await records.record_message_handling(handling.model_copy(update={"ref": "R59999999"}))
    assert mismatch.value.non_retryable


async def test_add_practitioner_upserts(session_factory: Sessions) -> None:
    await add_practitioner(session_factory, "p-1", "Ana", "ana@harbour.example", 6)
    updated = await add_practitioner(
        session_factory, "p-1", "Ana Lowry", "ana.l@harbour.example", 4, active=False
    )
    assert (updated.name, updated.email, updated.capacity, updated.active) == (
        "Ana Lowry",
        "ana.l@harbour.example",
        4,
        False,
    )
    assert [p.id for p in await list_practitioners(session_factory)] == ["p-1"]
    assert await list_practitioners(session_factory, active_only=True) == []
