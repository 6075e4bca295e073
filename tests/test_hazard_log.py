"""The hazard log (docs/safety/hazard-log.md) names the tests that prove each control: every
one of them must exist, so the log cannot drift from the code, and every hazard names some."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "docs" / "safety" / "hazard-log.md"
NAMED = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_test_the_hazard_log_names_exists() -> None:
    text = LOG.read_text()
    named = NAMED.findall(text)
    assert len(named) > 40
    missing = [
        f"{file}::{test}"
        for file, test in named
        if not (ROOT / file).exists() or test not in _tests_in(ROOT / file)
    ]
    assert missing == []


def test_every_hazard_names_its_evidence_and_residual_risk() -> None:
    hazards = re.split(r"^### ", LOG.read_text(), flags=re.M)[1:]
    assert len(hazards) >= 7
    for hazard in hazards:
        title = hazard.splitlines()[0]
        assert "**Controls**" in hazard, title
        assert NAMED.search(hazard), title
        assert "**Residual risk**" in hazard, title
