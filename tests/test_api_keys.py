"""API keys (hashed, bound to a role, revocable), ``starter.py apikey``, and the rate limiter."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest
import time_machine
from limits.aio.storage import MemoryStorage
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.problems import ProblemError
from api.rate_limit import KeyRateLimit, rate_limit_storage
from infra.database import make_engine, make_session_factory
from models.tables import ApiKeyRow
from services.api_keys import Role, authenticate, create_api_key, list_api_keys, revoke_api_key
from tests.fixtures.api import api_settings

Sessions = async_sessionmaker[AsyncSession]


async def test_keys_are_stored_hashed_bound_and_revocable(session_factory: Sessions) -> None:
    info, key = await create_api_key(session_factory, "referrer", organisation="Harbourside GP")
    assert key.startswith(f"hbk_{info.id}_") and len(key) == 4 + 17 + 43
    async with session_factory() as session:
        row = (await session.scalars(select(ApiKeyRow))).one()
    # Only the SHA-256 is kept: the key itself is nowhere in the database.
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in repr(row.__dict__)

    principal = await authenticate(session_factory, key)
    assert principal is not None
    assert (principal.role, principal.organisation) == (Role.REFERRER, "Harbourside GP")
    for wrong in (key[:-1] + ("A" if key[-1] != "A" else "B"), key + "x", "", "Bearer " + key):
        assert await authenticate(session_factory, wrong) is None
    unknown = f"hbk_{'0' * 16}_{key.split('_', 2)[2]}"
    assert await authenticate(session_factory, unknown) is None

    assert await revoke_api_key(session_factory, info.id) is True
    assert await revoke_api_key(session_factory, info.id) is True  # the first time stays
    assert await revoke_api_key(session_factory, "no-such-key") is False
    assert await authenticate(session_factory, key) is None
    (listed,) = await list_api_keys(session_factory)
    assert listed.id == info.id and listed.revoked_at is not None
    assert "key" not in listed.model_dump() and "key_hash" not in listed.model_dump()


async def test_role_bindings_are_checked(session_factory: Sessions) -> None:
    for role, kwargs in (
        ("referrer", {}),
        ("coordinator", {"organisation": "X"}),
        ("practitioner", {}),
        ("practitioner", {"practitioner_id": "has spaces"}),
        ("gateway", {"practitioner_id": "p-ana"}),
        ("coordinator", {"label": "Dr Jane Smith"}),
        ("auditor", {}),
    ):
        with pytest.raises(ValueError):
            await create_api_key(session_factory, role, **kwargs)
    info, _ = await create_api_key(
        session_factory, "practitioner", practitioner_id="p-ana", label="p-ana-phone"
    )
    assert (info.role, info.practitioner_id, info.label) == (
        Role.PRACTITIONER,
        "p-ana",
        "p-ana-phone",
    )


def test_starter_apikey_commands(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import starter

    url = sqlite_url  # migrated (a copy of the session's template), at tmp_path / harbour.db
    monkeypatch.setenv("HARBOUR_CONFIG_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("HARBOUR_DATABASE_URL", url)
    monkeypatch.setenv("HARBOUR_DATA_DIR", str(tmp_path))

    assert starter.main(["apikey", "create", "--role", "gateway", "--label", "notify"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["role"] == "gateway" and created["key"].startswith("hbk_")
    assert starter.main(["apikey", "create", "--role", "referrer"]) == 2
    assert "--organisation" in capsys.readouterr().err

    assert starter.main(["apikey", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [k["id"] for k in listed] == [created["id"]]
    assert created["key"] not in json.dumps(listed)

    assert starter.main(["apikey", "revoke", created["id"]]) == 0
    capsys.readouterr()
    assert starter.main(["apikey", "revoke", "nope"]) == 2

    async def check() -> None:
        engine = make_engine(url)
        try:
            assert await authenticate(make_session_factory(engine), created["key"]) is None
        finally:
            await engine.dispose()

    asyncio.run(check())


async def _allowed(limit: KeyRateLimit, key: str) -> bool:
    try:
        await limit.check(key)
    except ProblemError as refused:
        assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
        return False
    return True


async def test_rate_limit_per_key_burst_then_sustained_rate() -> None:
    # 60 a minute with bursts of 2: two requests per two-second window, sliding.
    limit = KeyRateLimit("intake", per_minute=60, burst=2, storage=MemoryStorage())
    with time_machine.travel(1_000_000.5, tick=False) as clock:
        assert [await _allowed(limit, "a") for _ in range(2)] == [True, True]
        with pytest.raises(ProblemError) as raised:
            await limit.check("a")
        assert raised.value.status == 429
        wait = int(raised.value.headers["Retry-After"])
        assert 1 <= wait <= 2
        assert await _allowed(limit, "b")  # another key, another allowance
        # After the wait it asked for, one more; the allowance comes back gradually.
        clock.shift(wait)
        assert [await _allowed(limit, "a") for _ in range(2)] == [True, False]
        clock.shift(3600)  # comes back to the burst, never beyond
        assert [await _allowed(limit, "a") for _ in range(3)] == [True, True, False]


async def test_limits_sharing_a_storage_share_counts() -> None:
    # Two API processes pointed at one Redis are two limiters over one storage: here, two
    # limiters (as two applications build them) over one storage object.
    shared = MemoryStorage()
    first = KeyRateLimit("intake", per_minute=1, burst=2, storage=shared)
    second = KeyRateLimit("intake", per_minute=1, burst=2, storage=shared)
    apart = KeyRateLimit("intake", per_minute=1, burst=2, storage=MemoryStorage())
    other_limit = KeyRateLimit("inbound", per_minute=1, burst=2, storage=shared)
    assert await _allowed(first, "key")
    assert await _allowed(second, "key")
    assert not await _allowed(first, "key")
    assert not await _allowed(second, "key")
    assert await _allowed(apart, "key")  # a storage of its own counts on its own
    assert await _allowed(other_limit, "key")  # another limit in the same storage too


def test_rate_limit_storage_setting_names_a_storage_limits_has() -> None:
    for uri in ("memory://", "redis://cache:6379/0", "rediss://cache:6380", "memcached://mc:11211"):
        assert api_settings(rate_limit_storage=uri).rate_limit_storage == uri
    for uri in ("", "memory", "postgres://db/x", "redis//cache", "file:///tmp/x"):
        with pytest.raises(ValidationError) as refused:
            api_settings(rate_limit_storage=uri)
        assert "HARBOUR_API_RATE_LIMIT_STORAGE" in str(refused.value)
    assert isinstance(rate_limit_storage("memory://"), MemoryStorage)
