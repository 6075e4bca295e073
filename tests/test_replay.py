"""Replay committed histories with today's workflow code: the guard for workflows that live
for years while the code changes. Refresh with ``HARBOUR_RECORD_HISTORIES=1 make test``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from infra.temporal import data_converter
from tests.fixtures.temporal import HISTORIES, TEST_KEYRING
from worker import WORKFLOWS, workflow_runner

FILES = sorted(HISTORIES.glob("*.json"))


def test_histories_are_committed() -> None:
    # Without histories the replay test below would pass vacuously.
    assert len(FILES) >= 10
    assert any("lifecycle" in f.name or "two_episodes" in f.name for f in FILES)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(TEST_KEYRING),
        workflow_runner=workflow_runner(),
    )
    await replayer.replay_workflow(history)
