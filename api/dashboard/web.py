"""The plumbing every dashboard page shares: the route class that turns errors into HTML
pages and adds security headers, rendering, the signed-in user (a coordinator, or a
practitioner in their workspace), and posted forms.

Errors on dashboard pages are pages, not problem+json: ``DashboardRoute`` catches them in
the route itself (an ``APIRouter`` cannot install exception handlers), so the rest of the API
is untouched. Like the API, an unexpected error is logged by type only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import structlog
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api.auth import Role
from api.context import get_context
from api.dashboard.session import (
    DashboardUser,
    Flash,
    clear_flash,
    csrf_valid,
    session_user,
    set_flash,
    take_flash,
)
from api.dashboard.state import DashboardState, get_state
from api.problems import ProblemError
from services.worker_presence import WorkerUnavailable

log = structlog.get_logger("harbour.dashboard")

LOGIN_PATH = "/dashboard/login"
MAX_FORM_BYTES = 16 * 1024
# Strict, because pages show what clients wrote (the inbox): no script but our own file, no
# inline style, nothing from elsewhere, no framing, forms post only here.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class LoginRequired(Exception):
    """No valid dashboard session: go to the login page."""


class PageError(Exception):
    """Answer with an error page: ``status``, a title and a plain explanation."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message


class DashboardRoute(APIRoute):
    """An ``APIRoute`` whose errors are HTML pages and whose responses carry security headers
    and a ``Server-Timing`` header (the handler's time, rendering included)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            began = time.perf_counter()
            try:
                response = await handler(request)
            except LoginRequired:
                response = RedirectResponse(LOGIN_PATH, status_code=303)
            except PageError as error:
                response = error_page(
                    request, error.status, error.title, error.message, await _signed_in(request)
                )
            except RequestValidationError:
                response = error_page(
                    request,
                    404,
                    "Page not found",
                    "There is no such page, or the link is not valid.",
                    await _signed_in(request),
                )
            except ProblemError as error:
                # From the application's own checks (e.g. an unknown query parameter: 422).
                message = (
                    "That address has something the dashboard does not understand."
                    if error.status == 422
                    else error.detail
                )
                response = error_page(
                    request, error.status, "Not possible", message, await _signed_in(request)
                )
            except WorkerUnavailable as error:
                # Said at once (the server knows nobody polls), rather than after the timeout.
                log.warning("no worker", waited=error.waited)
                response = error_page(
                    request,
                    503,
                    "The worker is not running",
                    "Harbour's worker is not running, so this page cannot ask the referral for "
                    "its details. Lists, the waiting list and reports still work. Ask whoever "
                    "runs Harbour to start it (make run, or python worker.py), then reload.",
                    await _signed_in(request),
                )
            except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError) as error:
                log.warning("temporal unavailable", error_type=type(error).__name__)
                response = error_page(
                    request,
                    503,
                    "Temporal is not answering",
                    "The workflow service did not answer in time. Try again in a moment.",
                    await _signed_in(request),
                )
            except Exception as error:
                # By type only: a message could quote personal data.
                log.error("dashboard error", error_type=type(error).__name__, path=request.url.path)
                response = error_page(
                    request,
                    500,
                    "Something went wrong",
                    "Something went wrong on our side.",
                    await _signed_in(request),
                )
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            elapsed = (time.perf_counter() - began) * 1000
            response.headers["Server-Timing"] = f"app;dur={elapsed:.1f}"
            return response

        return route


async def _signed_in(request: Request) -> DashboardUser | None:
    """The signed-in coordinator for an error page's header, if any (never raises)."""
    try:
        state = get_state(request)
        return await session_user(request, state.signer, get_context(request).session_factory)
    except Exception:  # an error page must render whatever else is broken
        return None


