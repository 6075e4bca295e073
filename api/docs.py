"""``/docs``: Swagger UI over ``/openapi.json``, served from an installed package.

FastAPI's own page loads Swagger UI from a public CDN (it breaks offline, and a strict
Content-Security-Policy has to let another origin's script in) and starts it with an inline
script. Here the page, its script and its styles all come from this server: Swagger UI's files
from the ``swagger-ui-bundle-v2`` package, its start-up from ``docs.js`` below. So the page
runs under a policy as strict as the dashboard's, with one addition: Swagger UI fetches the
schema and sends "try it out" requests to this same origin (``connect-src 'self'``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path

router = APIRouter(include_in_schema=False)

DOCS_PATH = "/docs"
OPENAPI_PATH = "/openapi.json"
_ASSETS = Path(str(swagger_ui_path))
# Only these files are served: a fixed list, so no name in a URL ever becomes a path.
_FILES: Mapping[str, tuple[str, str]] = {
    "swagger-ui-bundle.js": ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger-ui.css", "text/css; charset=utf-8"),
    "favicon-32x32.png": ("favicon-32x32.png", "image/png"),
}

DOCS_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Harbour API</title>
<link rel="icon" type="image/png" href="{DOCS_PATH}/favicon-32x32.png">
<link rel="stylesheet" href="{DOCS_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{DOCS_PATH}/swagger-ui-bundle.js"></script>
<script src="{DOCS_PATH}/docs.js"></script>
</body>
</html>
"""

# Swagger UI's start-up, as a file of its own (an inline script would need 'unsafe-inline').
# validatorUrl null: the schema is never sent to the public validator.
_START = f"""window.ui = SwaggerUIBundle({{
  url: "{OPENAPI_PATH}",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
}});
"""


@router.get(DOCS_PATH)
async def docs() -> HTMLResponse:
    """The Swagger UI page."""
    return HTMLResponse(_PAGE, headers={**DOCS_HEADERS, "Cache-Control": "no-cache"})


@router.get(f"{DOCS_PATH}/docs.js")
async def start_script() -> Response:
    """Swagger UI's start-up: load ``/openapi.json`` into the page."""
    return Response(
        _START,
        media_type="text/javascript; charset=utf-8",
        headers={**DOCS_HEADERS, "Cache-Control": "no-cache"},
    )


@router.get(f"{DOCS_PATH}/{{name}}")
async def asset(name: str) -> Response:
    """One of Swagger UI's own files (the same for everyone: cacheable)."""
    found = _FILES.get(name)
    if found is None:
        raise HTTPException(404)
    filename, media_type = found
    return FileResponse(
        _ASSETS / filename,
        media_type=media_type,
        headers={**DOCS_HEADERS, "Cache-Control": "public, max-age=86400"},
    )
