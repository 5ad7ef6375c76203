"""The API's own handler (lean middleware) keeps the JSON error contract on a real web node."""

from __future__ import annotations

import contextlib
import json
import select
import socket
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings

from core.redis_clients import redis_client

from .helpers import wait_for

pytestmark = pytest.mark.live


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("get", "/api/v1/nope", {}, 404, "not_found"),
        ("get", "/api/v1/sms/send", {}, 405, "method_not_allowed"),
        (
            "post",
            "/api/v1/sms/send",
            {"data": "{bad", "headers": {"Content-Type": "application/json"}},
            400,
            "malformed_json",
        ),
        (
            "post",
            "/api/v1/sms/send",
            {"data": "to=1", "headers": {"Content-Type": "text/plain"}},
            415,
            "unsupported_media_type",
        ),
        (
            "post",
            "/api/v1/sms/send",
            {"json": {"to": "+959123456789", "message": "x" * 20_000}},
            413,
            "payload_too_large",
        ),
        ("post", "/api/v1/sms/send", {"json": {"to": "123", "message": "hi"}}, 422, "invalid_phone_number"),
    ],
)
def test_api_errors_are_json_on_the_real_server(web_server, api_key, method, path, kwargs, status, code):
    headers = {"Authorization": f"Bearer {api_key.raw_key}", **kwargs.pop("headers", {})}
    response = getattr(requests, method)(f"{web_server.url}{path}", headers=headers, timeout=10, **kwargs)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["code"] == code
    assert response.headers["Content-Length"] == str(len(response.content))
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_unauthenticated_is_401_with_www_authenticate(web_server):
    response = requests.get(f"{web_server.url}/api/v1/sms/status/msg_1", timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"error": "Invalid or expired API key", "code": "invalid_api_key"}


def test_a_key_without_bearer_and_a_number_without_plus_say_what_is_wrong(web_server, api_key):
    """The guide's texts, and beside them a machine code and a hint a person can act on, on
    the lean edge and Django's stack alike (granian in the production pass)."""
    url = f"{web_server.url}/api/v1/sms/send"
    sms = {"to": "+959123456789", "message": "hi"}
    for path in ("/api/v1/sms/send", "/api/v1/sms/status/msg_1"):
        method = requests.post if path.endswith("send") else requests.get
        response = method(f"{web_server.url}{path}", json=sms, headers={"Authorization": api_key.raw_key}, timeout=10)
        assert response.status_code == 401, path
        body = response.json()
        assert (body["error"], body["code"]) == ("Invalid or expired API key", "malformed_authorization")
        assert "Bearer" in body["hint"]
    key = {"Authorization": f"Bearer {api_key.raw_key}"}
    response = requests.post(url, json={**sms, "to": "959123456789"}, headers=key, timeout=10)
    assert response.status_code == 422
    body = response.json()
    assert (body["error"], body["code"]) == ("Invalid phone number format", "invalid_phone_number")
    assert "E.164" in body["hint"] and "+" in body["hint"]


def test_the_admin_still_runs_the_full_django_stack(web_server):
    response = requests.get(f"{web_server.url}/admin/login/", timeout=10)
    assert response.status_code == 200
    assert "csrftoken" in response.cookies  # CSRF middleware ran
    assert response.headers["X-Frame-Options"] == "DENY"


