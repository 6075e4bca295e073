"""The public pages' own OpenAPI document (clients' links, referrers' pages, self-referral).

The pages are HTML, not the JSON API, so they stay out of ``/openapi.json``; this document
describes their paths, parameters and posted forms for the fuzz tests
(``tests/test_public_pages_schemathesis.py``), built from the pages' own routers.
"""

from __future__ import annotations

from typing import Any

from fastapi.openapi.utils import get_openapi

from api.client_links import router as client_links_router
from api.portal import router as portal_router
from api.self_referral import router as self_referral_router


def public_pages_schema() -> dict[str, Any]:
    """OpenAPI 3.1 for every public page and token endpoint."""
    routes = [*client_links_router.routes, *portal_router.routes, *self_referral_router.routes]
    return get_openapi(title="Harbour public pages", version="1", routes=routes)
