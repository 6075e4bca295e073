"""Free text at rest: what clients wrote, where sessions took place, what coordinators noted and
why a measure was skipped are sealed in the read model with the payload codec's key ring.

A whole scenario runs through the API (webhook, inbox, sessions, ReQoL, discharge) and the
dashboard; then the SQLite file itself (and its WAL) is read as bytes and holds none of it,
while coordinators still read it all. Migration 0006 seals rows an older schema kept in
clear, on SQLite and PostgreSQL, and 0005 gets them back in clear on the way down.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, insert, select
from sqlalchemy.engine import make_url

from api.dashboard import configure
from infra.database import alembic_config, make_engine, make_session_factory
from infra.keys import KeyRing, generate_key
from models.tables import InboundMessageRow, OutcomeRow, SessionRow
from readmodel.inbox import list_inbox, store_inbound_message
from readmodel.sealed_text import UNREADABLE, open_optional, open_text
from tests.factories import reqol
from tests.fixtures.api import ORG_A, Api
from tests.fixtures.dashboard import dashboard_settings, sign_in
from tests.fixtures.temporal import TEST_KEYRING, TEST_PSEUDONYM_KEY
from tests.helpers import eventually
from tests.keys import TEST_ENCRYPTION_KEYS
from tests.test_api_webhook import notify

# No hyphen ever appears in base64: a sealed value cannot contain this by chance.
MARKER = "QUOKKA-4417-MARKER"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _database_files(url: str) -> dict[str, bytes]:
    """The SQLite database file and its companions (WAL, shared memory), as bytes."""
    path = Path(str(make_url(url).database))
    return {p.name: p.read_bytes() for p in path.parent.glob(f"{path.name}*")}


async def test_free_text_never_reaches_the_database_file_in_clear(api: Api) -> None:
    referrer = await api.key("referrer", organisation=ORG_A)
    coordinator = await api.key("coordinator", label="c-dana")
    practitioner = await api.key("practitioner", practitioner="p-ana")
    gateway = await api.key("gateway")
    async with api.h.worker():
        put = await api.request(
            "PUT",
            "/v1/practitioners/p-ana",
            coordinator,
            json={"name": "Ana Lowry", "email": "ana.lowry@harbour.example", "capacity": 4},
        )
        assert put.status_code == 200, put.text
        ref = await api.refer(referrer)
        base = f"/v1/referrals/{ref}"
        steps: list[tuple[str, str, dict[str, Any]]] = [
            (f"{base}/triage", coordinator, {"outcome": "accept"}),
            (f"{base}/allocation", coordinator, {"practitioner_id": "p-ana"}),
            (
                f"{base}/reqol",
                practitioner,
                # The reason is a code; the typed note stays in the workflow's encrypted state.
                {"when": "baseline", "skipped_reason": "unwell", "note": f"too upset {MARKER}"},
            ),
            (
                f"{base}/session-records",
                practitioner,
                {"outcome": "attended", "location": f"the {MARKER} café"},
            ),
            (
                f"{base}/reqol",
                practitioner,
                {"when": "end", "responses": {str(k): v for k, v in reqol(30).items()}},
            ),
            (f"{base}/discharge", practitioner, {"reason": "completed", "summary": "done"}),
        ]
        for path, key, body in steps:
            response = await api.post(path, key, json=body)
            assert response.status_code == 200, (path, response.text)
        # A stranger's text: it waits in the inbox, and a coordinator resolves it.
        received = await api.post(
            "/v1/messages/inbound",
            gateway,
            json=notify(f"please ring me {MARKER}", sender="447700900555"),
        )
        assert received.status_code == 202, received.text
        message_id = received.json()["id"]
        resolved = await api.post(
            f"/v1/inbox/{message_id}/resolution", coordinator, json={"note": f"rang {MARKER}"}
        )
        assert resolved.status_code == 200, resolved.text

        async def outcome_recorded() -> bool:
            async with api.h.session_factory() as session:
                return bool(await session.scalar(select(OutcomeRow.pseudonym)))

        await eventually(outcome_recorded)

        # Coordinators read it all, opened: the API's inbox, the dashboard's pages.
        assert f"please ring me {MARKER}" in resolved.text and f"rang {MARKER}" in resolved.text
        inbox = await api.get("/v1/inbox", coordinator, params={"include_resolved": "true"})
        [item] = [i for i in inbox.json() if i["id"] == message_id]
        assert (item["body"], item["resolution_note"]) == (
            f"please ring me {MARKER}",
            f"rang {MARKER}",
        )
        configure(api.app, dashboard_settings())
        assert (await sign_in(api.http, coordinator)).status_code == 303
        page = await api.http.get(f"/dashboard/referrals/{ref}")
        assert page.status_code == 200 and f"the {MARKER} café" in page.text
        inbox_page = await api.http.get("/dashboard/inbox")
        assert f"rang {MARKER}" in inbox_page.text

    # The rows hold sealed text under the worker's key ...
    async with api.h.session_factory() as session:
        location = await session.scalar(select(SessionRow.location))
        skipped = await session.scalar(select(OutcomeRow.baseline_skipped_reason))
        row = await session.get(InboundMessageRow, message_id)
    assert row is not None and location is not None and skipped is not None
    assert location.startswith(f"{TEST_KEYRING.active_key_id}:")
    assert open_text(TEST_KEYRING, location) == f"the {MARKER} café"
    assert open_optional(TEST_KEYRING, skipped) == "unwell"
    assert open_text(TEST_KEYRING, row.body) == f"please ring me {MARKER}"
    # ... and no byte of the database's files spells it out.
    files = _database_files(api.h.settings.database_url)
    assert "harbour.db" in files
    for name, content in files.items():
        assert MARKER.encode() not in content, name


async def test_text_sealed_under_a_key_no_longer_held_reads_as_unreadable(
    session_factory: Any,
) -> None:
    old = KeyRing(active_key_id="old-key", keys={"old-key": generate_key()})
    stored = await store_inbound_message(
        session_factory,
        TEST_PSEUDONYM_KEY,
        old,
        channel="sms",
        sender="07700 900000",
        body=f"hello {MARKER}",
        received_at=T0,
    )
    # The inbox still lists the message (nothing is lost), saying it cannot be opened here.
    [item] = await list_inbox(session_factory, TEST_KEYRING)
    assert (item.id, item.body) == (stored.id, UNREADABLE)
    # With the old key back in the ring, it opens again.
    both = KeyRing(active_key_id=TEST_KEYRING.active_key_id, keys={**TEST_KEYRING.keys, **old.keys})
    [item] = await list_inbox(session_factory, both)
    assert item.body == f"hello {MARKER}"


# --- migration 0006 ---------------------------------------------------------------------------

BEFORE = "0005_sms"
MESSAGES = 3
SESSIONS = 1_100  # more than two of the migration's batches, over a three-column key


def _alembic(connection: Connection, url: str, step: str, revision: str, keyring: Any) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    config.attributes["keyring"] = keyring
    getattr(command, step)(config, revision)


async def _migrate(url: str, step: str, revision: str, keyring: KeyRing | None) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_alembic, url, step, revision, keyring)
    finally:
        await engine.dispose()


async def _rows_in_clear(url: str) -> None:
    """Rows as schema 0005 kept them: the text in clear."""
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(InboundMessageRow),
                [
                    {
                        "id": f"m{n}",
                        "channel": "sms",
                        "sender_key": f"k{n}",
                        "received_at": T0,
                        "body": f"message {n} {MARKER}",
                        "status": "resolved" if n == 0 else "inbox",
                        "crisis": False,
                        "in_inbox": n != 0,
                        "resolution_note": f"note {MARKER}" if n == 0 else None,
                    }
                    for n in range(MESSAGES)
                ],
            )
            await connection.execute(
                insert(SessionRow),
                [
                    {
                        "ref": f"R{n % 7:010d}",
                        "episode": 1 + n % 3,
                        "session_id": f"s-{n}",
                        "at": T0 + timedelta(hours=n),
                        "outcome": "attended",
                        "location": f"room {n} {MARKER}",
                    }
                    for n in range(SESSIONS)
                ],
            )
            base = {"episode": 1, "period": "2026-03", "discharge_reason": "completed"}
            await connection.execute(
                insert(OutcomeRow),
                [
                    {**base, "sessions_attended": 4, "pseudonym": pseudonym, **skipped}
                    for pseudonym, skipped in (
                        ("p1", {"baseline_skipped_reason": MARKER, "end_skipped_reason": None}),
                        ("p2", {"baseline_skipped_reason": None, "end_skipped_reason": ""}),
                        ("p3", {"baseline_skipped_reason": None, "end_skipped_reason": None}),
                    )
                ],
            )
    finally:
        await engine.dispose()


async def _stored_text(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as session:
            # The columns 0005 already had (later revisions add others to the table).
            messages = (
                await session.execute(
                    select(
                        InboundMessageRow.id,
                        InboundMessageRow.body,
                        InboundMessageRow.resolution_note,
                    )
                )
            ).all()
            sessions = (await session.execute(select(SessionRow))).scalars().all()
            outcomes = (await session.execute(select(OutcomeRow))).scalars().all()
    finally:
        await engine.dispose()
    return {
        "body": {m.id: m.body for m in messages},
        "note": {m.id: m.resolution_note for m in messages},
        "location": {s.session_id: s.location for s in sessions},
        "skipped": {
            o.pseudonym: (o.baseline_skipped_reason, o.end_skipped_reason) for o in outcomes
        },
    }


def _in_clear() -> dict[str, Any]:
    return {
        "body": {f"m{n}": f"message {n} {MARKER}" for n in range(MESSAGES)},
        "note": {"m0": f"note {MARKER}", **{f"m{n}": None for n in range(1, MESSAGES)}},
        "location": {f"s-{n}": f"room {n} {MARKER}" for n in range(SESSIONS)},
        "skipped": {"p1": (MARKER, None), "p2": (None, ""), "p3": (None, None)},
    }


def _opened(stored: dict[str, Any], keyring: KeyRing) -> dict[str, Any]:
    return {
        "body": {k: open_text(keyring, v) for k, v in stored["body"].items()},
        "note": {k: open_optional(keyring, v) for k, v in stored["note"].items()},
        "location": {k: open_text(keyring, v) for k, v in stored["location"].items()},
        "skipped": {
            k: (open_optional(keyring, a), open_optional(keyring, b))
            for k, (a, b) in stored["skipped"].items()
        },
    }


async def test_migration_0006_seals_existing_text_and_0005_opens_it_again(db_url: str) -> None:
    await _migrate(db_url, "downgrade", BEFORE, TEST_KEYRING)
    await _rows_in_clear(db_url)

    await _migrate(db_url, "upgrade", "head", TEST_KEYRING)
    sealed = await _stored_text(db_url)
    assert MARKER not in repr(sealed)
    assert _opened(sealed, TEST_KEYRING) == _in_clear()
    # Nothing to hide stays as it was: reports count an empty skip reason as none.
    assert sealed["skipped"]["p2"] == (None, "") and sealed["skipped"]["p3"] == (None, None)
    if db_url.startswith("sqlite"):
        # Rewritten with secure_delete: the old text is not left behind in free pages either.
        for name, content in _database_files(db_url).items():
            assert MARKER.encode() not in content, name

    await _migrate(db_url, "downgrade", BEFORE, TEST_KEYRING)
    assert await _stored_text(db_url) == _in_clear()
    await _migrate(db_url, "upgrade", "head", TEST_KEYRING)
    assert _opened(await _stored_text(db_url), TEST_KEYRING) == _in_clear()


async def test_migration_0006_without_a_key_ring_loads_the_workers(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As `alembic upgrade head` from a shell: the keys come from the settings, as the worker's.
    await _migrate(db_url, "downgrade", BEFORE, TEST_KEYRING)
    await _rows_in_clear(db_url)
    monkeypatch.setenv("HARBOUR_ENCRYPTION_KEYS", TEST_ENCRYPTION_KEYS)
    monkeypatch.setenv("HARBOUR_DATA_DIR", str(tmp_path / "elsewhere"))
    await _migrate(db_url, "upgrade", "head", None)
    assert _opened(await _stored_text(db_url), TEST_KEYRING) == _in_clear()
    # The configured key was used: no key file was made up instead.
    assert not (tmp_path / "elsewhere").exists()
