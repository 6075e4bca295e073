"""Signed cookies: the session (an API key id, an expiry and the id of a session kept on the
server, nothing else), CSRF tokens, the login form's nonce and one-shot flash messages.

Signing is itsdangerous's: a cookie value is ``<base64url JSON>.<timestamp>.<signature>``
(``URLSafeTimedSerializer``), HMAC-SHA256 under a key derived from the dashboard's secret and
the cookie's purpose (the salt), so a value signed for one cookie is refused as another. The
CSRF token is not stored: it is a signature of the session's key id, expiry and id, so it lives
and dies with the session and a page can only be posted from a form this server rendered for that
session.

The session itself is kept on the server (``services.dashboard_sessions``): signing out, or
revoking the key, ends it there, so the old cookie reads no page and posts no form afterwards,
however long its signature would still be valid.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadData, Signer, URLSafeTimedSerializer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth import Principal, Role
from api.dashboard.settings import MAX_SESSION_HOURS
from services.dashboard_sessions import close_session, open_session, session_principal

COOKIE_PATH = "/dashboard"
COORDINATOR_HOME = "/dashboard"
PRACTICE_HOME = "/dashboard/practice"
SESSION_COOKIE = "harbour_dashboard"
LOGIN_COOKIE = "harbour_dashboard_login"
FLASH_COOKIE = "harbour_dashboard_flash"
LOGIN_NONCE_SECONDS = 30 * 60
FLASH_SECONDS = 120
# No session outlives the longest lifetime the settings allow, whatever its payload says.
_SESSION_MAX_SECONDS = int(MAX_SESSION_HOURS * 3600)
_MAX_COOKIE = 2048
_KEY_ID_LENGTH = 16
_NONCE_LENGTH = 22  # secrets.token_urlsafe(16)
# HMAC-SHA256 (itsdangerous defaults to SHA-1), keyed by HMAC(secret, salt): one key per purpose.
_SIGNER_OPTIONS: dict[str, Any] = {"digest_method": hashlib.sha256, "key_derivation": "hmac"}


class CookieSigner:
    """Signed cookie values and tokens under the dashboard's secret, separated by purpose
    (``session``, ``flash``, ``csrf``, ``login``): itsdangerous does the signing."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._serializers: dict[str, URLSafeTimedSerializer] = {}
        self._signers: dict[str, Signer] = {}

    @staticmethod
    def _salt(purpose: str) -> str:
        return f"harbour.dashboard.{purpose}"

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        if purpose not in self._serializers:
            self._serializers[purpose] = URLSafeTimedSerializer(
                self._secret, salt=self._salt(purpose), signer_kwargs=_SIGNER_OPTIONS
            )
        return self._serializers[purpose]

    def _signer(self, purpose: str) -> Signer:
        if purpose not in self._signers:
            self._signers[purpose] = Signer(
                self._secret, salt=self._salt(purpose), **_SIGNER_OPTIONS
            )
        return self._signers[purpose]

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        """``payload`` as a signed, timestamped cookie value."""
        return str(self._serializer(purpose).dumps(payload))

    def unsign(self, purpose: str, value: str | None, max_age: int) -> dict[str, Any] | None:
        """The payload of a value signed for ``purpose`` at most ``max_age`` seconds ago; None
        when absent, tampered, too old or odd."""
        if not value or len(value) > _MAX_COOKIE:
            return None
        try:
            payload = self._serializer(purpose).loads(value, max_age=max_age)
        except BadData:
            return None
        return payload if isinstance(payload, dict) else None

    def token(self, purpose: str, *parts: str) -> str:
        """A token bound to ``parts`` (e.g. a CSRF token bound to a session)."""
        return self._signer(purpose).get_signature("\x00".join(parts)).decode()

    def check(self, purpose: str, presented: str | None, *parts: str) -> bool:
        """Whether ``presented`` is the token for ``parts`` (constant time)."""
        if not presented:
            return False
        return self._signer(purpose).verify_signature("\x00".join(parts), str(presented))


