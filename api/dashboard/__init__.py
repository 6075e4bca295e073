"""The coordinators' dashboard: server-rendered pages under ``/dashboard`` (issue 5).

Served by the API application itself (``create_app`` includes ``router``), behind a
coordinator's API key: a sign-in form sets a signed session cookie. A practitioner's key opens
their own workspace (``practice``, ``practice_forms``; docs/practice.md). Pages are Jinja2
templates (autoescaped) with charts as inline SVG — no front-end build, nothing fetched from
elsewhere. See docs/dashboard.md.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.dashboard import actions, login, not_found, pages, practice, practice_forms
from api.dashboard.state import configure
from api.dashboard.web import DashboardRoute

router = APIRouter(route_class=DashboardRoute)
for _module in (login, actions, pages, practice, practice_forms):
    router.include_router(_module.router, prefix="/dashboard", include_in_schema=False)
# Last: every other address under /dashboard is an HTML 404 page.
router.include_router(not_found.router, prefix="/dashboard", include_in_schema=False)

__all__ = ["configure", "router"]
