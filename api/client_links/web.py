"""The plumbing of the pages people outside the service use (clients' links): the route
class that turns every error into a plain page, the templates, and the link signer.

Like the dashboard's (``api.dashboard.web``), and reusing its security headers and form
reading by import, but its own pages: no sign-in, no staff navigation, words for the public,
and the crisis contacts on every page, errors included.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api.context import get_context
from api.dashboard.web import SECURITY_HEADERS, PageError
from api.problems import ProblemError
from infra.link_tokens import LinkSigner
from services.client_links import LinkGone, LinkNotFound
from services.worker_presence import WorkerUnavailable

log = structlog.get_logger("harbour.pages")

TEMPLATES = Path(__file__).parent / "templates"
# The referrers' pages (``api.portal``) share this layout, plumbing and stylesheet.
PORTAL_TEMPLATES = Path(__file__).parent.parent / "portal" / "templates"
STATIC = Path(__file__).parent / "static"

NOT_FOUND = "This link does not work. Check that you copied all of it, or call us and we will help."
# A client's answer through a link is kept before anything else is asked of Temporal.
KEPT_ANYWAY = (
    "We could not finish this just now. We have kept what you sent, and a person will look "
    "at it. You can also call us."
)
GONE = {
    "expired": "This link is too old to use now. Call us, or reply to our last message.",
    "used": "This link has already been used, so nothing more can change with it. "
    "If you want to change something, call us or reply to our last message.",
}


class RedirectTo(Exception):
    """Answer with a redirect (see other) to ``location``: e.g. to sign in."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


_PROBLEM_WORDS = {
    404: "There is no such page, or it is not yours to see.",
    422: "That address has something we do not understand.",
    429: "There have been too many tries. Please wait a minute, then try again.",
}


@dataclass
class PublicPages:
    """The public pages' per-application dependencies."""

    templates: Environment
    signer: LinkSigner


def form_body(**fields: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI for a page's posted form (``openapi_extra``): the fields it reads, as text.
    Published in the public pages' own schema (tests fuzz it), not in the API's."""
    return {
        "requestBody": {
            "required": False,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": fields}
                }
            },
        }
    }


TEXT: dict[str, Any] = {"type": "string", "maxLength": 5000}


def get_pages(request: Request) -> PublicPages:
    """The public pages' state, built on first use (the link key comes from the pseudonym
    key the worker signs letters' links with)."""
    pages: PublicPages | None = getattr(request.app.state, "public_pages", None)
    if pages is None:
        templates = Environment(
            loader=FileSystemLoader([TEMPLATES, PORTAL_TEMPLATES]),
            autoescape=select_autoescape(["html"], default_for_string=True, default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        pages = PublicPages(templates, LinkSigner(get_context(request).pseudonym_key))
        request.app.state.public_pages = pages
    return pages


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A public page with the layout's common context."""
    settings = get_context(request).settings
    html = (
        get_pages(request)
        .templates.get_template(template)
        .render(
            service_name=settings.service_name,
            service_phone=settings.service_phone,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status)


def message_page(
    request: Request, status: int, title: str, message: str, *, help_token: str | None = None
) -> HTMLResponse:
    """A page that says one thing plainly (errors too), with the crisis contacts; with
    ``help_token`` (a genuine link that can do no more), also the "I need help now" button,
    which still reaches a person through that link."""
    return render(
        request, "message.html", status=status, title=title, message=message, help_token=help_token
    )


class PublicRoute(APIRoute):
    """An ``APIRoute`` whose errors are plain pages and whose responses carry the dashboard's
    security headers. Unexpected errors are logged by type only."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            began = time.perf_counter()
            try:
                response = await handler(request)
            except RedirectTo as redirect:
                response = RedirectResponse(redirect.location, status_code=303)
            except LinkNotFound:
                response = message_page(request, 404, "Link not found", NOT_FOUND)
            except RequestValidationError:
                # An address the page cannot read: a client's link, or any other page.
                if request.url.path.startswith("/c/"):
                    response = message_page(request, 404, "Link not found", NOT_FOUND)
                else:
                    response = message_page(request, 404, "Not found", _PROBLEM_WORDS[404])
            except LinkGone as gone:
                # The link is genuine: asking for help through it still alerts the team.
                token = request.path_params.get("token")
                response = message_page(
                    request,
                    410,
                    "This link has ended",
                    GONE[gone.why],
                    help_token=token if isinstance(token, str) else None,
                )
            except PageError as error:
                response = message_page(request, error.status, error.title, error.message)
            except ProblemError as error:
                response = message_page(
                    request,
                    error.status,
                    "Not possible",
                    _PROBLEM_WORDS.get(error.status, error.detail),
                )
                for name, value in (error.headers or {}).items():
                    response.headers[name] = value
            except (
                RPCError,
                WorkflowUpdateRPCTimeoutOrCancelledError,
                TimeoutError,
                WorkerUnavailable,
            ) as error:
                log.warning("temporal unavailable", error_type=type(error).__name__)
                response = message_page(
                    request,
                    503,
                    "Please try again soon",
                    "We could not finish this just now. Please try again in a few minutes, "
                    "or call us.",
                )
            except Exception as error:
                log.error("page error", error_type=type(error).__name__)
                response = message_page(
                    request, 500, "Something went wrong", "Something went wrong on our side."
                )
            # The dashboard's policy: among them "Referrer-Policy: same-origin", so a link's
            # token (in the address) is never sent to another site. ("no-referrer" would make
            # Chromium post forms with "Origin: null", which ``same_origin`` refuses.)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            response.headers["Server-Timing"] = (
                f"app;dur={(time.perf_counter() - began) * 1000:.1f}"
            )
            return response

        return route