def error_page(
    request: Request,
    status: int,
    title: str,
    message: str,
    user: DashboardUser | None = None,
) -> HTMLResponse:
    """An error page, with the normal header and navigation when signed in."""
    state = get_state(request)
    html = state.templates.get_template("error.html").render(
        title=title,
        message=message,
        status=status,
        user=user,
        nav=None,
        flash=None,
        dev_mailbox=state.dev_mailbox if user else False,
        service_name=get_context(request).settings.service_name,
    )
    return HTMLResponse(html, status_code=status)


async def signed_in_user(request: Request) -> DashboardUser:
    """A FastAPI dependency: the signed-in coordinator or practitioner, else
    ``LoginRequired``."""
    state = get_state(request)
    user = await session_user(request, state.signer, get_context(request).session_factory)
    if user is None:
        raise LoginRequired
    return user


async def current_user(request: Request) -> DashboardUser:
    """A FastAPI dependency: the signed-in coordinator (the coordinators' pages and forms).
    A practitioner is refused with a 403 page (it leads back to their own workspace)."""
    user = await signed_in_user(request)
    if user.principal.role != Role.COORDINATOR:
        raise PageError(
            403,
            "Not for practitioners",
            "This page is for coordinators. Your own caseload and diary are in your workspace.",
        )
    return user


async def current_practitioner(request: Request) -> DashboardUser:
    """A FastAPI dependency: the signed-in practitioner (their workspace). A coordinator is
    refused with a 403 page: a practitioner's workspace shows only their own clients."""
    user = await signed_in_user(request)
    if not user.is_practitioner or user.practitioner_id is None:
        raise PageError(
            403,
            "Only for practitioners",
            "This is a practitioner's own workspace. Coordinators see every practitioner's "
            "caseload on the Caseloads page.",
        )
    return user


def render(
    request: Request,
    template: str,
    user: DashboardUser | None,
    *,
    nav: str | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page with the layout's common context; shows (and clears) a flash message."""
    state = get_state(request)
    flash = take_flash(request, state.signer)
    html = state.templates.get_template(template).render(
        user=user,
        nav=nav,
        flash=flash,
        dev_mailbox=state.dev_mailbox,
        service_name=get_context(request).settings.service_name,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    if flash is not None:
        clear_flash(response, request, state.settings.secure_cookie)
    return response


def redirect(request: Request, to: str, flash: Flash | None = None) -> RedirectResponse:
    """See other (after a post), with an optional message for the next page."""
    response = RedirectResponse(to, status_code=303)
    if flash is not None:
        state = get_state(request)
        set_flash(response, request, state.signer, flash, state.settings.secure_cookie)
    return response


@dataclass(frozen=True)
class Form:
    """A posted form's fields: every value of each name, in order."""

    fields: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        """The first value of ``name``, stripped."""
        return self.fields.get(name, [default])[0].strip()

    def optional(self, name: str) -> str | None:
        return self.get(name) or None

    def all(self, name: str) -> list[str]:
        """Every value of ``name`` (e.g. the ticked boxes of a list), stripped."""
        return [value.strip() for value in self.fields.get(name, [])]


async def read_form(request: Request) -> Form:
    """The urlencoded body of a post, size-limited (an empty body is an empty form); no
    other body type is accepted."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PageError(413, "Too long", "What was sent is too long.")
    if body and content_type != "application/x-www-form-urlencoded":
        # Shared by the public pages: the words must suit a client as well as staff.
        raise PageError(415, "Not a form", "This address only takes forms from our own pages.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000)
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, "Not a form", "What was sent could not be read.") from None
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return Form(fields)


def same_origin(request: Request) -> bool:
    """Whether a post came from one of our own pages, judged by ``Origin`` when the browser
    sends it (the SameSite=Strict cookie is the first defence; this is the second)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def posted_form(request: Request, user: DashboardUser) -> Form:
    """A posted form whose CSRF token belongs to ``user``'s session, else a 403 page."""
    form = await read_form(request)
    state: DashboardState = get_state(request)
    if not same_origin(request) or not csrf_valid(state.signer, request, form.get("csrf")):
        raise PageError(
            403,
            "Form expired",
            "This form was not sent from a current dashboard page. Go back, reload the page "
            "and try again.",
        )
    return form
