"""Run the HTTP API on its own: ``python -m api`` (the scale-out path; ``make run`` runs it
beside the worker). Reads ``HARBOUR_*`` and ``HARBOUR_API_*`` settings; stops on Ctrl-C or
SIGTERM, letting requests in flight finish."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys

from api.app import create_app
from api.server import ApiServer
from api.settings import ApiSettings
from bootstrap import Telemetry, configure_logging, load_settings, make_telemetry, open_runtime
from infra.logging import get_logger
from models.settings import Settings
from services.metrics import HarbourMetrics

log = get_logger("harbour.api")


async def main() -> int:
    """Serve until a signal; 0 on a clean stop."""
    settings = load_settings()
    api_settings = ApiSettings()
    configure_logging(settings)
    telemetry = make_telemetry(settings, "harbour-api")
    try:
        return await _serve(settings, api_settings, telemetry)
    finally:
        telemetry.close()


async def _serve(settings: Settings, api_settings: ApiSettings, telemetry: Telemetry) -> int:
    async with open_runtime(settings, telemetry=telemetry) as runtime:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        app = create_app(
            settings,
            await runtime.client(),
            runtime.session_factory,
            runtime.pseudonym_key,
            api_settings=api_settings,
            metrics=HarbourMetrics(
                runtime.session_factory,
                temporal=telemetry.temporal_metrics,
                max_age=settings.metrics_snapshot_seconds,
            ),
            tracer=telemetry.tracer,
        )
        server = ApiServer(app, api_settings.host, api_settings.port)
        try:
            await server.start()
            log.info("api listening", url=server.url)
            assert server.task is not None
            await asyncio.wait(
                {asyncio.create_task(stop.wait()), server.task},
                return_when=asyncio.FIRST_COMPLETED,
            )
            return 0 if stop.is_set() else 1
        finally:
            await server.stop()
            # The app holds the client: let both go while the loop runs (sdk-python issue 300).
            del app
            gc.collect()


if __name__ == "__main__":
    code = asyncio.run(main())
    logging.shutdown()
    sys.stdout.flush()
    # Skip interpreter finalisation (sdk-python issue 300), as worker.py's host does.
    os._exit(code)
