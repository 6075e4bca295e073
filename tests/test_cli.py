"""The command line (``starter.py``, ``cli/``) against real servers: the time-skipping Temporal
server with a worker, a fresh SQLite read model, the dev server for the worker check.

Commands run in a thread (each makes its own event loop, as from a shell) with ``HARBOUR_*``
settings pointing at the test's servers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

import starter
from cli import app
from infra.database import make_engine, make_session_factory
from infra.keys import encode_key
from models.tables import PractitionerRow
from tests.factories import submission
from tests.fixtures.temporal import TEST_KEYRING, TEST_PSEUDONYM_KEY, Harness, dev_server

SAMPLE = Path(__file__).parent.parent / "samples" / "referral.json"


@dataclass
class Answer:
    """What a command printed, and its exit status."""

    status: int
    out: str
    err: str


class Cli:
    """``starter.py`` with settings from the environment this test set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
        self.monkeypatch = monkeypatch
        self.capsys = capsys

    def point_at(
        self, *, data_dir: Path, database_url: str, temporal: str, task_queue: str
    ) -> None:
        key_id = TEST_KEYRING.active_key_id
        for name, value in {
            "HARBOUR_CONFIG_FILE": str(data_dir / "absent.env"),
            "HARBOUR_DATA_DIR": str(data_dir),
            "HARBOUR_DATABASE_URL": database_url,
            "HARBOUR_TEMPORAL_ADDRESS": temporal,
            "HARBOUR_TASK_QUEUE": task_queue,
            "HARBOUR_ENCRYPTION_KEYS": f"{key_id}:{encode_key(TEST_KEYRING.keys[key_id])}",
            "HARBOUR_PSEUDONYM_KEY": base64.b64encode(TEST_PSEUDONYM_KEY).decode(),
            # By hand, as the harness does: a practitioner added does not start the allocator.
            "HARBOUR_POLICY__AUTO_ALLOCATE": "false",
        }.items():
            self.monkeypatch.setenv(name, value)

    def run(self, *argv: str) -> Answer:
        self.capsys.readouterr()
        status = starter.main(list(argv))
        captured = self.capsys.readouterr()
        return Answer(status, captured.out, captured.err)

    async def __call__(self, *argv: str) -> Answer:
        """Run a command beside the test's event loop (its worker keeps running)."""
        self.capsys.readouterr()
        status = await asyncio.to_thread(starter.main, list(argv))
        captured = self.capsys.readouterr()
        return Answer(status, captured.out, captured.err)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    # A command configures logging for its process (warnings only, to stderr); in this one,
    # put the level back for the tests that follow.
    root = logging.getLogger()
    level = root.level
    yield Cli(monkeypatch, capsys)
    root.setLevel(level)


