"""Fixtures of the fault scenarios, and the figures they print at the end of the run."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from tests.faults.checks import FaultFigures
from tests.faults.postgres_server import PostgresServer, PostgresUnavailable
from tests.faults.stack import postgres_schema

_FIGURES = pytest.StashKey[list[FaultFigures]]()


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[FaultFigures], None]:
    """Keep a scenario's figures for the summary at the end of the run."""

    def keep(figures: FaultFigures) -> None:
        request.config.stash.setdefault(_FIGURES, []).append(figures)

    return keep


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print every scenario's figures (referrals, letters, faults, duplicates, recovery)."""
    figures = terminalreporter.config.stash.get(_FIGURES, [])
    if figures:
        terminalreporter.section("fault injection figures")
        for line in figures:
            terminalreporter.write_line(line.line())


@pytest.fixture
def started() -> float:
    """When the scenario began (monotonic seconds), for its wall time."""
    return time.monotonic()


@pytest.fixture
async def shared_postgres(pg_url: str) -> AsyncIterator[str]:
    """A fresh schema on the shared test PostgreSQL (``HARBOUR_TEST_POSTGRES_URL``; skipped
    when it is unreachable, failed on CI: ``tests.fixtures.database.pg_url``)."""
    async with postgres_schema(pg_url) as schema_url:
        yield schema_url


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own, to restart (see ``postgres_server``)."""
    try:
        server = PostgresServer()
    except PostgresUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(str(error))
        pytest.skip(str(error))
    server.start()
    try:
        yield server
    finally:
        server.stop()
