"""A referrer's sign-in on their own pages: the dashboard's pattern (``api.dashboard.session``,
``SessionCookies``) — a session kept on the server, a signed cookie holding only the key's id,
the expiry and the session's id, a CSRF token derived from them, a sign-in form bound to a
nonce cookie — with the dashboard's signer but purposes, cookies and a path of its own: a
referrer's cookie opens no dashboard page, and a coordinator's opens no referrer page (and
the role is read from the session's key on every request either way).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import Request, Response

from api.auth import Principal
from api.dashboard.session import CookieSigner, SessionCookies
from services.dashboard_sessions import session_principal

COOKIE_PATH = "/referrer"
SESSION_COOKIE = "harbour_referrer"
LOGIN_COOKIE = "harbour_referrer_login"
REFERRER = SessionCookies(
    path=COOKIE_PATH,
    session_cookie=SESSION_COOKIE,
    login_cookie=LOGIN_COOKIE,
    purpose="referrer-session",
    csrf_purpose="referrer-csrf",
    login_purpose="referrer-login",
)


@dataclass(frozen=True)
class ReferrerUser:
    """A signed-in referrer: their key's principal (bound to one organisation) and CSRF token."""

    principal: Principal
    csrf: str

    @property
    def organisation(self) -> str:
        assert self.principal.organisation is not None  # every referrer key has one
        return self.principal.organisation


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
    await REFERRER.start(
        response, request, signer, request_context.session_factory, key_id, lifetime, secure=secure
    )


async def end(
    response: Response,
    request: Request,
    signer: CookieSigner,
    request_context: Any,
    secure: bool | None,
) -> None:
    """End the session on the server and delete the cookie."""
    await REFERRER.end(response, request, signer, request_context.session_factory, secure=secure)


async def referrer_user(
    request: Request, signer: CookieSigner, request_context: Any
) -> ReferrerUser | None:
    """The referrer whose valid session came with the request (looked up every time: a
    revoked key or ended session is no session at once)."""
    payload = REFERRER.payload(signer, request)
    if payload is None:
        return None
    principal = await session_principal(
        request_context.session_factory, payload["s"], payload["k"], referrer=True
    )
    if principal is None or principal.organisation is None:
        return None
    return ReferrerUser(principal=principal, csrf=REFERRER.csrf(signer, payload))


def csrf_valid(signer: CookieSigner, request: Request, presented: str | None) -> bool:
    """Whether a posted CSRF token belongs to the request's session."""
    return REFERRER.csrf_valid(signer, request, presented)


def login_token(request: Request, signer: CookieSigner) -> tuple[str, str | None]:
    """The sign-in form's token, and a new nonce to set (None: the browser's cookie is kept)."""
    nonce, new = REFERRER.login_nonce(request)
    return REFERRER.login_token(signer, nonce), nonce if new else None


def set_login_nonce(response: Response, request: Request, nonce: str, secure: bool | None) -> None:
    REFERRER.set_login_nonce(response, request, nonce, secure)


def login_token_valid(request: Request, signer: CookieSigner, presented: str | None) -> bool:
    """Whether the sign-in form's token matches the nonce cookie that came with it."""
    return REFERRER.login_token_valid(request, signer, presented)


def forget_login_nonce(response: Response, request: Request, secure: bool | None) -> None:
    REFERRER.forget_login_nonce(response, request, secure)
