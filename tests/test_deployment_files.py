"""docker-compose.yml and the Dockerfile describe the production topology. Docker cannot run
here, so their structure is checked; the same topology runs for real without Docker in
tests/topology (devtools/topology.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.test_settings_documented import variables_read_by_settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ["migrate", "web", "worker", "beat"]


def _command(service: str) -> str:
    command = SERVICES[service]["command"]
    return " ".join(command) if isinstance(command, list) else command


def test_the_topology_has_its_services():
    assert set(SERVICES) == {"postgres", "redis", "migrate", "web", "worker", "beat"}


@pytest.mark.parametrize("service", ["postgres", "redis", "web", "worker", "beat"])
def test_every_long_running_service_has_a_health_check(service):
    check = SERVICES[service]["healthcheck"]
    assert check["test"] and check["interval"] and check["retries"]


def test_each_service_runs_what_its_name_says():
    assert "daphne" in _command("web") and "mysmsapio.asgi:application" in _command("web")
    assert re.search(r"celery -A mysmsapio worker\b", _command("worker"))
    assert re.search(r"celery -A mysmsapio beat\b", _command("beat"))
    assert _command("migrate") == "python manage.py migrate --noinput"
    assert "3005" in _command("web") and any("3005" in port for port in SERVICES["web"]["ports"])


def test_app_services_wait_for_healthy_data_stores_and_for_migrations():
    for service in ["web", "worker", "beat"]:
        depends = SERVICES[service]["depends_on"]
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_app_services_take_their_settings_from_env_and_set_only_variables_the_settings_read():
    read = variables_read_by_settings()
    for service in APP_SERVICES:
        assert SERVICES[service]["env_file"] == ".env"
        assert set(SERVICES[service]["environment"]) <= read
    assert {"DATABASE_URL", "REDIS_URL"} <= set(SERVICES["web"]["environment"])


def test_data_lives_in_named_volumes():
    assert set(COMPOSE["volumes"]) == {"postgres-data", "redis-data"}
    assert "postgres-data:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    assert "redis-data:/data" in SERVICES["redis"]["volumes"]


def test_compose_substitutions_are_documented():
    text = (ROOT / "docker-compose.yml").read_text()
    substituted = set(re.findall(r"\$\{([A-Z_]+)", text))
    documented = set(re.findall(r"(?m)^([A-Z_]+)=", (ROOT / ".env.example").read_text()))
    assert substituted <= documented


def test_the_image_installs_the_runtime_requirements_and_serves_on_3005():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", dockerfile, re.M)
    assert "pip install --no-cache-dir -r requirements.txt" in dockerfile
    assert "EXPOSE 3005" in dockerfile and "USER " in dockerfile
    runtime = (ROOT / "requirements.txt").read_text()
    for package in ("Django==", "daphne==", "celery==", "psycopg", "channels-redis==", "prometheus-client=="):
        assert package in runtime
    assert "pytest" not in runtime and "playwright" not in runtime
