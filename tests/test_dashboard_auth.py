"""The dashboard's doors, without a browser: through the ASGI app over the time-skipping
server and SQLite. No session: the login page. Only coordinator keys (and practitioners', to
their own workspace: tests/test_practice_pages.py) sign in. Every post needs the session's
CSRF token. A tampered or expired session, or a revoked key, is no
session. The cookie holds a key id, an expiry and a server-side session's id, signed — never
the key (signing out and revocation: tests/test_dashboard_sessions.py)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from api.dashboard import configure
from api.dashboard.session import FLASH_SECONDS, SESSION_COOKIE, CookieSigner
from api.dashboard.settings import MAX_SESSION_HOURS, SECRET_FILE_NAME, load_session_secret
from readmodel.inbox import store_inbound_message
from services.api_keys import revoke_api_key
from tests.fixtures.api import ORG_A, Api
from tests.fixtures.dashboard import csrf_token, dashboard_settings, sign_in
from tests.fixtures.temporal import TEST_KEYRING, TEST_PSEUDONYM_KEY

PAGES = [
    "/dashboard",
    "/dashboard/waiting-list",
    "/dashboard/referrals",
    "/dashboard/referrals/R0123456789",
    "/dashboard/caseloads",
    "/dashboard/caseloads/p-ana",
    "/dashboard/inbox",
    "/dashboard/reports",
    "/dashboard/reports/referrers",
    "/dashboard/reports/outcomes",
    "/dashboard/reports/reentry",
]


async def test_no_session_goes_to_the_login_page(dash: Api) -> None:
    for path in PAGES:
        response = await dash.http.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/dashboard/login"
    # An API key in a header is not a dashboard session.
    coordinator = await dash.key("coordinator")
    response = await dash.http.get("/dashboard", headers=dash.auth(coordinator))
    assert response.status_code == 303
    login = await dash.http.get("/dashboard/login")
    assert login.status_code == 200
    assert 'type="password"' in login.text and "Sign in" in login.text
    assert login.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in login.headers["content-security-policy"]
    assert login.headers["x-frame-options"] == "DENY"
    assert login.headers["cache-control"] == "no-store"


async def test_only_coordinator_and_practitioner_keys_sign_in(dash: Api) -> None:
    # Practitioners sign in to their own workspace: tests/test_practice_pages.py.
    refused = {
        "referrer": await dash.key("referrer", organisation=ORG_A),
        "gateway": await dash.key("gateway"),
    }
    for role, key in refused.items():
        response = await sign_in(dash.http, key)
        assert response.status_code == 403, role
        assert "Only coordinator and practitioner keys" in response.text
        assert SESSION_COOKIE not in response.cookies
        assert (await dash.http.get("/dashboard")).status_code == 303
    wrong = await sign_in(dash.http, "hbk_0123456789abcdef_" + "x" * 43)
    assert wrong.status_code == 401 and SESSION_COOKIE not in wrong.cookies
    # The key typed in is never shown back.
    assert "x" * 43 not in wrong.text

    key = await dash.key("coordinator", label="c-dana")
    signed_in = await sign_in(dash.http, key)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/dashboard"
    cookie = next(
        h for h in signed_in.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
    # maxsplit: the secret itself may hold "_" (a fragment of it could be in the cookie by chance)
    assert key not in cookie and key.split("_", 2)[2] not in cookie
    # Only the key's id, an expiry and the server-side session's id (random, not the key's).
    body = cookie.split("=", 1)[1].split(";")[0].split(".")[0]
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert set(payload) == {"k", "e", "s"} and payload["k"] == key.split("_")[1]
    assert len(payload["s"]) == 43 and payload["s"] not in key
    overview = await dash.http.get("/dashboard")
    assert overview.status_code == 200 and "Signed in as c-dana" in overview.text


async def test_every_post_needs_the_session_csrf_token(dash: Api) -> None:
    key = await dash.key("coordinator")
    assert (await sign_in(dash.http, key)).status_code == 303
    token = csrf_token((await dash.http.get("/dashboard")).text)
    stored = await store_inbound_message(
        dash.h.session_factory,
        TEST_PSEUDONYM_KEY,
        TEST_KEYRING,
        channel="sms",
        sender="+447700900999",
        body="hello?",
        received_at=datetime.now(UTC),
    )
    posts = [
        ("/dashboard/logout", {}),
        ("/dashboard/referrals/R0123456789/triage", {"outcome": "accept"}),
        ("/dashboard/referrals/R0123456789/close", {"reason": "other"}),
        ("/dashboard/waiting-list/actions", {"action": "hold", "ref": "R0123456789"}),
        (f"/dashboard/inbox/{stored.id}/resolve", {"note": "called back"}),
        (f"/dashboard/inbox/{stored.id}/reply", {"reply": "will_phone"}),
    ]
    for path, data in posts:
        missing = await dash.http.post(path, data=data)
        assert missing.status_code == 403, path
        assert "Form expired" in missing.text
        wrong = await dash.http.post(path, data={**data, "csrf": token[:-2] + "xx"})
        assert wrong.status_code == 403, path
    # Nothing happened: the message is still in the inbox, the session still works.
    inbox = await dash.http.get("/dashboard/inbox")
    assert stored.id in inbox.text
    # A post from another site's page is refused even with the token.
    cross = await dash.http.post(
        "/dashboard/logout", data={"csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    # The login form has a token of its own.
    logged_out = await dash.http.post("/dashboard/login", data={"api_key": key})
    assert logged_out.status_code == 403
    # With the token, signing out works.
    out = await dash.http.post("/dashboard/logout", data={"csrf": token})
    assert out.status_code == 303 and out.headers["location"] == "/dashboard/login"
    assert (await dash.http.get("/dashboard")).status_code == 303


async def test_tampered_expired_or_revoked_sessions_are_refused(dash: Api) -> None:
    key = await dash.key("coordinator")
    other = await dash.key("coordinator")
    assert (await sign_in(dash.http, key)).status_code == 303
    value = dash.http.cookies[SESSION_COOKIE]
    body, stamp, mac = value.split(".")  # itsdangerous: payload, timestamp, signature
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))

    def forged(changed: dict[str, Any], signature: str = mac) -> str:
        raw = json.dumps({**payload, **changed}, separators=(",", ":"))
        changed_body = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        return f"{changed_body}.{stamp}.{signature}"

    async def works(cookie: str) -> bool:
        dash.http.cookies.clear()
        dash.http.cookies.set(SESSION_COOKIE, cookie, path="/dashboard")
        return (await dash.http.get("/dashboard")).status_code == 200

    assert await works(value)
    assert not await works(forged({"e": payload["e"] + 86400 * 365}))  # longer life
    assert not await works(forged({"k": other.split("_")[1]}))  # another key
    assert not await works(f"{body}.{stamp}.{mac[:-3]}AAA")  # bad signature
    assert not await works(f"{body}.AAAAAA.{mac}")  # another signing time
    assert not await works("garbage")
    # Signed with another secret: refused.
    stranger = CookieSigner(b"another secret, 32 bytes or more!!")
    assert not await works(stranger.sign("session", payload))
    # Signed with the right secret but expired: refused.
    secret = load_session_secret(dashboard_settings(), dash.h.settings.data_dir)
    assert (dash.h.settings.data_dir / SECRET_FILE_NAME).stat().st_mode & 0o777 == 0o600
    signer = CookieSigner(secret)
    expired = int((datetime.now(UTC) - timedelta(minutes=1)).timestamp())
    assert not await works(signer.sign("session", {"k": payload["k"], "e": expired}))
    # A flash message's signature is not a session's.
    assert not await works(signer.sign("flash", payload))
    assert await works(signer.sign("session", payload))
    # Signed longer ago than any session may last: refused, whatever expiry it claims.
    with time_machine.travel(datetime.now(UTC) - timedelta(hours=MAX_SESSION_HOURS, minutes=1)):
        ancient = signer.sign("session", payload)
    assert not await works(ancient)
    # Revoking the key ends the session at once.
    await revoke_api_key(dash.h.session_factory, payload["k"])
    assert not await works(value)


async def test_dev_mailbox_only_on_embedded_defaults(api: Api) -> None:
    configure(api.app, dashboard_settings())  # tests' SMTP is in memory: no sink folder
    key = await api.key("coordinator")
    assert (await sign_in(api.http, key)).status_code == 303
    assert "Dev mailbox" not in (await api.get("/dashboard")).text
    assert (await api.get("/dashboard/mailbox")).status_code == 404
    # The embedded sink's folder exists and SMTP is local: the mailbox shows.
    api.h.settings.mailbox_dir.mkdir(parents=True, exist_ok=True)
    configure(api.app, dashboard_settings())
    page = await api.get("/dashboard/mailbox")
    assert page.status_code == 200 and "No emails yet" in page.text
    # Nothing outside the folder can be read through it.
    for name in ("..%2Fharbour.db", "../harbour.db", ".hidden.eml", "x.txt"):
        assert (await api.get(f"/dashboard/mailbox/{name}")).status_code == 404
    # The dashboard is not part of the published API.
    schema = (await api.get("/openapi.json")).json()
    assert not any(path.startswith("/dashboard") for path in schema["paths"])


async def test_unknown_things_are_plain_pages(dash: Api) -> None:
    key = await dash.key("coordinator")
    assert (await sign_in(dash.http, key)).status_code == 303
    missing = await dash.http.get("/dashboard/referrals/R0123456789")
    assert missing.status_code == 404 and "No such referral" in missing.text
    assert missing.headers["content-type"].startswith("text/html")
    malformed = await dash.http.get("/dashboard/referrals/not-a-ref")
    assert malformed.status_code == 404 and "text/html" in malformed.headers["content-type"]
    found = await dash.http.get("/dashboard/referrals", params={"ref": "R0123456789"})
    assert found.status_code == 200 and "No referral was found" in found.text
    # What someone typed is shown back escaped, never as markup.
    typed = await dash.http.get("/dashboard/referrals", params={"ref": "<b>x</b>"})
    assert "<b>x</b>" not in typed.text and "&lt;b&gt;x&lt;/b&gt;" in typed.text
    # Any other dashboard address is an HTML page with the normal header, not JSON.
    unknown = await dash.http.get("/dashboard/no/such/page")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("text/html")
    assert "Page not found" in unknown.text and "Sign out" in unknown.text
    # A workflow's refusal comes back as a message on the page, not an error.
    refused = await dash.http.post(
        "/dashboard/waiting-list/actions",
        data={
            "csrf": csrf_token((await dash.http.get("/dashboard")).text),
            "action": "hold",
            "reason": "other",
            "ref": "R0123456789",
        },
    )
    assert refused.status_code == 303
    page = await dash.http.get(refused.headers["location"])
    assert "R0123456789: no such referral" in page.text


def test_signed_values_keep_to_their_purpose_and_age() -> None:
    signer = CookieSigner(b"a dashboard secret of 32 bytes or more")
    value = signer.sign("flash", {"k": "ok", "t": "Saved."})
    assert signer.unsign("flash", value, FLASH_SECONDS) == {"k": "ok", "t": "Saved."}
    assert signer.unsign("session", value, FLASH_SECONDS) is None  # another purpose
    # Tamper with the signature's first character: its last one may carry only padding bits,
    # which base64 ignores (changing "A" to "B" there left the signature valid, now and then).
    signed, signature = value.rsplit(".", 1)
    tampered = f"{signed}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    assert signer.unsign("flash", tampered, 60) is None
    with time_machine.travel(datetime.now(UTC) - timedelta(seconds=FLASH_SECONDS + 5)):
        stale = signer.sign("flash", {"k": "ok", "t": "Saved."})
    assert signer.unsign("flash", stale, FLASH_SECONDS) is None  # older than it may be
    # Tokens are bound to their parts and purpose, and compared whole.
    token = signer.token("csrf", "key-id", "123")
    assert signer.check("csrf", token, "key-id", "123")
    assert not signer.check("csrf", token, "key-id", "124")
    assert not signer.check("login", token, "key-id", "123")
    assert not signer.check("csrf", "", "key-id", "123")
    assert not signer.check("csrf", token[:-2], "key-id", "123")


async def test_a_session_opens_only_its_own_roles_pages(dash: Api) -> None:
    """A referrer's session is no dashboard session and a coordinator's no referrer session:
    not as the other cookie, and not even signed for the other purpose with the right secret
    (the role is read from the session's key on every request, not from the cookie)."""
    from api.portal.session import SESSION_COOKIE as REFERRER_COOKIE

    secret = load_session_secret(dashboard_settings(), dash.h.settings.data_dir)
    signer = CookieSigner(secret)

    def payload_of(value: str, purpose: str) -> dict[str, Any]:
        found = signer.unsign(purpose, value, 3600)
        assert found is not None
        return found

    form = await dash.http.get("/referrer/login")
    referrer_key = await dash.key("referrer", organisation=ORG_A)
    signed_in = await dash.http.post(
        "/referrer/login", data={"csrf": csrf_token(form.text), "api_key": referrer_key}
    )
    assert signed_in.status_code == 303
    referrer_value = dash.http.cookies[REFERRER_COOKIE]
    referrer_session = payload_of(referrer_value, "referrer-session")
    dash.http.cookies.clear()
    assert (await sign_in(dash.http, await dash.key("coordinator"))).status_code == 303
    coordinator_value = dash.http.cookies[SESSION_COOKIE]
    coordinator_session = payload_of(coordinator_value, "session")

    async def dashboard_opens(cookie: str) -> bool:
        dash.http.cookies.clear()
        dash.http.cookies.set(SESSION_COOKIE, cookie, path="/dashboard")
        return (await dash.http.get("/dashboard")).status_code == 200

    async def referrer_pages_open(cookie: str) -> bool:
        dash.http.cookies.clear()
        dash.http.cookies.set(REFERRER_COOKIE, cookie, path="/referrer")
        return (await dash.http.get("/referrer")).status_code == 200

    assert await dashboard_opens(coordinator_value)  # not vacuous
    assert await referrer_pages_open(referrer_value)
    assert not await dashboard_opens(referrer_value)
    assert not await dashboard_opens(signer.sign("session", referrer_session))
    assert not await referrer_pages_open(coordinator_value)
    assert not await referrer_pages_open(signer.sign("referrer-session", coordinator_session))
