"""Every answer under /api/ is JSON, whatever goes wrong; /up tells whether the app can serve."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection
from django.db.utils import OperationalError
from twisted.web.http import RESPONSES

from messaging.models import Message
from mysmsapio.daphne_limits import teach_twisted_reason_phrases
from tests.conftest import GUIDE_NUMBER

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    ["/api/", "/api/v1/", "/api/v1/nope", "/api/v2/sms/send", "/api/v1/sms/status/", "/api/v1/sms/send/extra"],
)
def test_unknown_api_paths_are_json_404(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "Not found", "code": "not_found"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/sms/send"),
        ("put", "/api/v1/sms/send"),
        ("delete", "/api/v1/otp/send"),
        ("get", "/api/v1/otp/verify"),
        ("post", "/api/v1/sms/status/msg_00000000000000000000000000000000"),
    ],
)
def test_wrong_methods_are_json_405(api_client, method, path):
    response = getattr(api_client, method)(path)
    assert response.status_code == 405
    assert response.json() == {"error": f'Method "{method.upper()}" not allowed.', "code": "method_not_allowed"}
    assert "Allow" in response


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/v1/sms/send", "POST, OPTIONS"),
        ("/api/v1/sms/status/msg_1", "GET, HEAD, OPTIONS"),
        ("/api/v1/sms/inbox", "GET, HEAD, OPTIONS"),
        ("/api/v1/otp/send", "POST, OPTIONS"),
        ("/api/v1/otp/verify", "POST, OPTIONS"),
    ],
)
def test_options_is_204_with_allow_and_needs_no_key(client, db, path, allow):
    response = client.options(path, HTTP_ORIGIN="https://app.example.test")
    assert response.status_code == 204
    assert response["Allow"] == allow
    assert response.content == b""
    # CORS is off unless a setting allows an origin: no browser may call the API by default.
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


def test_cors_headers_only_for_the_origins_the_setting_allows(client, api_client, settings):
    settings.API_CORS_ALLOWED_ORIGINS = ["https://app.example.test"]
    preflight = client.options(
        "/api/v1/sms/send", HTTP_ORIGIN="https://app.example.test", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "https://app.example.test"
    assert preflight["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert "Authorization" in preflight["Access-Control-Allow-Headers"]
    assert "Idempotency-Key" in preflight["Access-Control-Allow-Headers"]

    other = client.options("/api/v1/sms/send", HTTP_ORIGIN="https://evil.example.test")
    assert "Access-Control-Allow-Origin" not in other

    answer = api_client.post(
        "/api/v1/sms/send",
        {"to": "+959123456789", "message": "hi"},
        format="json",
        HTTP_ORIGIN="https://app.example.test",
    )
    assert answer.status_code == 202
    assert answer["Access-Control-Allow-Origin"] == "https://app.example.test"
    assert "X-RateLimit-Remaining" in answer["Access-Control-Expose-Headers"]


@pytest.mark.parametrize("path", ["/up", "/ready", "/metrics", "/gateway/agent.py"])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_the_apps_own_endpoints_answer_a_wrong_method_in_json(client, db, path, method):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": f'Method "{method.upper()}" not allowed.', "code": "method_not_allowed"}
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/api/v1/sms/send", "/api/v1/otp/send", "/api/v1/otp/verify"])
def test_malformed_json_is_400(api_client, path):
    response = api_client.post(path, data='{"to": "+959123456789",', content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "Malformed JSON request body", "code": "malformed_json"}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_body_that_is_not_json_is_415(api_client, content_type):
    response = api_client.generic("POST", "/api/v1/sms/send", "to=%2B959123456789&message=hi", content_type)
    assert response.status_code == 415
    assert response.json() == {
        "error": "Unsupported content type: send a JSON body with Content-Type: application/json",
        "code": "unsupported_media_type",
    }


def test_an_oversized_body_is_413(api_client):
    response = api_client.post("/api/v1/sms/send", {"to": GUIDE_NUMBER, "message": "x" * 20_000}, format="json")
    assert response.status_code == 413
    assert response.json() == {"error": "Request body too large (maximum 16384 bytes)", "code": "payload_too_large"}


def test_a_server_error_is_a_json_500_without_a_traceback(api_client, monkeypatch, caplog):
    def explode(**kwargs):
        raise RuntimeError("boom: internal detail")

    monkeypatch.setattr("messaging.services.message_create", explode)
    api_client.raise_request_exception = False
    with caplog.at_level(logging.ERROR):
        response = api_client.post("/api/v1/sms/send", {"to": GUIDE_NUMBER, "message": "hi"}, format="json")
    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error", "code": "internal_error"}
    assert "boom" not in response.content.decode()
    assert "boom: internal detail" in caplog.text  # the operator still gets the traceback


def test_up_is_200_with_or_without_a_key(client, api_key):
    for headers in [{}, {"HTTP_AUTHORIZATION": f"Bearer {api_key.raw_key}"}, {"HTTP_AUTHORIZATION": "Bearer junk"}]:
        response = client.get("/up", **headers)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_up_is_503_json_when_the_database_does_not_answer(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/up")
    assert response.status_code == 503
    assert response.json() == {"error": "Database unavailable", "code": "database_unavailable"}


def test_a_database_outage_or_pool_timeout_is_a_json_503(api_client, monkeypatch):
    def unavailable(**kwargs):
        raise OperationalError("couldn't get a connection after 10.00 sec")

    monkeypatch.setattr("messaging.services.message_create", unavailable)
    response = api_client.post("/api/v1/sms/send", {"to": GUIDE_NUMBER, "message": "hi"}, format="json")
    assert response.status_code == 503
    assert response.json() == {"error": "Service temporarily unavailable", "code": "database_unavailable"}
    assert response["Retry-After"] == "1"


def test_daphne_names_every_status_the_api_answers():
    teach_twisted_reason_phrases()  # what mysmsapio/asgi.py does at start
    assert RESPONSES[422] == b"Unprocessable Content"
    assert RESPONSES[429] == b"Too Many Requests"
    assert RESPONSES[404] == b"Not Found"  # Twisted's own phrases are kept


def test_a_host_not_allowed_is_a_json_400_on_the_api(api_client, settings):
    settings.ALLOWED_HOSTS = ["sms.example.test", "testserver"]
    response = api_client.post(
        "/api/v1/sms/send", {"to": GUIDE_NUMBER, "message": "hi"}, format="json", HTTP_HOST="evil.example.test"
    )
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid Host header", "code": "invalid_host"}
    assert not Message.objects.exists()
    allowed = api_client.get("/api/v1/sms/status/msg_1", HTTP_HOST="sms.example.test:3005")
    assert allowed.status_code == 404


@pytest.mark.parametrize(
    ("extra", "starts"),
    [({"ALLOWED_HOSTS": "*"}, False), ({"ALLOWED_HOSTS": "*", "ALLOW_ANY_HOST": "true"}, True), ({}, True)],
)
def test_production_refuses_any_host_unless_told_so(extra, starts):
    env = {key: value for key, value in os.environ.items() if key not in ("ALLOWED_HOSTS", "ALLOW_ANY_HOST")}
    env.update(
        DJANGO_SETTINGS_MODULE="mysmsapio.settings",
        DATABASE_URL="postgres://nobody@127.0.0.1:9/none",
        SECRET_KEY="k" * 50,
        HASH_SECRET="h" * 50,
        **extra,
    )
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.ALLOWED_HOSTS)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=settings.BASE_DIR,
    )
    assert (result.returncode == 0) is starts, result.stderr[-500:]
    if not starts:
        assert "ALLOWED_HOSTS=* in production mode" in result.stderr
    elif not extra:
        assert result.stdout.strip() == "['localhost', '127.0.0.1', '[::1]']"
