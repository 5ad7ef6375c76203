"""What ops rely on: /ready, /metrics, request ids, JSON logs without secrets, deploy checks."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import OperationalError, connection

from core import metrics
from core.health import HEARTBEAT_KEY
from core.logs import JsonFormatter, RedactSecretsFilter, RequestIdFilter, redact, request_id_var
from core.tasks import worker_heartbeat
from gateways.dispatch import dispatch_take_jobs
from messaging.lifecycle import message_create
from messaging.models import Message, MessageStatus
from tests.conftest import GUIDE_NUMBER

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_heartbeat():
    caches["heartbeat"].delete(HEARTBEAT_KEY)
    yield
    caches["heartbeat"].delete(HEARTBEAT_KEY)


# --- /ready -----------------------------------------------------------------------------------


def test_ready_is_503_until_a_worker_has_run_the_heartbeat(client):
    response = client.get("/ready")

    assert response.status_code == 503 and response["Retry-After"] == "5"
    body = response.json()
    assert (body["error"], body["code"]) == ("Not ready: worker", "not_ready")
    assert body["checks"]["worker"].startswith("no worker seen yet")
    assert body["checks"]["database"] == body["checks"]["channel_layer"] == "ok"
    assert body["checks"]["redis"] == ("ok" if settings.REDIS_URL else "not used (embedded mode)")


def test_ready_is_200_with_a_recent_heartbeat_and_503_once_it_is_stale(client, settings):
    worker_heartbeat()
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ready" and response.json()["checks"]["worker"].startswith("seen ")

    caches["heartbeat"].set(HEARTBEAT_KEY, time.time() - settings.READY_WORKER_MAX_AGE_SECONDS - 5, timeout=None)
    stale = client.get("/ready")
    assert stale.status_code == 503 and stale.json()["checks"]["worker"].startswith("last seen ")


def test_check_worker_in_another_process_sees_the_heartbeat_this_one_recorded():
    """The command runs beside the server (a container's health check, an operator's shell):
    in both modes it sees what the process running the periodic tasks recorded."""

    def check_worker_command() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "check_worker"],
            cwd=settings.BASE_DIR,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
            capture_output=True,
            text=True,
            timeout=60,
        )

    before = check_worker_command()
    assert before.returncode == 1 and before.stdout.startswith("worker: no worker seen yet")
    if not settings.REDIS_URL:
        assert "embedded mode" in before.stdout
    worker_heartbeat()
    after = check_worker_command()
    assert after.returncode == 0, after.stderr
    assert re.fullmatch(r"worker: seen \d+s ago", after.stdout.strip())


def test_ready_names_the_database_when_it_does_not_answer(client, monkeypatch):
    worker_heartbeat()

    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["error"] == "Not ready: database"
    assert response.json()["checks"]["database"] == "unavailable (OperationalError)"


def test_the_beat_schedule_queues_the_heartbeat():
    entry = settings.CELERY_BEAT_SCHEDULE["worker-heartbeat"]
    assert entry["task"] == "core.tasks.worker_heartbeat"
    assert entry["schedule"] < settings.READY_WORKER_MAX_AGE_SECONDS


# --- /metrics ---------------------------------------------------------------------------------


def _sample(text: str, name: str, **labels) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + wanted + '}') if wanted else ''} (\S+)$"
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else None


def test_metrics_report_the_database_figures_and_the_api_latency(client, api_client, online_gateway, account):
    api_client.post("/api/v1/sms/send", {"to": GUIDE_NUMBER, "message": "hi"}, format="json")
    waiting = message_create(account=account, to=GUIDE_NUMBER, text="pending one")
    Message.objects.filter(pk=waiting.pk).update(status=MessageStatus.PENDING, gateway=None)
    before = metrics.DISPATCH_LATENCY.collect()[0].samples

    dispatch_take_jobs(gateway_id=online_gateway.pk, token_hash=online_gateway.token_hash)
    response = client.get("/metrics")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert _sample(text, "mysmsapio_messages", status="queued") == 1
    assert _sample(text, "mysmsapio_queue_depth", status="pending") == 1
    assert _sample(text, "mysmsapio_phones_online") == 1
    sends = _sample(text, "mysmsapio_api_request_duration_seconds_count", method="POST", route="sms-send", status="202")
    assert sends is not None and sends >= 1
    after = metrics.DISPATCH_LATENCY.collect()[0].samples
    count = {s.name: s.value for s in after}["mysmsapio_dispatch_latency_seconds_count"]
    assert count == {s.name: s.value for s in before}["mysmsapio_dispatch_latency_seconds_count"] + 1


def test_metrics_count_otp_sends_and_verifications(client, api_client, online_gateway):
    def value(name, **labels):
        return _sample(client.get("/metrics").content.decode(), name, **labels) or 0.0

    sent, rejected = value("mysmsapio_otp_sends_total"), value("mysmsapio_otp_verifications_total", result="rejected")
    api_client.post("/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}, format="json")
    api_client.post("/api/v1/otp/verify", {"phone_number": GUIDE_NUMBER, "code": "000000x"}, format="json")

    assert value("mysmsapio_otp_sends_total") == sent + 1
    assert value("mysmsapio_otp_verifications_total", result="rejected") == rejected + 1


def test_metrics_refuse_other_addresses_without_the_token(client, settings):
    settings.METRICS_TOKEN = "metrics-token-for-tests-0123456789"
    outside = {"REMOTE_ADDR": "203.0.113.9"}

    refused = client.get("/metrics", **outside)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **outside).status_code == 403
    allowed = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_TOKEN}", **outside)
    assert allowed.status_code == 200


# --- Request ids and logs -----------------------------------------------------------------------


def test_every_response_carries_a_request_id_and_a_sane_client_id_is_kept(client, api_client):
    generated = client.get("/up")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert client.get("/admin/login/")["X-Request-ID"] != generated
    assert client.get("/up", HTTP_X_REQUEST_ID="client-trace-1234")["X-Request-ID"] == "client-trace-1234"
    assert client.get("/up", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"] != "bad id\nwith newline"


def test_the_access_log_line_is_json_with_the_request_id_of_the_response(client, settings):
    settings.ACCESS_LOG = True
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # configured as settings.LOGGING configures the console
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactSecretsFilter())
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("mysmsapio.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        response = client.get("/up", HTTP_X_REQUEST_ID="trace-abcdef-42")
        client.get("/api/v1/sms/status/msg_x", HTTP_AUTHORIZATION="Bearer api_live_" + "Q" * 40)
    finally:
        access.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == response["X-Request-ID"] == "trace-abcdef-42"
    assert first["http"] == {
        "method": "GET",
        "path": "/up",
        "status": 200,
        "latency_ms": first["http"]["latency_ms"],
        "client_ip": "127.0.0.1",
    }
    assert (first["level"], first["logger"]) == ("INFO", "mysmsapio.access")
    assert second["http"]["status"] == 401 and "api_live_Q" not in stream.getvalue()


def test_json_lines_carry_the_request_id_and_never_a_secret():
    token = request_id_var.set("req-1234567890")
    try:
        secrets = ("api_live_" + "A" * 40, "Bearer api_live_zzz", "gw_live_" + "B" * 40)
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "key %s header %s token %s", secrets, None)
        RequestIdFilter().filter(record)
        RedactSecretsFilter().filter(record)
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["request_id"] == "req-1234567890"
    assert line["message"] == "key api_live_[redacted] header Bearer [redacted] token gw_live_[redacted]"
    assert redact("nothing secret here") == "nothing secret here"
    # Every other secret we issue, by its prefix: test keys, app-device tokens, webhook secrets.
    others = "api_test_" + "C" * 40, "gwd_live_" + "D" * 40, "whsec_" + "E+/=" * 8
    assert redact(" ".join(others)) == "api_test_[redacted] gwd_live_[redacted] whsec_[redacted]"


def test_hsts_is_sent_on_api_answers_over_https(client, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    assert client.get("/up", secure=True)["Strict-Transport-Security"] == "max-age=3600; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get("/up")


# --- Production settings ------------------------------------------------------------------------


def _production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "HASH_SECRET", "DJANGO_SETTINGS_MODULE")}
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "mysmsapio.settings",
        "DATABASE_URL": "postgres://u@127.0.0.1:1/db",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        **extra,
    }


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


def test_check_deploy_passes_with_https_production_settings():
    env = _production_env(
        SECRET_KEY="k" * 10 + "S3cr3t-Key-For-Deploy-Check-0123456789abcdefghij",
        HASH_SECRET="h" * 60,
        HTTPS="true",
        SECURE_HSTS_PRELOAD="true",
    )
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "HASH_SECRET"])
def test_production_refuses_to_start_without_its_secrets(missing):
    env = _production_env(SECRET_KEY="s" * 60, HASH_SECRET="h" * 60)
    del env[missing]
    result = _manage("check", env=env)
    assert result.returncode != 0 and missing in result.stderr


def test_made_up_http_methods_share_one_metrics_label(client, api_client):
    """A client chooses the method: a thousand made-up ones, or one of 10 KB, must not grow the
    metrics by a series each."""
    for i in range(200):
        api_client.generic(f"MADEUP{i}", "/api/v1/sms/send")
    response = api_client.generic("X" * 10_000, "/api/v1/sms/send")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
    text = client.get("/metrics").content.decode()
    methods = set(re.findall(r'^mysmsapio_api_request_duration_seconds_count\{method="([^"]*)"', text, re.M))
    assert "other" in methods
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}


def test_the_embedded_database_files_are_for_their_user_alone(settings):
    """They hold phone numbers and message texts: not for every user of the machine."""
    import stat
    from pathlib import Path

    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("embedded mode's database")
    connection.close()
    connection.ensure_connection()  # a new connection: connection_created
    name = Path(connection.settings_dict["NAME"])
    files = [path for path in (name, Path(f"{name}-wal"), Path(f"{name}-shm")) if path.exists()]
    assert files and all(stat.S_IMODE(path.stat().st_mode) & 0o077 == 0 for path in files)


def test_sqlite_gives_its_wal_files_the_database_files_mode(tmp_path):
    """What the once-per-process chmod (mysmsapio/apps.py) relies on: a WAL and shared-memory
    file created later, under a umask that would make them readable by all, get the mode of
    the database file."""
    import sqlite3
    import stat

    database = tmp_path / "db.sqlite3"
    sqlite3.connect(database).close()
    database.chmod(0o600)
    old_umask = os.umask(0o022)
    try:
        connection = sqlite3.connect(database)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE t (x)")
        connection.commit()
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in tmp_path.iterdir()}
        connection.close()
    finally:
        os.umask(old_umask)
    assert modes == {"db.sqlite3": 0o600, "db.sqlite3-wal": 0o600, "db.sqlite3-shm": 0o600}
