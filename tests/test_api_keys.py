"""API keys (hashed, bound to a role, revocable), ``starter.py apikey``, and the rate limiter."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.problems import ProblemError
from api.rate_limit import RateLimiter
from infra.database import make_engine, make_session_factory, migrate
from models.tables import ApiKeyRow
from services.api_keys import Role, authenticate, create_api_key, list_api_keys, revoke_api_key

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
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import starter

    url = f"sqlite+aiosqlite:///{tmp_path / 'harbour.db'}"
    asyncio.run(migrate(url))
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


def test_token_bucket_per_key() -> None:
    now = [100.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert [limiter.try_acquire("a") for _ in range(2)] == [0.0, 0.0]
    assert limiter.try_acquire("a") == pytest.approx(1.0)
    assert limiter.try_acquire("b") == 0.0  # another key, another bucket
    now[0] += 0.5
    assert limiter.try_acquire("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.try_acquire("a") == 0.0
    now[0] += 3600  # refills to the burst, never beyond
    assert [limiter.try_acquire("a") for _ in range(3)][-1] > 0
    with pytest.raises(ProblemError) as raised:
        limiter.check("a")
    assert raised.value.status == 429 and int(raised.value.headers["Retry-After"]) >= 1
