"""Raw API keys, Authorization headers and OTP codes never reach a log line."""

from __future__ import annotations

import logging

import pytest
import requests

from tests.conftest import GUIDE_NUMBER
from tests.otp.test_otp import last_code


def full_flow(post) -> str:
    assert post("/api/v1/sms/send", {"to": GUIDE_NUMBER, "message": "hello"}) == 202
    assert post("/api/v1/sms/send", {"to": "bad", "message": "hello"}) == 422
    assert post("/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}) == 200
    code = last_code()
    assert (
        post("/api/v1/otp/verify", {"phone_number": GUIDE_NUMBER, "code": "000000" if code != "000000" else "1"}) == 422
    )
    assert post("/api/v1/otp/verify", {"phone_number": GUIDE_NUMBER, "code": code}) == 200
    return code


def assert_no_secrets(text: str, raw_key: str, code: str) -> None:
    assert raw_key not in text
    assert raw_key.removeprefix("api_live_") not in text
    assert "Bearer" not in text
    assert code not in text


@pytest.mark.django_db
def test_in_process_logs_at_debug_hold_no_secret(api_client, api_key, online_gateway, caplog):
    with caplog.at_level(logging.DEBUG):
        code = full_flow(lambda path, body: api_client.post(path, body, format="json").status_code)
    assert caplog.records  # the flow did log (4xx warnings at least)
    assert_no_secrets(caplog.text, api_key.raw_key, code)


@pytest.mark.live
def test_server_logs_at_debug_hold_no_secret(web_server, api_key, online_gateway):
    def post(path, body):
        return requests.post(
            f"{web_server.url}{path}", json=body, headers={"Authorization": f"Bearer {api_key.raw_key}"}, timeout=30
        ).status_code

    code = full_flow(post)
    log = web_server.log()
    assert "POST /api/v1/otp/verify" in log  # the access log is there
    assert_no_secrets(log, api_key.raw_key, code)


@pytest.mark.live
def test_gateway_tokens_never_reach_the_server_log(web_server):
    import asyncio

    from websockets.asyncio.client import connect

    from gateways.services import gateway_create

    token = gateway_create(name="query-token-phone").raw_token
    url = web_server.ws_url.replace("http://", "ws://")

    async def scenario():
        async with connect(f"{url}/ws/gateway/?token={token}") as ws:
            assert '"welcome"' in await ws.recv()
        async with connect(f"{url}/ws/gateway/", additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            assert '"welcome"' in await ws.recv()

    asyncio.run(scenario())
    from gateways.models import Gateway
    from tests.live.test_gateway_e2e import wait_for

    wait_for(lambda: not Gateway.objects.filter(is_connected=True).exists(), timeout=20, what="disconnect handled")
    log = web_server.log()
    assert "/ws/gateway/" in log
    assert token not in log and token[8:] not in log
