"""Any other address under /dashboard: an HTML "not found" page with the normal header, never
the API's JSON. Included last, so every real page is matched first."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.dashboard.web import DashboardRoute, PageError

router = APIRouter(route_class=DashboardRoute)


@router.api_route("/{rest:path}", methods=["GET", "POST"])
async def not_found(request: Request, rest: str) -> Response:
    """There is no such dashboard page."""
    raise PageError(
        404,
        "Page not found",
        "There is no such page. Check the address, or start again from the overview.",
    )
