"""The API's lean edge (mysmsapio/edge.py) answers exactly as Django and DRF would.

Each request is put to production's WSGI application (edge first) and to the API's Django
handler alone; status, headers and body must match. Requests the edge must leave to Django
are checked to fall through, so that every error about a request has one implementation.
The edge closes stale database connections as Django's request signals do, which would end a
test's transaction: these tests run on a transactional database.
"""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.db import OperationalError
from django.test.utils import override_settings

from accounts.models import Permission
from accounts.services import api_key_revoke
from adminpanel.models import ApiRequest
from messaging.models import Message
from mysmsapio.edge import edge_serve
from mysmsapio.handlers import ApiWSGIHandler
from mysmsapio.requestlog import request_log_discard, request_log_flush
from mysmsapio.wsgi import application
from tests.conftest import GUIDE_NUMBER
from tests.otp.test_otp import last_code, send_otp, wrong

pytestmark = pytest.mark.django_db(transaction=True)


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = int(status.split()[0])
        self.reason = status
        self.headers = {name.lower(): value for name, value in headers}
        self.body = body

    def comparable(self) -> tuple:
        headers = {k: v for k, v in self.headers.items() if k != "x-request-id"}
        return self.reason, headers, self.body

    def json(self):
        return json.loads(self.body)


