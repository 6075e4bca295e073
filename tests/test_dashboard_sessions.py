"""Dashboard sessions end on the server: after signing out, or once the key is revoked, the old
cookie (copied before, with its CSRF token) gets the login page for every page and has every
post refused, doing nothing — though its signature would still be valid for hours. Other
sessions of the same key stay open after one signs out. The sessions' queries on both
databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.dashboard.session import SESSION_COOKIE
from models.roles import Role
from models.tables import DashboardSessionRow
from readmodel.inbox import list_inbox, store_inbound_message
from services.api_keys import create_api_key, revoke_api_key
from services.dashboard_sessions import close_session, open_session, session_principal
from tests.fixtures.api import Api
from tests.fixtures.dashboard import csrf_token, sign_in
from tests.fixtures.temporal import TEST_KEYRING, TEST_PSEUDONYM_KEY
from tests.test_dashboard_auth import PAGES

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def second_browser(dash: Api) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser on the same dashboard (cookies of its own)."""
    transport = httpx.ASGITransport(app=dash.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def _message(dash: Api) -> str:
    stored = await store_inbound_message(
        dash.h.session_factory,
        TEST_PSEUDONYM_KEY,
        TEST_KEYRING,
        channel="sms",
        sender="+447700900999",
        body="hello?",
        received_at=datetime.now(UTC),
    )
    return stored.id


async def _old_cookie_opens_nothing(dash: Api, cookie: str, token: str, message_id: str) -> None:
    """With ``cookie`` (and its page's CSRF token): every page is the login page, every post
    is sent to it, and nothing was done."""
    dash.http.cookies.clear()
    dash.http.cookies.set(SESSION_COOKIE, cookie, path="/dashboard")
    for path in PAGES:
        response = await dash.http.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/dashboard/login", path
    login = await dash.http.get("/dashboard/login")
    assert login.status_code == 200 and "Sign in" in login.text
    dash.http.cookies.set(SESSION_COOKIE, cookie, path="/dashboard")
    posts = [
        (f"/dashboard/inbox/{message_id}/resolve", {"note": "called back", "csrf": token}),
        ("/dashboard/referrals/R0123456789/close", {"reason": "other", "csrf": token}),
        ("/dashboard/logout", {"csrf": token}),
    ]
    for path, data in posts:
        response = await dash.http.post(path, data=data)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/dashboard/login", path
    # The resolution was not recorded: the message still waits in the inbox.
    assert message_id in {m.id for m in await list_inbox(dash.h.session_factory, TEST_KEYRING)}


async def _ended(dash: Api, key_id: str) -> list[bool]:
    async with dash.h.session_factory() as session:
        rows = (
            await session.scalars(
                select(DashboardSessionRow)
                .where(DashboardSessionRow.key_id == key_id)
                .order_by(DashboardSessionRow.created_at)
            )
        ).all()
    return [row.ended_at is not None for row in rows]


async def test_signing_out_ends_the_session_on_the_server(
    dash: Api, second_browser: httpx.AsyncClient
) -> None:
    key = await dash.key("coordinator", label="c-dana")
    key_id = key.split("_")[1]
    message_id = await _message(dash)
    assert (await sign_in(dash.http, key)).status_code == 303
    assert (await sign_in(second_browser, key)).status_code == 303  # the same key, elsewhere
    page = await dash.http.get("/dashboard/inbox")
    assert page.status_code == 200 and message_id in page.text
    cookie, token = dash.http.cookies[SESSION_COOKIE], csrf_token(page.text)

    out = await dash.http.post("/dashboard/logout", data={"csrf": token})
    assert out.status_code == 303 and out.headers["location"] == "/dashboard/login"
    await _old_cookie_opens_nothing(dash, cookie, token, message_id)
    assert await _ended(dash, key_id) == [True, False]

    # The other browser's session was not this one: it still works.
    other = await second_browser.get("/dashboard/inbox")
    assert other.status_code == 200 and "Signed in as c-dana" in other.text
    # Signing in again opens a new session.
    dash.http.cookies.clear()
    assert (await sign_in(dash.http, key)).status_code == 303
    assert dash.http.cookies[SESSION_COOKIE] != cookie
    assert (await dash.http.get("/dashboard")).status_code == 200


async def test_revoking_the_key_ends_its_sessions(
    dash: Api, second_browser: httpx.AsyncClient
) -> None:
    key = await dash.key("coordinator")
    other_key = await dash.key("coordinator")
    key_id = key.split("_")[1]
    message_id = await _message(dash)
    assert (await sign_in(dash.http, key)).status_code == 303
    assert (await sign_in(second_browser, other_key)).status_code == 303
    page = await dash.http.get("/dashboard/inbox")
    assert page.status_code == 200
    cookie, token = dash.http.cookies[SESSION_COOKIE], csrf_token(page.text)

    assert await revoke_api_key(dash.h.session_factory, key_id)
    await _old_cookie_opens_nothing(dash, cookie, token, message_id)
    assert await _ended(dash, key_id) == [True]
    # Another key's session is untouched.
    assert (await second_browser.get("/dashboard/inbox")).status_code == 200


async def test_sessions_open_check_and_end(session_factory: Sessions) -> None:
    info, _ = await create_api_key(session_factory, "coordinator", label="c-dana")
    other, _ = await create_api_key(session_factory, "coordinator")
    referrer, _ = await create_api_key(session_factory, "referrer", organisation="Harbourside GP")

    opened = await open_session(session_factory, info.id, timedelta(hours=8))
    assert len(opened.id) == 43
    hours = (opened.expires_at - datetime.now(UTC)).total_seconds() / 3600
    assert 7.99 < hours <= 8
    principal = await session_principal(session_factory, opened.id, info.id)
    assert principal is not None
    assert (principal.key_id, principal.role, principal.staff_id) == (
        info.id,
        Role.COORDINATOR,
        "c-dana",
    )
    # Another key's cookie naming this session, an unknown or malformed id: no session.
    assert await session_principal(session_factory, opened.id, other.id) is None
    assert await session_principal(session_factory, "x" * 43, info.id) is None
    assert await session_principal(session_factory, "short", info.id) is None
    # Only its hash is stored.
    async with session_factory() as session:
        stored = (await session.scalars(select(DashboardSessionRow.id))).all()
    assert opened.id not in stored and len(stored) == 1

    assert await close_session(session_factory, opened.id)
    assert not await close_session(session_factory, opened.id)  # the first end stays
    assert await session_principal(session_factory, opened.id, info.id) is None

    expired = await open_session(session_factory, info.id, timedelta(seconds=-1))
    assert await session_principal(session_factory, expired.id, info.id) is None
    # A key that is not a coordinator's opens nothing.
    theirs = await open_session(session_factory, referrer.id, timedelta(hours=1))
    assert await session_principal(session_factory, theirs.id, referrer.id) is None

    kept = await open_session(session_factory, info.id, timedelta(hours=1))
    untouched = await open_session(session_factory, other.id, timedelta(hours=1))
    assert await revoke_api_key(session_factory, info.id)
    assert await session_principal(session_factory, kept.id, info.id) is None
    assert await session_principal(session_factory, untouched.id, other.id) is not None
    async with session_factory() as session:
        open_rows = (
            await session.scalars(
                select(DashboardSessionRow.key_id).where(DashboardSessionRow.ended_at.is_(None))
            )
        ).all()
    # The revoked key's sessions were ended; the expired one too, though it had ended anyway.
    assert sorted(open_rows) == sorted([referrer.id, other.id])