def _target(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


def _closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def on_harness(cli: Cli, harness: Harness, tmp_path: Path) -> Harness:
    cli.point_at(
        data_dir=tmp_path,
        database_url=harness.settings.database_url,
        temporal=_target(harness.env),
        task_queue=harness.task_queue,
    )
    return harness


async def _practitioners(url: str) -> int:
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as session:
            return (await session.scalar(select(func.count()).select_from(PractitionerRow))) or 0
    finally:
        await engine.dispose()


# ------------------------------------------------------------------------------------ help


def _commands() -> Iterator[list[str]]:
    """Every command's path, groups included (``["practitioner", "add"]``…)."""
    import typer

    def walk(command: object, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


def test_every_command_and_argument_has_help(cli: Cli) -> None:
    import typer

    seen = []
    for path in _commands():
        answer = cli.run(*path, "--help")
        assert answer.status == 0, (path, answer.err)
        assert answer.out.startswith("Usage: starter.py"), path
        seen.append(" ".join(path))
    # Every command the argparse CLI had is still there, with the same names.
    for name in (
        "refer",
        "triage",
        "answer",
        "practitioner add",
        "practitioner list",
        "allocate",
        "book",
        "session",
        "reqol",
        "extend",
        "discharge",
        "close",
        "confirm_withdrawal",
        "keep",
        "hold",
        "release",
        "remove",
        "message",
        "text",
        "texts",
        "acknowledge",
        "state",
        "inbox",
        "apikey create",
        "apikey list",
        "apikey revoke",
        "simulate",
    ):
        assert name in seen, name

    def leaves(command: object, path: str) -> Iterator[tuple[str, object]]:
        subs = getattr(command, "commands", None)
        if subs is None:
            yield path, command
        else:
            for name, sub in subs.items():
                yield from leaves(sub, f"{path} {name}".strip())

    for path, command in leaves(typer.main.get_command(app), ""):
        for param in command.params:  # type: ignore[attr-defined]
            assert getattr(param, "help", None), f"{path}: {param.name} has no help"


def test_no_arguments_shows_the_commands(cli: Cli) -> None:
    answer = cli.run()
    assert "triage" in answer.out + answer.err
    assert "Traceback" not in answer.err


# ----------------------------------------------------------------- the API's check, here too


async def test_a_bad_practitioner_is_refused_naming_the_fields_and_nothing_is_stored(
    cli: Cli, tmp_path: Path, sqlite_url: str
) -> None:
    url = sqlite_url  # migrated (a copy of the session's template), at tmp_path / harbour.db
    # Temporal is not even asked: a refusal comes first.
    cli.point_at(
        data_dir=tmp_path,
        database_url=url,
        temporal=f"127.0.0.1:{_closed_port()}",
        task_queue="unused",
    )
    bad = await cli("practitioner", "add", "p-x", "--name", "", "--email", "bad", "--capacity", "1")
    assert bad.status == 2
    assert "invalid name:" in bad.err and "invalid email:" in bad.err
    assert "Traceback" not in bad.err

    negative = await cli(
        "practitioner", "add", "p-x", "--name", "X", "--email", "x@harbour.example",
        "--capacity", "-1",
    )  # fmt: skip
    assert negative.status == 2
    assert "invalid capacity:" in negative.err and "Traceback" not in negative.err

    spaced = await cli(
        "practitioner", "add", "has space", "--name", "X", "--email", "x@harbour.example",
        "--capacity", "1",
    )  # fmt: skip
    assert spaced.status == 2 and "invalid id:" in spaced.err

    assert await _practitioners(url) == 0


# --------------------------------------------------------------------- what is not running


async def test_with_temporal_unreachable_a_command_says_so(cli: Cli, tmp_path: Path) -> None:
    port = _closed_port()
    cli.point_at(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'harbour.db'}",
        temporal=f"127.0.0.1:{port}",
        task_queue="unused",
    )
    for argv in (
        ("state", "R0000000000"),
        ("triage", "R0000000000", "accept"),
        ("refer", str(SAMPLE)),
    ):
        answer = await cli(*argv)
        assert answer.status == 1, argv
        assert answer.err.strip() == (
            f"Temporal is not reachable at 127.0.0.1:{port} — is `make run` running?"
        )


async def test_with_no_worker_polling_an_action_says_so_and_changes_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    """The dev server tells who polls a task queue: nobody, so the action is not sent."""
    async with dev_server() as env:
        cli.point_at(
            data_dir=tmp_path,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'harbour.db'}",
            temporal=_target(env),
            task_queue=f"cli-{uuid.uuid4()}",
        )
        # A referral is durable without a worker: it is taken, with a note that none runs.
        referred = await cli("refer", str(SAMPLE))
        assert referred.status == 0, referred.err
        assert "note: no Harbour worker is running" in referred.err
        ref = referred.out.strip()
        for argv in (("triage", ref, "accept"), ("state", ref)):
            answer = await cli(*argv)
            assert answer.status == 1, argv
            assert "no Harbour worker is running" in answer.err
            assert "`make run`" in answer.err
        # No update was sent: the workflow's history has none.
        history = await env.client.get_workflow_handle(f"referral-{ref}").fetch_history()
        assert not any(e.HasField("workflow_execution_update_accepted_event_attributes")
                       for e in history.events)  # fmt: skip
        await env.client.get_workflow_handle(f"referral-{ref}").terminate()


async def test_when_no_worker_answers_in_time_an_action_says_so(
    cli: Cli, on_harness: Harness
) -> None:
    """The test server cannot tell who polls; the bounded wait answers instead of hanging."""
    cli.monkeypatch.setenv("HARBOUR_WORKER_WAIT_SECONDS", "1")
    ref = await on_harness.refer(submission())  # no worker runs in this test
    answer = await cli("triage", ref, "accept")
    assert answer.status == 1
    assert "no Harbour worker answered within 1 s" in answer.err


# ------------------------------------------------------------------------ the whole way


async def test_a_referral_through_the_cli(cli: Cli, on_harness: Harness) -> None:
    async with on_harness.worker():
        added = await cli(
            "practitioner", "add", "p-ana", "--name", "Ana Lowry",
            "--email", "ana.lowry@harbour.example", "--capacity", "8",
        )  # fmt: skip
        assert added.status == 0, added.err
        assert [p["id"] for p in json.loads(added.out)] == ["p-ana"]

        referred = await cli("refer", str(SAMPLE))
        assert referred.status == 0, referred.err
        ref = referred.out.strip()
        assert ref.startswith("R")
        on_harness.handles.append(on_harness.client.get_workflow_handle(f"referral-{ref}"))

        accepted = await cli("triage", ref, "accept")
        assert accepted.status == 0, accepted.err
        assert json.loads(accepted.out)["stage"] == "waiting"

        allocated = await cli("allocate", ref, "p-ana")
        assert allocated.status == 0, allocated.err
        assert json.loads(allocated.out)["practitioner_id"] == "p-ana"

        again = await cli("triage", ref, "accept")
        assert again.status == 2 and again.err.startswith("rejected: ")

        missing = await cli("state", "R0000000000")
        assert missing.status == 2 and missing.err.strip() == "no referral R0000000000"

        state = await cli("state", ref)
        assert json.loads(state.out)["stage"] == "allocated"


def test_an_unexpected_failure_is_one_line_and_the_details_go_to_the_log(
    cli: Cli, tmp_path: Path
) -> None:
    cli.point_at(
        data_dir=tmp_path,
        database_url="nosuchdatabase://",
        temporal=f"127.0.0.1:{_closed_port()}",
        task_queue="unused",
    )
    answer = cli.run("inbox")
    assert answer.status == 1
    assert answer.err.startswith("error: the command failed unexpectedly (")
    assert "Traceback" not in answer.err and len(answer.err.strip().splitlines()) == 1
    log = (tmp_path / "cli-errors.log").read_text()
    assert "Traceback" in log and "inbox" in log
