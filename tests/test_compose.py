"""docker-compose.yml (the scale-out path) is valid Compose and has the services it promises.

No Docker engine runs here: the file is checked against the Compose specification offline.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML  # check-jsonschema's own YAML parser

from services.metrics import METRIC_NAMES as HARBOUR_METRICS

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
    # The image installs what CI last passed with: the same pins as `make run` and `make test`.
    assert "COPY pyproject.toml constraints.txt" in dockerfile
    assert "pip install -c constraints.txt ." in dockerfile
    assert 'CMD ["python", "worker.py"]' in dockerfile


DEPLOY = ROOT / "deploy"


def test_compose_has_prometheus_and_grafana_watching_harbour() -> None:
    compose = YAML(typ="safe").load(COMPOSE.read_text())
    services = compose["services"]
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    # Every file they mount is in the repository.
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
    # The worker serves /metrics on the private network, unpublished; the API needs a token
    # that the operator supplies and Prometheus holds as a secret.
    worker = services["harbour-worker"]
    assert worker["environment"]["HARBOUR_WORKER_METRICS_PORT"] == "9464"
    assert worker["environment"]["HARBOUR_WORKER_METRICS_HOST"] == "0.0.0.0"
    assert "9464" in worker["expose"] and "ports" not in worker
    api = services["harbour-api"]["environment"]
    assert api["HARBOUR_API_METRICS_TOKEN"].startswith("${HARBOUR_METRICS_TOKEN:?")
    assert compose["secrets"]["harbour_metrics_token"] == {"environment": "HARBOUR_METRICS_TOKEN"}
    assert "harbour_metrics_token" in services["prometheus"]["secrets"]
    grafana = services["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_prometheus_scrapes_the_api_with_its_token_and_every_worker() -> None:
    config = YAML(typ="safe").load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api = jobs["harbour-api"]
    assert api["static_configs"][0]["targets"] == ["harbour-api:8000"]
    assert api["authorization"]["credentials_file"] == "/run/secrets/harbour_metrics_token"
    worker = jobs["harbour-worker"]
    [dns] = worker["dns_sd_configs"]
    assert dns["names"] == ["harbour-worker"] and dns["port"] == 9464
    # The Temporal server serves its own metrics where Prometheus looks for them.
    temporal = YAML(typ="safe").load(COMPOSE.read_text())["services"]["temporal"]
    endpoint = temporal["environment"]["PROMETHEUS_ENDPOINT"]
    assert jobs["temporal-server"]["static_configs"][0]["targets"] == [
        f"temporal:{endpoint.rpartition(':')[2]}"
    ]


def test_prometheus_alerts_on_served_metrics_and_its_jobs() -> None:
    config = YAML(typ="safe").load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    [group] = YAML(typ="safe").load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
    rules = {rule["alert"]: rule for rule in group["rules"]}
    assert "HarbourCrisisAlertUnacknowledged" in rules
    for rule in rules.values():
        expr = rule["expr"]
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert rule["annotations"]["summary"]
        for name in re.findall(r"\b(harbour_[a-z_]+)", expr):
            assert name.removesuffix("_bucket") in HARBOUR_METRICS, name
        for job in re.findall(r'job="([^"]+)"', expr):
            assert job in jobs, job


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    [source] = YAML(typ="safe").load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    [provider] = YAML(typ="safe").load((provisioning / "dashboards" / "harbour.yml").read_text())[
        "providers"
    ]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"

    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "harbour.json").read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    assert all(p["datasource"]["uid"] == source["uid"] for p in panels)
    # Every Harbour metric the dashboard draws is one /metrics serves, and each is drawn.
    used = {name for expr in exprs for name in re.findall(r"\b(harbour_[a-z_]+)", expr)}
    served = (
        HARBOUR_METRICS
        | {f"{name}_bucket" for name in HARBOUR_METRICS}
        | {f"{name}_count" for name in HARBOUR_METRICS}
    )
    assert used <= served, used - served
    assert {name for name in HARBOUR_METRICS if not name.startswith("harbour_readmodel")} <= {
        name.removesuffix("_bucket").removesuffix("_count") for name in used
    }
    assert any("temporal_" in expr for expr in exprs)


def test_every_dependency_named_in_pyproject_is_pinned() -> None:
    """constraints.txt (``make lock`` writes it) pins each dependency pyproject.toml names,
    the dev tools included, to one version: a fresh clone installs what CI last passed with."""
    import re
    import tomllib

    def name(requirement: str) -> str:
        found = re.match(r"[A-Za-z0-9._-]+", requirement)
        assert found, requirement
        return re.sub(r"[-_.]+", "-", found.group(0)).lower()

    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            pinned, _, version = line.partition("==")
            assert version, line
            pins[name(pinned)] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    named = {name(r) for r in [*project["dependencies"], *project["optional-dependencies"]["dev"]]}
    assert not sorted(named - set(pins)), "run make lock"
