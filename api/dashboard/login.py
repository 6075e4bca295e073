"""Signing in with a coordinator's or a practitioner's API key, and signing out.

The key is posted once, from a form (never in a URL), checked like any API key
(``api.auth.authenticate``), and forgotten: the session cookie holds only the key's id, an
expiry and the id of a session kept on the server, signed. Coordinator keys open the
coordinators' pages; practitioner keys open that practitioner's own workspace
(``/dashboard/practice``, docs/practice.md). Referrer and gateway keys cannot sign in.
Signing out ends that session on the server, so the cookie is worthless afterwards.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request, Response

from api.auth import Role, authenticate
from api.context import get_context
from api.dashboard.session import (
    COORDINATOR_HOME,
    DASHBOARD,
    PRACTICE_HOME,
    DashboardUser,
    Flash,
    session_user,
)
from api.dashboard.state import get_state
from api.dashboard.web import (
    DashboardRoute,
    PageError,
    posted_form,
    read_form,
    redirect,
    render,
    same_origin,
    signed_in_user,
)
from services.dashboard_sessions import DASHBOARD_ROLES

router = APIRouter(route_class=DashboardRoute)
log = structlog.get_logger("harbour.dashboard")

_NOT_VALID = "That key was not recognised. Check it and try again, or ask for a new one."
_NOT_STAFF = "Only coordinator and practitioner keys can sign in to the dashboard."


def _login_page(request: Request, status: int = 200, error: str | None = None) -> Response:
    """The form, its CSRF token bound to a nonce cookie (the form is posted before any
    session exists)."""
    state = get_state(request)
    nonce, new = DASHBOARD.login_nonce(request)
    token = DASHBOARD.login_token(state.signer, nonce)
    response = render(request, "login.html", None, status=status, error=error, csrf=token)
    if new:
        DASHBOARD.set_login_nonce(response, request, nonce, state.settings.secure_cookie)
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    """The sign-in form (already signed in: the overview, or a practitioner's workspace)."""
    state = get_state(request)
    user = await session_user(request, state.signer, get_context(request).session_factory)
    if user is not None:
        return redirect(request, user.home)
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the posted key; a coordinator's or a practitioner's starts a session."""
    state = get_state(request)
    form = await read_form(request)
    if not same_origin(request) or not DASHBOARD.login_token_valid(
        request, state.signer, form.get("csrf")
    ):
        raise PageError(
            403, "Form expired", "The sign-in form had expired. Reload the page and try again."
        )
    principal = await authenticate(get_context(request).session_factory, form.get("api_key"))
    if principal is None:
        log.info("dashboard sign-in refused", reason="invalid key")
        return _login_page(request, 401, _NOT_VALID)
    if principal.role not in DASHBOARD_ROLES or (
        principal.role == Role.PRACTITIONER and not principal.practitioner_id
    ):
        log.info("dashboard sign-in refused", reason="role", key_id=principal.key_id)
        return _login_page(request, 403, _NOT_STAFF)
    home = PRACTICE_HOME if principal.role == Role.PRACTITIONER else COORDINATOR_HOME
    response = redirect(request, home)
    await DASHBOARD.start(
        response,
        request,
        state.signer,
        get_context(request).session_factory,
        principal.key_id,
        timedelta(hours=state.settings.session_hours),
        secure=state.settings.secure_cookie,
    )
    DASHBOARD.forget_login_nonce(response, request, state.settings.secure_cookie)
    log.info("dashboard sign-in", key_id=principal.key_id, role=principal.role.value)
    return response


@router.post("/logout")
async def logout(
    request: Request, user: Annotated[DashboardUser, Depends(signed_in_user)]
) -> Response:
    """End the session, on the server: its cookie, or any copy of it, opens nothing more."""
    await posted_form(request, user)
    state = get_state(request)
    response = redirect(request, "/dashboard/login", Flash("ok", "You have signed out."))
    await DASHBOARD.end(
        response,
        request,
        state.signer,
        get_context(request).session_factory,
        secure=state.settings.secure_cookie,
    )
    log.info("dashboard sign-out", key_id=user.principal.key_id)
    return response
