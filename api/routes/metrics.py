"""``GET /metrics``: Prometheus' scrape of this API process (docs/observability.md).

Who may scrape: with ``HARBOUR_API_METRICS_TOKEN`` set, whoever presents it as a bearer token
(Prometheus' ``authorization`` setting), from anywhere; without it, only a client on this
machine (loopback), which is the dev stack's case. The figures carry no personal data, but
how many referrals wait, or how many crisis alerts are open, is still the service's business.
Not in the OpenAPI document: it is for the operator's Prometheus, not for API clients.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.context import ApiContext, get_context
from api.problems import ProblemError
from services.metrics import CONTENT_TYPE_LATEST

router = APIRouter(tags=["metrics"])


def _from_loopback(request: Request) -> bool:
    if request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def _may_scrape(request: Request, context: ApiContext) -> None:
    token = context.api_settings.metrics_token
    if token is None:
        if not _from_loopback(request):
            raise ProblemError(
                403,
                "forbidden",
                "metrics are served to this machine only; set HARBOUR_API_METRICS_TOKEN to "
                "scrape from elsewhere",
            )
        return
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), token.get_secret_value().encode()
    ):
        raise ProblemError(
            401,
            "unauthenticated",
            "the metrics token is required (Authorization: Bearer <HARBOUR_API_METRICS_TOKEN>)",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get("/metrics", include_in_schema=False)
async def metrics(
    request: Request, context: Annotated[ApiContext, Depends(get_context)]
) -> Response:
    """This process's metrics in Prometheus' text format."""
    _may_scrape(request, context)
    return Response(await context.metrics.render(), media_type=CONTENT_TYPE_LATEST)
