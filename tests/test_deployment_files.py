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
APP_SERVICES = ["migrate", "web", "phones", "worker", "webhook-worker", "beat"]


def _command(service: str) -> str:
    command = SERVICES[service]["command"]
    return " ".join(command) if isinstance(command, list) else command


def test_the_topology_has_its_services():
    assert set(SERVICES) == {
        "proxy",
        "postgres",
        "redis",
        "migrate",
        "web",
        "phones",
        "worker",
        "webhook-worker",
        "beat",
    }


@pytest.mark.parametrize("service", ["postgres", "redis", "web", "phones", "worker", "webhook-worker", "beat"])
def test_every_long_running_service_has_a_health_check(service):
    check = SERVICES[service]["healthcheck"]
    assert check["test"] and check["interval"] and check["retries"]


def test_each_service_runs_what_its_name_says():
    assert "granian --interface wsgi" in _command("web") and "mysmsapio.wsgi:application" in _command("web")
    assert "daphne" in _command("phones") and "mysmsapio.asgi:application" in _command("phones")
    assert re.search(r"celery -A mysmsapio worker\b.* -Q celery$", _command("worker"))
    # Webhook deliveries have their queue and worker: a slow receiver never holds up dispatch.
    assert re.search(r"celery -A mysmsapio worker\b.* -Q webhooks$", _command("webhook-worker"))
    assert re.search(r"celery -A mysmsapio beat\b", _command("beat"))
    assert _command("migrate") == "python manage.py migrate --noinput"
    assert (
        SERVICES["proxy"]["ports"] == ["3005:3005", "80:80", "443:443"]
        and "./Caddyfile:/etc/caddy/Caddyfile:ro" in SERVICES["proxy"]["volumes"]
    )


def test_the_proxy_routes_phones_to_asgi_and_the_rest_to_wsgi():
    caddyfile = (ROOT / "Caddyfile").read_text()
    app_streams = caddyfile.split("handle /api/mobile/v1/events* {", 1)[1].split("handle ", 1)[0]
    assert "dynamic a phones 8001" in app_streams and "flush_interval -1" in app_streams
    phones, rest = caddyfile.split("handle /ws/*", 1)[1].split("handle {", 1)
    assert "dynamic a phones 8001" in phones and "dynamic a web 8000" in rest
    assert "8001" in _command("phones") and "8000" in _command("web")


def test_the_proxy_terminates_tls_for_the_site_address_it_is_given():
    assert re.search(r"(?m)^\{\$SITE_ADDRESS::3005\} \{$", (ROOT / "Caddyfile").read_text())
    assert SERVICES["proxy"]["environment"]["SITE_ADDRESS"] == "${SITE_ADDRESS:-:3005}"
    assert "caddy-data:/data" in SERVICES["proxy"]["volumes"]


def test_app_services_wait_for_healthy_data_stores_and_for_migrations():
    for service in ["web", "phones", "worker", "webhook-worker", "beat"]:
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
    assert set(COMPOSE["volumes"]) == {"postgres-data", "redis-data", "caddy-data"}
    assert "postgres-data:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    assert "redis-data:/data" in SERVICES["redis"]["volumes"]


def test_compose_substitutions_are_documented():
    text = (ROOT / "docker-compose.yml").read_text()
    substituted = set(re.findall(r"\$\{([A-Z_]+)", text))
    documented = set(re.findall(r"(?m)^([A-Z_]+)=", (ROOT / ".env.example").read_text()))
    assert substituted <= documented


def test_the_image_installs_the_runtime_requirements_and_serves_http_and_phones():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", dockerfile, re.M)
    assert "pip install --no-cache-dir -r requirements.txt" in dockerfile
    assert "EXPOSE 8000 8001" in dockerfile and "USER " in dockerfile
    runtime = (ROOT / "requirements.txt").read_text()
    packages = ("Django==", "daphne==", "granian==", "celery==", "psycopg", "channels-redis==", "prometheus-client==")
    for package in packages:
        assert package in runtime
    assert "pytest" not in runtime and "playwright" not in runtime


def test_compose_has_no_default_database_password():
    """A known password (it fell back to "mysmsapio") is no password: compose refuses to start
    without one from .env."""
    text = (ROOT / "docker-compose.yml").read_text()
    uses = re.findall(r"\$\{POSTGRES_PASSWORD([^}]*)\}", text)
    assert uses and all(use.startswith(":?") for use in uses)