def test_status_lines_name_every_code_the_api_answers(web_server, api_key):
    """No ``422 Unknown Status``: daphne (embedded mode) writes RFC 9110's phrase; granian
    (production's HTTP server) writes its fixed table's, the older name of the same code."""
    headers = {"Authorization": f"Bearer {api_key.raw_key}"}
    invalid = requests.post(
        f"{web_server.url}/api/v1/sms/send", json={"to": "123", "message": "hi"}, headers=headers, timeout=10
    )
    assert invalid.status_code == 422
    assert invalid.reason == ("Unprocessable Entity" if settings.REDIS_URL else "Unprocessable Content")
    wrong_method = requests.post(f"{web_server.url}/up", timeout=10)
    assert (wrong_method.status_code, wrong_method.reason) == (405, "Method Not Allowed")
    assert wrong_method.json()["code"] == "method_not_allowed"


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@pytest.mark.parametrize("chunked", [True, False])
def test_a_50_mb_body_is_refused_without_being_held_in_memory(web_server, api_key, chunked):
    """The HTTP server of each mode (daphne, granian) refuses it before the body is read."""
    host, port = urlsplit(web_server.url).hostname, urlsplit(web_server.url).port
    pid = web_server.procs[0].pid
    before = _rss_kb(pid)
    length = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % (50 * 1024 * 1024)
    head = (
        b"POST /api/v1/sms/send HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%s\r\n"
        b"Authorization: Bearer %s\r\n\r\n"
    ) % (host.encode(), length, api_key.raw_key.encode())
    chunk = b"a" * (1024 * 1024)
    answer = b""
    with socket.create_connection((host, port), timeout=30) as conn:
        conn.sendall(head)
        try:
            for _ in range(50):
                if select.select([conn], [], [], 0)[0]:  # answered early: stop sending
                    break
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            else:
                conn.sendall(b"0\r\n\r\n" if chunked else b"")
        except OSError:
            pass  # the server stopped reading: its answer may be waiting
        with contextlib.suppress(OSError):
            answer = conn.recv(4096)
    assert answer, "the connection was reset without an answer"
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.split()[1] in (b"400", b"413"), answer[:300]
    assert b"application/json" in answer.lower()
    assert _rss_kb(pid) - before < 20 * 1024, "the server held the body in memory"


def test_ready_probes_leave_no_subscription_behind_on_a_long_running_server(web_server):
    """The phones' daphne (production) keeps one event loop for its life: a probe that left a
    channel subscribed there piled up one Redis subscription per call."""

    def probe() -> None:
        response = requests.get(f"{web_server.ws_url}/ready", timeout=10)
        assert response.json()["checks"]["channel_layer"] == "ok"  # the round trip itself works

    if not settings.REDIS_URL:
        for _ in range(3):
            probe()  # the in-memory layer forgets a channel once read: nothing to count outside
        return
    probe()
    before = len(redis_client().pubsub_channels())
    for _ in range(5):
        probe()
    assert len(redis_client().pubsub_channels()) == before


def test_a_phone_frame_that_is_not_json_gets_an_error_frame_and_the_socket_lives_on(web_server):
    """Through daphne: not JSON, a truncated object, an empty text, a binary frame. Each was an
    exception inside the consumer (1011, the phone left online until the silence sweep)."""
    from websockets.sync.client import connect

    from gateways.models import Gateway
    from gateways.services import gateway_create

    phone = gateway_create(name="garbled")
    url = web_server.ws_url.replace("http://", "ws://") + "/ws/gateway/"
    with connect(url, additional_headers={"Authorization": f"Bearer {phone.raw_token}"}) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
        for frame in ["not json", '{"type":', "", b"\x00\x01binary", "[" * 100_000]:
            ws.send(frame)
            error = json.loads(ws.recv(timeout=10))
            assert error == {"type": "error", "error": "a frame must be one JSON object, as text"}, frame
        ws.send(json.dumps({"type": "heartbeat"}))  # still served
        ws.send(json.dumps({"type": "nonsense"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "error"
    wait_for(lambda: not Gateway.objects.get(pk=phone.gateway.pk).is_connected, what="the goodbye recorded")
    assert "Exception inside application" not in web_server.log()


def test_a_token_rolled_in_another_process_refuses_the_sockets_next_claim(web_server):
    """Through daphne. The roll happens here, in the test's process: in embedded mode its close
    signal reaches no server (an operator's `manage.py` does the same), so the socket lives on
    until it speaks; its next claim must be refused, not accepted until its next heartbeat."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    from accounts.services import account_get_or_create
    from gateways.models import Gateway
    from gateways.services import gateway_create, gateway_roll_token
    from messaging.lifecycle import message_create
    from messaging.models import Message

    phone = gateway_create(name="rolled-elsewhere")
    message = message_create(account=account_get_or_create(), to="+959123456789", text="x", gateway_id=phone.gateway.pk)
    url = web_server.ws_url.replace("http://", "ws://") + "/ws/gateway/"
    with connect(url, additional_headers={"Authorization": f"Bearer {phone.raw_token}"}) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
        gateway_roll_token(gateway=Gateway.objects.get(pk=phone.gateway.pk))
        # With Redis the close signal may come first (production): closed either way.
        with pytest.raises(ConnectionClosed) as closed:
            ws.send(json.dumps({"type": "accept", "message_id": message.pk}))
            while True:
                assert json.loads(ws.recv(timeout=10)).get("type") != "claim"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    assert Message.objects.get(pk=message.pk).status == "queued"