def environ(method: str, path: str, *, key: str | None, body: bytes = b"", content_type: str = "", **extra) -> dict:
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "3005",
        "HTTP_HOST": "127.0.0.1:3005",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        **extra,
    }
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
    if content_type:
        env["CONTENT_TYPE"] = content_type
    if key is not None:
        env["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return env


def call(app, env: dict) -> Answer:
    started = {}

    def start_response(status, headers, exc_info=None):
        started.update(status=status, headers=headers)

    body = b"".join(app(env, start_response))
    return Answer(started["status"], started["headers"], body)


def answered_by_edge(env: dict) -> Answer | None:
    started = {}
    chunks = edge_serve(env, lambda status, headers: started.update(status=status, headers=headers))
    return None if chunks is None else Answer(started["status"], started["headers"], b"".join(chunks))


def verify_body(code, phone=GUIDE_NUMBER) -> bytes:
    return json.dumps({"phone_number": phone, "code": code}).encode()


@pytest.fixture
def django_app():
    return ApiWSGIHandler()


@pytest.fixture
def message(api_client, online_gateway) -> Message:
    response = api_client.post("/api/v1/sms/send", {"to": GUIDE_NUMBER, "message": "Hi"}, format="json")
    return Message.objects.get(pk=response.json()["message_id"])


@pytest.mark.parametrize("suffix", ["", "/"])
def test_a_status_answer_is_djangos_to_the_byte(api_key, message, django_app, suffix):
    path = f"/api/v1/sms/status/{message.pk}{suffix}"
    edge = answered_by_edge(environ("GET", path, key=api_key.raw_key))
    assert edge is not None, "the edge should answer a well-formed status request"
    django = call(django_app, environ("GET", path, key=api_key.raw_key))
    assert edge.comparable() == django.comparable()
    assert edge.status == 200 and edge.json()["status"] == "queued"
    assert edge.headers["x-request-id"] and edge.headers["x-content-type-options"] == "nosniff"


def test_an_unknown_message_is_the_same_404(api_key, django_app, db):
    path = "/api/v1/sms/status/msg_nope"
    edge = answered_by_edge(environ("GET", path, key=api_key.raw_key))
    django = call(django_app, environ("GET", path, key=api_key.raw_key))
    assert edge is not None and edge.comparable() == django.comparable()
    assert (edge.status, edge.json()) == (404, {"error": "Message not found", "code": "message_not_found"})


def test_another_accounts_message_does_not_exist_through_the_edge(message, make_api_key, other_account):
    stranger = make_api_key(account=other_account)
    edge = answered_by_edge(environ("GET", f"/api/v1/sms/status/{message.pk}", key=stranger.raw_key))
    assert edge is not None and edge.status == 404


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_verify_answers_are_djangos_right_and_wrong(api_client, api_key, online_gateway, django_app, content_type):
    key = api_key.raw_key
    send_otp(api_client)
    code = last_code()
    wrong_env = environ("POST", "/api/v1/otp/verify", key=key, body=verify_body(wrong(code)), content_type=content_type)
    edge_wrong = answered_by_edge(wrong_env)
    django_wrong = call(
        django_app,
        environ("POST", "/api/v1/otp/verify", key=key, body=verify_body(wrong(code)), content_type=content_type),
    )
    assert edge_wrong is not None and edge_wrong.comparable() == django_wrong.comparable()
    assert edge_wrong.json() == {"error": "Invalid or expired OTP", "code": "invalid_otp"}

    edge_right = answered_by_edge(
        environ("POST", "/api/v1/otp/verify", key=key, body=verify_body(code), content_type=content_type)
    )
    assert edge_right is not None and edge_right.json() == {"success": True, "message": "OTP verified successfully"}
    # The code is used up: through either path, a second try is refused.
    again_env = environ("POST", "/api/v1/otp/verify", key=key, body=verify_body(code), content_type=content_type)
    again = call(application, again_env)
    assert again.status == 422

    send_otp(api_client)
    django_right = call(
        django_app,
        environ("POST", "/api/v1/otp/verify", key=key, body=verify_body(last_code()), content_type=content_type),
    )
    assert edge_right.comparable() == django_right.comparable()


@pytest.mark.parametrize(
    "body",
    [
        {"phone_number": GUIDE_NUMBER},
        {"phone_number": "not a number", "code": "123456"},
        {"phone_number": GUIDE_NUMBER, "code": ["1"]},
        {"phone_number": GUIDE_NUMBER, "code": 12345},
        {"code": "123456"},
    ],
)
def test_verify_validation_errors_are_djangos(api_key, django_app, body):
    raw = json.dumps(body).encode()
    env = {"key": api_key.raw_key, "body": raw, "content_type": "application/json"}
    edge = answered_by_edge(environ("POST", "/api/v1/otp/verify", **env))
    django = call(django_app, environ("POST", "/api/v1/otp/verify", **env))
    assert edge is not None and edge.comparable() == django.comparable()
    assert edge.status == 422


def send_env(key: str, body: dict, **extra) -> dict:
    return environ(
        "POST", "/api/v1/sms/send", key=key, body=json.dumps(body).encode(), content_type="application/json", **extra
    )


def test_a_send_through_the_edge_is_answered_and_stored_as_through_django(api_key, online_gateway, django_app):
    body = {"to": GUIDE_NUMBER, "message": "Hello"}
    edge = answered_by_edge(send_env(api_key.raw_key, body))
    django = call(django_app, send_env(api_key.raw_key, body))
    assert edge is not None and (edge.status, django.status) == (202, 202)
    assert edge.headers.keys() == django.headers.keys()
    assert {k: v for k, v in edge.headers.items() if k not in ("x-request-id", "x-ratelimit-remaining")} == {
        k: v for k, v in django.headers.items() if k not in ("x-request-id", "x-ratelimit-remaining")
    }
    # One budget: the edge's send and Django's counted against the same key.
    assert int(edge.headers["x-ratelimit-remaining"]) == int(django.headers["x-ratelimit-remaining"]) + 1
    assert edge.json().keys() == django.json().keys() == {"success", "message_id", "status"}
    stored = Message.objects.get(pk=edge.json()["message_id"])
    assert (stored.to, stored.body, stored.status, stored.gateway) == (GUIDE_NUMBER, "Hello", "queued", online_gateway)


def test_a_test_mode_key_through_the_edge_sends_test_messages_and_sees_only_them(make_api_key, message):
    test_key = make_api_key(name="CI", test=True)
    edge = answered_by_edge(send_env(test_key.raw_key, {"to": GUIDE_NUMBER, "message": "test"}))
    assert edge is not None and edge.status == 202
    stored = Message.objects.get(pk=edge.json()["message_id"])
    assert (stored.is_test, stored.gateway, stored.status) == (True, None, "queued")
    own = answered_by_edge(environ("GET", f"/api/v1/sms/status/{stored.pk}", key=test_key.raw_key))
    live = answered_by_edge(environ("GET", f"/api/v1/sms/status/{message.pk}", key=test_key.raw_key))
    assert (own.status, live.status) == (200, 404)


def test_an_idempotent_retry_is_one_message_whichever_path_serves_it(api_key, online_gateway, django_app):
    body = {"to": GUIDE_NUMBER, "message": "Once"}
    first = answered_by_edge(send_env(api_key.raw_key, body, HTTP_IDEMPOTENCY_KEY="order-1234"))
    replay_django = call(django_app, send_env(api_key.raw_key, body, HTTP_IDEMPOTENCY_KEY="order-1234"))
    replay_edge = answered_by_edge(send_env(api_key.raw_key, body, HTTP_IDEMPOTENCY_KEY="order-1234"))
    assert first is not None and replay_edge is not None
    assert first.json() == replay_django.json() == replay_edge.json()
    assert replay_edge.comparable() == replay_django.comparable()
    assert replay_edge.headers["idempotent-replayed"] == "true"
    assert Message.objects.filter(body="Once").count() == 1

    changed = {"to": GUIDE_NUMBER, "message": "Twice"}
    edge = answered_by_edge(send_env(api_key.raw_key, changed, HTTP_IDEMPOTENCY_KEY="order-1234"))
    django = call(django_app, send_env(api_key.raw_key, changed, HTTP_IDEMPOTENCY_KEY="order-1234"))
    assert edge is not None and edge.comparable() == django.comparable() and edge.status == 422


@pytest.mark.parametrize(
    "body", [{"to": "12", "message": "Hi"}, {"to": GUIDE_NUMBER}, {"to": GUIDE_NUMBER, "message": ""}]
)
def test_send_validation_errors_are_djangos(api_key, django_app, settings, body):
    settings.SMS_RATE_LIMIT_PER_MINUTE = 1000
    edge = answered_by_edge(send_env(api_key.raw_key, body))
    django = call(django_app, send_env(api_key.raw_key, body))
    assert edge is not None and edge.status == 422
    assert (edge.status, edge.body) == (django.status, django.body)
    assert int(edge.headers["x-ratelimit-remaining"]) == int(django.headers["x-ratelimit-remaining"]) + 1


def test_the_rate_limit_is_one_budget_and_one_answer(api_key, online_gateway, django_app, settings):
    settings.SMS_RATE_LIMIT_PER_MINUTE = 1
    body = {"to": GUIDE_NUMBER, "message": "Hi"}
    assert answered_by_edge(send_env(api_key.raw_key, body)).status == 202
    edge = answered_by_edge(send_env(api_key.raw_key, body))
    django = call(django_app, send_env(api_key.raw_key, body))
    assert edge is not None and (edge.status, edge.body) == (django.status, django.body)
    assert edge.json()["error"] == "Rate limit exceeded. Maximum 1 SMS per minute for this API key"
    assert edge.headers.keys() == django.headers.keys() and "retry-after" in edge.headers


def _fall_through_cases(key: str, message_id: str) -> dict[str, dict]:
    good = verify_body("123456")
    verify = ("POST", "/api/v1/otp/verify")
    return {
        "no key": environ("GET", f"/api/v1/sms/status/{message_id}", key=None),
        "unknown key": environ("GET", f"/api/v1/sms/status/{message_id}", key="api_live_" + "x" * 40),
        "another scheme": environ(
            "GET", f"/api/v1/sms/status/{message_id}", key=None, HTTP_AUTHORIZATION=f"Token {key}"
        ),
        "POST to status": environ("POST", f"/api/v1/sms/status/{message_id}", key=key),
        "GET verify": environ("GET", "/api/v1/otp/verify", key=key),
        "not JSON": environ(*verify, key=key, body=b"{nope", content_type="application/json"),
        "a JSON list": environ(*verify, key=key, body=b"[1, 2]", content_type="application/json"),
        "NaN": environ(*verify, key=key, body=b'{"code": NaN}', content_type="application/json"),
        "not UTF-8": environ(*verify, key=key, body=b'{"code": "\xff"}', content_type="application/json"),
        "form body": environ(*verify, key=key, body=b"code=1", content_type="application/x-www-form-urlencoded"),
        "no content type": environ(*verify, key=key, body=good),
        "empty body": environ(*verify, key=key, content_type="application/json"),
        "too large": environ(*verify, key=key, body=b" " * 20_000 + good, content_type="application/json"),
        "another charset": environ(*verify, key=key, body=good, content_type="application/json; charset=latin-1"),
    }


@pytest.mark.parametrize("case", list(_fall_through_cases("k", "m")))
def test_what_the_edge_is_not_sure_of_is_answered_by_django_alone(api_key, message, django_app, case):
    env = _fall_through_cases(api_key.raw_key, message.pk)[case]
    assert answered_by_edge(dict(env, **{"wsgi.input": io.BytesIO(env["wsgi.input"].getvalue())})) is None
    through_application = call(application, dict(env, **{"wsgi.input": io.BytesIO(env["wsgi.input"].getvalue())}))
    django = call(django_app, env)
    assert through_application.comparable() == django.comparable()
    assert through_application.status >= 400 and "error" in through_application.json()


def test_a_revoked_key_and_a_missing_permission_fall_through_to_djangos_401_and_403(make_api_key, message):
    status_path = f"/api/v1/sms/status/{message.pk}"
    revoked = make_api_key()
    api_key_revoke(api_key=revoked.api_key)
    answer = call(application, environ("GET", status_path, key=revoked.raw_key))
    assert (answer.status, answer.json()["error"]) == (401, "Invalid or expired API key")

    otp_only = make_api_key(permissions=[Permission.SEND_OTP])
    assert answered_by_edge(environ("GET", status_path, key=otp_only.raw_key)) is None
    answer = call(application, environ("GET", status_path, key=otp_only.raw_key))
    assert (answer.status, answer.json()["error"]) == (403, "This API key does not have the send_sms permission")


def test_an_edge_answer_is_logged_counted_and_correlated_like_any_other(api_key, message, caplog, settings):
    settings.REQUEST_LOG_FLUSH_SECONDS = 0
    request_log_discard()
    env = environ("GET", f"/api/v1/sms/status/{message.pk}", key=api_key.raw_key, HTTP_X_REQUEST_ID="client-req-123")
    with override_settings(ACCESS_LOG=True), caplog.at_level(logging.INFO, logger="mysmsapio.access"):
        answer = answered_by_edge(env)
    assert answer is not None and answer.headers["x-request-id"] == "client-req-123"
    assert any(f"GET /api/v1/sms/status/{message.pk} 200" in r.getMessage() for r in caplog.records)
    assert request_log_flush() == 1
    logged = ApiRequest.objects.get()
    path = f"/api/v1/sms/status/{message.pk}"
    assert (logged.path, logged.status, logged.api_key_id) == (path, 200, api_key.api_key.pk)
    assert api_key.raw_key not in caplog.text


def test_hsts_is_sent_on_https_as_by_django(api_key, message, django_app, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    path = f"/api/v1/sms/status/{message.pk}"
    behind_proxy = bool(settings.SECURE_PROXY_SSL_HEADER)
    forwarded = {"HTTP_X_FORWARDED_PROTO": "https"} if behind_proxy else {"wsgi.url_scheme": "https"}
    edge = answered_by_edge(environ("GET", path, key=api_key.raw_key, **forwarded))
    django = call(django_app, environ("GET", path, key=api_key.raw_key, **forwarded))
    assert edge is not None and edge.comparable() == django.comparable()
    assert edge.headers["strict-transport-security"].startswith("max-age=3600")


def test_an_unexpected_failure_is_a_json_500(api_key, message, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("clientapi.sms.message_state_get", broken)
    with caplog.at_level(logging.ERROR, logger="core.api"):
        answer = answered_by_edge(environ("GET", f"/api/v1/sms/status/{message.pk}", key=api_key.raw_key))
    assert answer is not None
    assert (answer.status, answer.json()) == (500, {"error": "Internal server error", "code": "internal_error"})
    assert "boom" in caplog.text


def test_a_browsers_cross_origin_call_goes_to_django_for_its_cors_headers(api_key, message, settings):
    path = f"/api/v1/sms/status/{message.pk}"
    settings.API_CORS_ALLOWED_ORIGINS = ["https://app.example.test"]
    from_browser = environ("GET", path, key=api_key.raw_key, HTTP_ORIGIN="https://app.example.test")
    assert answered_by_edge(dict(from_browser)) is None
    answer = call(application, from_browser)
    assert answer.status == 200 and answer.headers["access-control-allow-origin"] == "https://app.example.test"
    assert answered_by_edge(environ("GET", path, key=api_key.raw_key)) is not None  # no Origin: the edge


def test_a_host_not_allowed_is_left_to_django_which_refuses_it(api_key, message, settings):
    settings.ALLOWED_HOSTS = ["sms.example.test"]
    path = f"/api/v1/sms/status/{message.pk}"
    assert answered_by_edge(environ("GET", path, key=api_key.raw_key, HTTP_HOST="evil.example.test")) is None
    refused = call(application, environ("GET", path, key=api_key.raw_key, HTTP_HOST="evil.example.test"))
    assert (refused.status, refused.json()["code"]) == (400, "invalid_host")
    allowed = answered_by_edge(environ("GET", path, key=api_key.raw_key, HTTP_HOST="sms.example.test:3005"))
    assert allowed is not None and allowed.status == 200


def test_the_edge_remembers_a_hosts_answer_only_until_the_settings_change(api_key, message, settings):
    path = f"/api/v1/sms/status/{message.pk}"
    settings.ALLOWED_HOSTS = ["sms.example.test"]
    assert answered_by_edge(environ("GET", path, key=api_key.raw_key, HTTP_HOST="sms.example.test")) is not None
    settings.ALLOWED_HOSTS = ["other.example.test"]
    assert answered_by_edge(environ("GET", path, key=api_key.raw_key, HTTP_HOST="sms.example.test")) is None
    # A forwarded host is Django's to judge, request by request (with USE_X_FORWARDED_HOST on).
    settings.USE_X_FORWARDED_HOST = True
    forwarded = {"HTTP_HOST": "other.example.test", "HTTP_X_FORWARDED_HOST": "evil.example.test"}
    assert answered_by_edge(environ("GET", path, key=api_key.raw_key, **forwarded)) is None
    forwarded["HTTP_X_FORWARDED_HOST"] = "other.example.test"
    assert answered_by_edge(environ("GET", path, key=api_key.raw_key, **forwarded)) is not None


def test_a_failing_key_lookup_is_left_to_django_which_answers_503(api_key, message, monkeypatch):
    def database_down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("accounts.authentication.api_key_get_by_raw", database_down)
    path = f"/api/v1/sms/status/{message.pk}"
    assert answered_by_edge(environ("GET", path, key=api_key.raw_key)) is None
    answer = call(application, environ("GET", path, key=api_key.raw_key))
    assert (answer.status, answer.json()["code"]) == (503, "database_unavailable")


def test_a_non_ascii_path_the_edge_leaves_to_django_is_a_404_not_a_500(make_api_key):
    """The edge reads the request through Django's WSGIRequest, which rewrites PATH_INFO in the
    environ it is given: the handler the request falls through to must still get PEP 3333's
    bytes (found by Schemathesis: a 500 with no body, through granian)."""
    no_send = make_api_key(permissions=[Permission.SEND_OTP])  # the edge leaves it to Django (403)
    path = "/api/v1/sms/status/" + "\U000df3ca BM".encode().decode("iso-8859-1")
    answer = call(application, environ("GET", path, key=no_send.raw_key))
    assert (answer.status, answer.json()["code"]) == (403, "permission_denied")
    answer = call(application, environ("GET", path, key=None))
    assert answer.status == 401


# --- SMS Gate's client API's send ----------------------------------------------------------------


def smsgate_env(issued, body: dict, *, path: str = "/api/3rdparty/v1/messages", password: str | None = None) -> dict:
    import base64

    pair = f"{issued.credential.login}:{password or issued.password}".encode()
    raw = json.dumps(body).encode()
    env = environ("POST", path, key=None, body=raw, content_type="application/json")
    env["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(pair).decode()
    return env


def test_smsgate_sends_and_errors_are_the_same_through_the_edge(account, online_gateway, django_app):
    from accounts.services import smsgate_login_issue

    issued = smsgate_login_issue(account=account, name="edge")
    sent = {"phoneNumbers": [GUIDE_NUMBER], "textMessage": {"text": "hi"}, "id": "edge-1"}
    edge = answered_by_edge(smsgate_env(issued, sent))
    assert edge is not None and edge.status == 202 and edge.json()["id"] == "edge-1"
    assert edge.headers["location"] == "http://127.0.0.1:3005/api/3rdparty/v1/messages/edge-1"
    # The same id again: the same 409 both ways, in SMS Gate's shape.
    edge_twice = answered_by_edge(smsgate_env(issued, sent))
    django_twice = call(django_app, smsgate_env(issued, sent))
    assert edge_twice.comparable() == django_twice.comparable()
    assert (edge_twice.status, edge_twice.json()) == (409, {"message": "message with the same ID already exists"})
    bad = {"phoneNumbers": ["12345"], "message": "x"}
    edge_bad, django_bad = answered_by_edge(smsgate_env(issued, bad)), call(django_app, smsgate_env(issued, bad))
    assert edge_bad.comparable() == django_bad.comparable() and edge_bad.status == 400
    # A wrong password is Django's to answer (and to count): the edge passes.
    assert answered_by_edge(smsgate_env(issued, sent, password="wrong")) is None
    assert call(django_app, smsgate_env(issued, sent, password="wrong")).status == 401
    # The legacy singular path and SMS Gate's short base path take the edge too.
    legacy = answered_by_edge(
        smsgate_env(issued, {"phoneNumbers": [GUIDE_NUMBER], "message": "x"}, path="/3rdparty/v1/message")
    )
    assert legacy is not None and legacy.status == 202
