"""docker-compose.yml (the scale-out path) is valid Compose and has the services it promises.

No Docker engine runs here: the file is checked against the Compose specification offline.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML  # check-jsonschema's own YAML parser

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"


def _check_jsonschema() -> str:
    # Next to the interpreter: the venv's bin/ need not be on PATH.
    return str(Path(sys.executable).parent / "check-jsonschema")


def test_compose_file_validates_against_compose_spec() -> None:
    result = subprocess.run(
        [_check_jsonschema(), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_has_the_scale_out_services() -> None:
    services = YAML(typ="safe").load(COMPOSE.read_text())["services"]
    # Temporal on PostgreSQL, its UI, Harbour's own PostgreSQL, Mailpit and the worker.
    assert {
        "temporal-db",
        "temporal",
        "temporal-ui",
        "harbour-db",
        "mailpit",
        "harbour-worker",
    } <= set(services)
    assert services["temporal"]["image"].startswith("temporalio/")
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["temporal-ui"]["image"].startswith("temporalio/ui")
    assert services["mailpit"]["image"].startswith("axllent/mailpit")

    worker = services["harbour-worker"]
    assert worker["build"] == "."
    env = worker["environment"]
    assert env["HARBOUR_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["HARBOUR_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@harbour-db:5432/" in env["HARBOUR_DATABASE_URL"]
    assert env["HARBOUR_SMTP_HOST"] == "mailpit"
    assert env["HARBOUR_LOG_FORMAT"] == "json"
    # Keys are supplied by the operator, never written into the file.
    assert env["HARBOUR_ENCRYPTION_KEYS"].startswith("${HARBOUR_ENCRYPTION_KEYS")
    assert env["HARBOUR_PSEUDONYM_KEY"].startswith("${HARBOUR_PSEUDONYM_KEY")


def test_dockerfile_builds_the_worker() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "pip install ." in dockerfile
    assert 'CMD ["python", "worker.py"]' in dockerfile
