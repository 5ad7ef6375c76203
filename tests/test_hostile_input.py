"""Input built to break things gets a 4xx JSON answer, never a 500, never a stuck queue."""

from __future__ import annotations

import json

import pytest

from messaging.models import Message
from tests.conftest import GUIDE_NUMBER

pytestmark = pytest.mark.django_db

SURROGATE_TEXT = '{"to": "+959123456789", "message": "\\ud83d hi"}'  # valid JSON, not encodable UTF-8
DEEP = '{"to": ' + "[" * 3000 + "]" * 3000 + ', "message": "hi"}'


def post_raw(client, path: str, body: str | bytes, content_type: str = "application/json"):
    return client.generic("POST", path, body, content_type=content_type)


def assert_json_4xx(response, status: int | None = None) -> dict:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if status is not None:
        assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/sms/send", SURROGATE_TEXT),
        ("/api/v1/otp/send", '{"phone_number": "+95912345\\ud83d"}'),
        ("/api/v1/otp/verify", '{"phone_number": "+959123456789", "code": "\\ud83d12345"}'),
        ("/api/v1/sms/send", DEEP),
        ("/api/v1/otp/verify", DEEP.replace('"to"', '"code"')),
        ("/api/v1/sms/send", '{"to": "+959123456789", "message": "nul \\u0000 byte"}'),
        ("/api/v1/otp/send", '{"phone_number": "+959123456789\\u0000"}'),
        ("/api/v1/otp/verify", '{"phone_number": "+959123456789", "code": "12\\u00003456"}'),
    ],
)
def test_bodies_built_to_break_the_server_get_a_json_4xx(api_client, online_gateway, path, body):
    assert_json_4xx(post_raw(api_client, path, body))
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        "since=2025-13-01T00:00:00Z",
        "since=0000-01-01T00:00:00Z",
        "since=2025-01-01T00:00:00%2B99:00",
        "limit=%C2%B2",
        "limit=%D9%A3",
        "cursor=%00",
        "since=%00",
    ],
)
def test_inbox_parameters_built_to_break_it_get_a_422(api_client, query):
    body = assert_json_4xx(api_client.get(f"/api/v1/sms/inbox?{query}"), 422)
    assert body["code"] in {"invalid_since", "invalid_limit", "invalid_cursor"}


def test_a_nul_byte_in_the_path_or_a_header_is_no_500(api_client):
    assert_json_4xx(api_client.get("/api/v1/sms/status/msg_%00abc"))
    response = api_client.post(
        "/api/v1/sms/send", {"to": GUIDE_NUMBER, "message": "hi"}, format="json", HTTP_IDEMPOTENCY_KEY="a\x00b"
    )
    assert_json_4xx(response, 400)


def test_an_empty_body_with_a_json_content_type_is_malformed_json(api_client):
    body = assert_json_4xx(post_raw(api_client, "/api/v1/sms/send", ""), 400)
    assert body == {"error": "Malformed JSON request body", "code": "malformed_json"}


def test_a_lone_surrogate_as_an_sms_text_is_refused_with_the_reason(api_client, online_gateway):
    body = assert_json_4xx(post_raw(api_client, "/api/v1/sms/send", SURROGATE_TEXT), 422)
    assert body["code"] == "invalid_message"
    assert json.loads(SURROGATE_TEXT)["message"].startswith("\ud83d")
