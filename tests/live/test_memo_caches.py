"""Every web node drops what it holds in memory as soon as a change commits on another one."""

from __future__ import annotations

import time

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import api_key_revoke
from gateways.models import Gateway
from gateways.services import gateway_set_enabled
from tests.conftest import GUIDE_NUMBER

pytestmark = pytest.mark.skipif(
    not settings.REDIS_URL, reason="embedded mode serves from one process and keeps no cache (production pass)"
)


def status(server, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    return requests.get(f"{server.url}/api/v1/sms/status/msg_none", headers=headers, timeout=10).status_code


def send(server, key: str) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    response = requests.post(
        f"{server.url}/api/v1/sms/send", json={"to": GUIDE_NUMBER, "message": "hi"}, headers=headers, timeout=10
    )
    assert response.status_code == 202, response.text
    return response.json()


def test_a_revoked_key_is_refused_by_every_node_within_a_second(web_servers, raw_key):
    for server in web_servers:
        assert [status(server, raw_key) for _ in range(3)] == [404, 404, 404]  # known, and held in memory
    api_key_revoke(api_key=ApiKey.objects.get())
    deadline = time.monotonic() + 1.0
    refused = set()
    while time.monotonic() < deadline and len(refused) < len(web_servers):
        refused |= {i for i, server in enumerate(web_servers) if status(server, raw_key) == 401}
    assert refused == {0, 1}


def test_a_disabled_phone_is_never_chosen_by_any_node(web_servers, raw_key):
    phone = Gateway.objects.create(name="pixel", shared=True, is_connected=True, last_seen_at=timezone.now())
    assert [send(server, raw_key)["status"] for server in web_servers] == ["queued", "queued"]
    gateway_set_enabled(gateway_ids=[phone.pk], enabled=False)
    # The change reaches the other processes over Redis in about a millisecond; allow a second.
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        if [send(server, raw_key)["status"] for server in web_servers] == ["pending", "pending"]:
            break
    assert [send(server, raw_key)["status"] for _ in range(3) for server in web_servers] == ["pending"] * 6
