"""The worker's HTTP endpoint: ``GET /metrics`` and nothing else (``worker.serve`` runs it on
``HARBOUR_WORKER_METRICS_HOST:PORT``, default 127.0.0.1:9464).

It listens on loopback unless told otherwise; in Compose it listens on the private network
that Prometheus shares and its port is not published (docs/observability.md).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response

from api.server import ApiServer
from services.metrics import CONTENT_TYPE_LATEST, HarbourMetrics


def metrics_app(metrics: HarbourMetrics) -> FastAPI:
    """An application serving ``metrics`` at ``/metrics`` (any other path is a 404)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/metrics")
    async def scrape() -> Response:
        """This process's metrics in Prometheus' text format."""
        return Response(await metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return app


def metrics_server(metrics: HarbourMetrics, host: str, port: int) -> ApiServer:
    """The worker's metrics endpoint on ``host:port`` (not started); raises ``OSError`` when
    the port is taken."""
    return ApiServer(metrics_app(metrics), host, port, access_log=False)
