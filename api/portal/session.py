"""A referrer's sign-in on their own pages: the dashboard's pattern (``api.dashboard.session``)
— a session kept on the server, a signed cookie holding only the key's id, the expiry and the
session's id, a CSRF token derived from them — with the dashboard's signer but a purpose,
cookie and path of its own: a referrer's cookie opens no dashboard page, and a coordinator's
opens no referrer page.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request, Response

from api.auth import Principal
from api.dashboard.session import CookieSigner
from api.dashboard.settings import MAX_SESSION_HOURS
from services.dashboard_sessions import close_session, open_session, session_principal

COOKIE_PATH = "/referrer"
SESSION_COOKIE = "harbour_referrer"
LOGIN_COOKIE = "harbour_referrer_login"
LOGIN_NONCE_SECONDS = 30 * 60
_NONCE_LENGTH = 22  # secrets.token_urlsafe(16)
_PURPOSE = "referrer-session"
_CSRF = "referrer-csrf"
_SESSION_MAX_SECONDS = int(MAX_SESSION_HOURS * 3600)
_KEY_ID_LENGTH = 16


@dataclass(frozen=True)
class ReferrerUser:
    """A signed-in referrer: their key's principal (bound to one organisation) and CSRF token."""

    principal: Principal
    csrf: str

    @property
    def organisation(self) -> str:
        assert self.principal.organisation is not None  # every referrer key has one
        return self.principal.organisation


def _cookie_options(request: Request, secure: bool | None) -> dict[str, Any]:
    return {
        "path": COOKIE_PATH,
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https" if secure is None else secure,
    }


def _payload(signer: CookieSigner, request: Request) -> dict[str, Any] | None:
    payload = signer.unsign(_PURPOSE, request.cookies.get(SESSION_COOKIE), _SESSION_MAX_SECONDS)
    if payload is None:
        return None
    key_id, expires, session_id = payload.get("k"), payload.get("e"), payload.get("s")
    if not isinstance(key_id, str) or len(key_id) != _KEY_ID_LENGTH or not isinstance(expires, int):
        return None
    if not isinstance(session_id, str) or expires <= datetime.now(UTC).timestamp():
        return None
    return payload


async def start(
    response: Response,
    request: Request,
    signer: CookieSigner,
    request_context: Any,
    key_id: str,
    lifetime: timedelta,
    secure: bool | None,
) -> None:
    """Open a session on the server and set its cookie."""
    opened = await open_session(request_context.session_factory, key_id, lifetime)
    payload = {"k": key_id, "e": int(opened.expires_at.timestamp()), "s": opened.id}
    response.set_cookie(
        SESSION_COOKIE,
        signer.sign(_PURPOSE, payload),
        max_age=int(lifetime.total_seconds()),
        **_cookie_options(request, secure),
    )


async def end(
    response: Response,
    request: Request,
    signer: CookieSigner,
    request_context: Any,
    secure: bool | None,
) -> None:
    """End the session on the server and delete the cookie."""
    payload = _payload(signer, request)
    if payload is not None:
        await close_session(request_context.session_factory, payload["s"])
    response.delete_cookie(SESSION_COOKIE, **_cookie_options(request, secure))


async def referrer_user(
    request: Request, signer: CookieSigner, request_context: Any
) -> ReferrerUser | None:
    """The referrer whose valid session came with the request (looked up every time: a
    revoked key or ended session is no session at once)."""
    payload = _payload(signer, request)
    if payload is None:
        return None
    principal = await session_principal(
        request_context.session_factory, payload["s"], payload["k"], referrer=True
    )
    if principal is None or principal.organisation is None:
        return None
    return ReferrerUser(
        principal=principal,
        csrf=signer.token(_CSRF, payload["k"], str(payload["e"]), payload["s"]),
    )


def csrf_valid(signer: CookieSigner, request: Request, presented: str | None) -> bool:
    """Whether a posted CSRF token belongs to the request's session."""
    payload = _payload(signer, request)
    if payload is None:
        return False
    return signer.check(_CSRF, presented, payload["k"], str(payload["e"]), payload["s"])


# ------------------------------------------------------------------------------- login nonce
# As the dashboard's: the sign-in form is posted before any session exists, so its token is
# bound to a nonce cookie (a page elsewhere cannot sign someone in with its own key).


def login_token(request: Request, signer: CookieSigner) -> tuple[str, str | None]:
    """The sign-in form's token, and a new nonce to set (None: the browser's cookie is kept)."""
    nonce = request.cookies.get(LOGIN_COOKIE)
    new = None
    if not nonce or len(nonce) != _NONCE_LENGTH:
        nonce = new = secrets.token_urlsafe(16)
    return signer.token("referrer-login", nonce), new


def set_login_nonce(response: Response, request: Request, nonce: str, secure: bool | None) -> None:
    response.set_cookie(
        LOGIN_COOKIE, nonce, max_age=LOGIN_NONCE_SECONDS, **_cookie_options(request, secure)
    )


def login_token_valid(request: Request, signer: CookieSigner, presented: str | None) -> bool:
    """Whether the sign-in form's token matches the nonce cookie that came with it."""
    nonce = request.cookies.get(LOGIN_COOKIE)
    return bool(nonce) and signer.check("referrer-login", presented, str(nonce))