@dataclass(frozen=True)
class DashboardUser:
    """A signed-in coordinator or practitioner: their API key's principal and the session's
    CSRF token."""

    principal: Principal
    expires_at: datetime
    csrf: str

    @property
    def staff_id(self) -> str:
        """Recorded as the actor of the actions they take (the key's label or id)."""
        return self.principal.staff_id

    @property
    def practitioner_id(self) -> str | None:
        """The practitioner's id when a practitioner is signed in, else None."""
        return self.principal.practitioner_id if self.is_practitioner else None

    @property
    def is_practitioner(self) -> bool:
        return self.principal.role == Role.PRACTITIONER

    @property
    def home(self) -> str:
        """Where this user starts: a practitioner's workspace, or the coordinators' overview."""
        return PRACTICE_HOME if self.is_practitioner else COORDINATOR_HOME


@dataclass(frozen=True)
class SessionCookies:
    """One kind of sign-in's cookies and tokens — the dashboard's, or the referrers' own pages'
    (``api.portal.session``): a session cookie (the key id, the expiry and the server-side
    session's id, signed for ``purpose``), CSRF tokens derived from it (``csrf_purpose``), and
    the sign-in form's nonce cookie with its token (``login_purpose``). Each kind has its own
    cookie names, path and purposes, so a value made for one is refused by the other."""

    path: str
    session_cookie: str
    login_cookie: str
    purpose: str
    csrf_purpose: str
    login_purpose: str

    def cookie_options(self, request: Request, secure: bool | None) -> dict[str, Any]:
        """HttpOnly, SameSite=Strict, on this kind's path; Secure over HTTPS unless set."""
        return {
            "path": self.path,
            "httponly": True,
            "samesite": "strict",
            "secure": request.url.scheme == "https" if secure is None else secure,
        }

    async def start(
        self,
        response: Response,
        request: Request,
        signer: CookieSigner,
        session_factory: async_sessionmaker[AsyncSession],
        key_id: str,
        lifetime: timedelta,
        *,
        secure: bool | None,
    ) -> None:
        """Open a session on the server and set its cookie: the key id, the expiry and the
        session's id, signed."""
        opened = await open_session(session_factory, key_id, lifetime)
        payload = {"k": key_id, "e": int(opened.expires_at.timestamp()), "s": opened.id}
        response.set_cookie(
            self.session_cookie,
            signer.sign(self.purpose, payload),
            max_age=int(lifetime.total_seconds()),
            **self.cookie_options(request, secure),
        )

    async def end(
        self,
        response: Response,
        request: Request,
        signer: CookieSigner,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        secure: bool | None,
    ) -> None:
        """End the request's session on the server (any copy of its cookie is refused from
        now on) and delete the cookie."""
        payload = self.payload(signer, request)
        if payload is not None:
            await close_session(session_factory, payload["s"])
        response.delete_cookie(self.session_cookie, **self.cookie_options(request, secure))

    def payload(self, signer: CookieSigner, request: Request) -> dict[str, Any] | None:
        """The session cookie's payload if it is signed, of the right shape and not expired
        (whether the session is still open is the server's to say: ``session_principal``)."""
        payload = signer.unsign(
            self.purpose, request.cookies.get(self.session_cookie), _SESSION_MAX_SECONDS
        )
        if payload is None:
            return None
        key_id, expires, session_id = payload.get("k"), payload.get("e"), payload.get("s")
        if (
            not isinstance(key_id, str)
            or len(key_id) != _KEY_ID_LENGTH
            or not isinstance(expires, int)
        ):
            return None
        if not isinstance(session_id, str) or expires <= datetime.now(UTC).timestamp():
            return None
        return payload

    def csrf(self, signer: CookieSigner, payload: dict[str, Any]) -> str:
        """The CSRF token of the session whose cookie carries ``payload``."""
        return signer.token(self.csrf_purpose, payload["k"], str(payload["e"]), payload["s"])

    def csrf_valid(self, signer: CookieSigner, request: Request, presented: str | None) -> bool:
        """Whether a posted CSRF token belongs to the request's (valid-looking) session."""
        payload = self.payload(signer, request)
        if payload is None:
            return False
        return signer.check(
            self.csrf_purpose, presented, payload["k"], str(payload["e"]), payload["s"]
        )

    def login_nonce(self, request: Request) -> tuple[str, bool]:
        """The sign-in form's nonce: the one in the browser's cookie, else a new one
        (``True``: the caller sets it with ``set_login_nonce``)."""
        nonce = request.cookies.get(self.login_cookie)
        if nonce and len(nonce) == _NONCE_LENGTH:
            return nonce, False
        return secrets.token_urlsafe(16), True

    def login_token(self, signer: CookieSigner, nonce: str) -> str:
        """The sign-in form's token, bound to its nonce (the form is posted before any
        session exists, so a page elsewhere cannot sign someone in with its own key)."""
        return signer.token(self.login_purpose, nonce)

    def set_login_nonce(
        self, response: Response, request: Request, nonce: str, secure: bool | None
    ) -> None:
        response.set_cookie(
            self.login_cookie,
            nonce,
            max_age=LOGIN_NONCE_SECONDS,
            **self.cookie_options(request, secure),
        )

    def login_token_valid(
        self, request: Request, signer: CookieSigner, presented: str | None
    ) -> bool:
        """Whether the sign-in form's token matches the nonce cookie that came with it."""
        nonce = request.cookies.get(self.login_cookie)
        return bool(nonce) and signer.check(self.login_purpose, presented, str(nonce))

    def forget_login_nonce(self, response: Response, request: Request, secure: bool | None) -> None:
        response.delete_cookie(self.login_cookie, **self.cookie_options(request, secure))


