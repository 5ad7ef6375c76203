"""Limits and one-time codes hold under real concurrency, across two server processes."""

from __future__ import annotations

import functools
from collections import Counter

import pytest
import requests

from messaging.models import Message
from otp.models import Otp
from tests.conftest import GUIDE_NUMBER
from tests.live.helpers import all_at_once, wait_for_fresh_minute
from tests.otp.test_otp import last_code

pytestmark = pytest.mark.live


def post(server, raw_key, path, body):
    return requests.post(f"{server.url}{path}", json=body, headers={"Authorization": f"Bearer {raw_key}"}, timeout=60)


def test_150_sends_at_once_over_two_servers_accept_exactly_100(web_servers, api_key, transactional_db):
    wait_for_fresh_minute()
    calls = [
        functools.partial(
            post, web_servers[i % 2], api_key.raw_key, "/api/v1/sms/send", {"to": GUIDE_NUMBER, "message": f"#{i}"}
        )
        for i in range(150)
    ]
    responses = all_at_once(calls)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {202: 100, 429: 50}
    assert Message.objects.count() == 100
    refused = [r for r in responses if r.status_code == 429]
    assert all(r.json()["error"] == "Rate limit exceeded. Maximum 100 SMS per minute for this API key" for r in refused)
    assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)
    remaining = sorted(int(r.headers["X-RateLimit-Remaining"]) for r in responses if r.status_code == 202)
    assert remaining == list(range(100))


def test_ten_otp_sends_at_once_give_exactly_three(web_servers, api_key, online_gateway):
    calls = [
        functools.partial(post, web_servers[i % 2], api_key.raw_key, "/api/v1/otp/send", {"phone_number": GUIDE_NUMBER})
        for i in range(10)
    ]
    statuses = Counter(r.status_code for r in all_at_once(calls))
    assert statuses == {200: 3, 429: 7}
    assert Otp.objects.count() == 3
    assert Otp.objects.filter(status="active").count() == 1


def test_parallel_verifies_of_the_right_code_give_exactly_one_200(web_servers, api_key, online_gateway):
    assert post(web_servers[0], api_key.raw_key, "/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}).ok
    body = {"phone_number": GUIDE_NUMBER, "code": last_code()}
    calls = [functools.partial(post, web_servers[i % 2], api_key.raw_key, "/api/v1/otp/verify", body) for i in range(8)]
    statuses = Counter(r.status_code for r in all_at_once(calls))
    assert statuses == {200: 1, 422: 7}


def test_ten_retries_at_once_with_one_idempotency_key_make_one_message(web_servers, api_key, transactional_db):
    def retry(server):
        return requests.post(
            f"{server.url}/api/v1/sms/send",
            json={"to": GUIDE_NUMBER, "message": "once"},
            headers={"Authorization": f"Bearer {api_key.raw_key}", "Idempotency-Key": "retry-me"},
            timeout=60,
        )

    responses = all_at_once([functools.partial(retry, web_servers[i % 2]) for i in range(10)])

    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["message_id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 9
    assert Message.objects.count() == 1


def test_retries_at_once_on_both_keys_of_a_roll_make_one_message(web_servers, api_key, transactional_db):
    """During a roll's grace, old and new key are one client: retries of one request, some
    with each key, on both nodes at once, send the SMS once."""
    from datetime import timedelta

    from accounts.services import api_key_roll

    keys = [api_key.raw_key, api_key_roll(api_key=api_key.api_key, grace=timedelta(hours=1)).raw_key]

    def retry(index: int):
        return requests.post(
            f"{web_servers[index % 2].url}/api/v1/sms/send",
            json={"to": GUIDE_NUMBER, "message": "once"},
            headers={"Authorization": f"Bearer {keys[index // 2 % 2]}", "Idempotency-Key": "rolled-retry"},
            timeout=60,
        )

    responses = all_at_once([functools.partial(retry, index) for index in range(12)])
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["message_id"] for r in responses}) == 1
    assert Message.objects.count() == 1
