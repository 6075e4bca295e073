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
from infra.database import make_engine, make_session_factory
from infra.keys import load_keyring, load_pseudonym_key
from infra.logging import configure_logging, get_logger
from infra.temporal import connect
from models.settings import Settings

log = get_logger("harbour.api")


async def main() -> int:
    """Serve until a signal; 0 on a clean stop."""
    settings = Settings()
    api_settings = ApiSettings()
    configure_logging(settings)
    client = await connect(settings, load_keyring(settings))
    engine = make_engine(settings.database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    app = create_app(
        settings,
        client,
        make_session_factory(engine),
        load_pseudonym_key(settings),
        api_settings=api_settings,
    )
    server = ApiServer(app, api_settings.host, api_settings.port)
    try:
        await server.start()
        log.info("api listening", url=server.url)
        assert server.task is not None
        await asyncio.wait(
            {asyncio.create_task(stop.wait()), server.task}, return_when=asyncio.FIRST_COMPLETED
        )
        return 0 if stop.is_set() else 1
    finally:
        await server.stop()
        await engine.dispose()
        del client
        gc.collect()


if __name__ == "__main__":
    code = asyncio.run(main())
    logging.shutdown()
    sys.stdout.flush()
    # Skip interpreter finalisation (sdk-python issue 300), as worker.py's host does.
    os._exit(code)