DASHBOARD = SessionCookies(
    path=COOKIE_PATH,
    session_cookie=SESSION_COOKIE,
    login_cookie=LOGIN_COOKIE,
    purpose="session",
    csrf_purpose="csrf",
    login_purpose="login",
)


def _cookie_options(request: Request, secure: bool | None) -> dict[str, Any]:
    return DASHBOARD.cookie_options(request, secure)


async def session_user(
    request: Request, signer: CookieSigner, session_factory: async_sessionmaker[AsyncSession]
) -> DashboardUser | None:
    """The coordinator or practitioner whose valid session cookie came with the request, else
    None.

    The session and its key are looked up on every request: a session signed out, or a key
    revoked (or whose role changed), is no session at once.
    """
    payload = DASHBOARD.payload(signer, request)
    if payload is None:
        return None
    principal: Principal | None = await session_principal(
        session_factory, payload["s"], payload["k"]
    )
    if principal is None:
        return None
    return DashboardUser(
        principal=principal,
        expires_at=datetime.fromtimestamp(payload["e"], UTC),
        csrf=DASHBOARD.csrf(signer, payload),
    )


def csrf_valid(signer: CookieSigner, request: Request, presented: str | None) -> bool:
    """Whether a posted CSRF token belongs to the request's (valid-looking) session."""
    return DASHBOARD.csrf_valid(signer, request, presented)


# ------------------------------------------------------------------------------------ flash


@dataclass(frozen=True)
class Flash:
    """A one-shot message shown on the next page: ``ok`` or ``error``."""

    kind: str
    text: str


def set_flash(
    response: Response, request: Request, signer: CookieSigner, flash: Flash, secure: bool | None
) -> None:
    """Leave a message for the next page (after a redirect)."""
    response.set_cookie(
        FLASH_COOKIE,
        signer.sign("flash", {"k": flash.kind, "t": flash.text[:900]}),
        max_age=FLASH_SECONDS,
        **_cookie_options(request, secure),
    )


def take_flash(request: Request, signer: CookieSigner) -> Flash | None:
    """The message left for this page, if any (the caller deletes the cookie)."""
    payload = signer.unsign("flash", request.cookies.get(FLASH_COOKIE), FLASH_SECONDS)
    if payload is None:
        return None
    kind, text = payload.get("k"), payload.get("t")
    if kind not in ("ok", "error") or not isinstance(text, str):
        return None
    return Flash(kind=kind, text=text)


def clear_flash(response: Response, request: Request, secure: bool | None) -> None:
    response.delete_cookie(FLASH_COOKIE, **_cookie_options(request, secure))
