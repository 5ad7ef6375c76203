from __future__ import annotations

import time

import pytest

from core import ratelimit
from tests.conftest import GUIDE_NUMBER

pytestmark = pytest.mark.django_db
LIMIT_ERROR = {"error": "Rate limit exceeded. Maximum 100 SMS per minute for this API key", "code": "rate_limited"}


def send(client, body=None):
    return client.post("/api/v1/sms/send", body or {"to": GUIDE_NUMBER, "message": "hi"}, format="json")


def test_the_101st_send_in_a_minute_is_refused_with_429_and_retry_after(api_client, monkeypatch):
    # Freeze the clock inside one window so the test cannot straddle a minute boundary.
    now = (int(time.time()) // 60) * 60 + 1.0
    monkeypatch.setattr(ratelimit.time, "time", lambda: now)
    for i in range(100):
        response = send(api_client)
        assert response.status_code == 202, i
        assert response["X-RateLimit-Limit"] == "100"
        assert response["X-RateLimit-Remaining"] == str(99 - i)
        assert response["X-RateLimit-Reset"] == str(int(now) - 1 + 60)

    response = send(api_client)
    assert response.status_code == 429
    assert response.json() == LIMIT_ERROR
    assert response["Retry-After"] == "59"
    assert response["X-RateLimit-Remaining"] == "0"
    assert response["X-RateLimit-Limit"] == "100"

    monkeypatch.setattr(ratelimit.time, "time", lambda: now + 60)
    assert send(api_client).status_code == 202


def test_the_limit_is_per_api_key(api_client, make_api_key, client_for, monkeypatch):
    now = (int(time.time()) // 60) * 60 + 1.0
    monkeypatch.setattr(ratelimit.time, "time", lambda: now)
    for _ in range(100):
        send(api_client)
    assert send(api_client).status_code == 429
    assert send(client_for(make_api_key(name="other").raw_key)).status_code == 202


def test_invalid_requests_count_and_carry_the_headers(api_client):
    response = send(api_client, {"to": "nope", "message": "hi"})
    assert response.status_code == 422
    assert response["X-RateLimit-Remaining"] == "99"


def test_unauthenticated_requests_do_not_touch_any_keys_counter(client, api_client):
    response = client.post("/api/v1/sms/send", {}, content_type="application/json")
    assert response.status_code == 401
    assert "X-RateLimit-Limit" not in response
    assert send(api_client)["X-RateLimit-Remaining"] == "99"
