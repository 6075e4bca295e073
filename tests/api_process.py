"""The HTTP API alone in a process of its own, for tests that measure that process from outside
(its memory): ``python -m tests.api_process <folder>``.

It migrates a SQLite read model in ``<folder>``, creates a coordinator key, serves the real
application with uvicorn (``api.server.ApiServer``) on a free port of 127.0.0.1, prints one
JSON line ``{"port": …, "key": …}`` and serves until its standard input closes. No Temporal
server is needed: the client connects lazily, and the requests these tests send are answered
before anything would ask Temporal.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from temporalio.client import Client

from api.app import create_app
from api.server import ApiServer
from api.settings import ApiSettings
from infra.database import make_engine, make_session_factory, migrate
from infra.temporal import data_converter
from models.settings import Settings
from services.api_keys import create_api_key
from tests.fixtures.temporal import TEST_KEYRING, TEST_PSEUDONYM_KEY


async def serve(folder: Path) -> None:
    """Serve until standard input reaches its end."""
    url = f"sqlite+aiosqlite:///{folder / 'harbour.db'}"
    await migrate(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    _, key = await create_api_key(sessions, "coordinator")
    client = await Client.connect(
        "127.0.0.1:1", lazy=True, data_converter=data_converter(TEST_KEYRING)
    )
    settings = Settings(_env_file=None, data_dir=folder, database_url=url)  # type: ignore[call-arg]
    app = create_app(
        settings,
        client,
        sessions,
        TEST_PSEUDONYM_KEY,
        api_settings=ApiSettings(_env_file=None),  # type: ignore[call-arg]
    )
    server = ApiServer(app, "127.0.0.1", 0, access_log=False)
    await server.start()
    print(json.dumps({"port": server.port, "key": key}), flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await server.stop()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1])))
