"""The app phones' event stream (GET /api/mobile/v1/events), driven through mysmsapio.asgi."""

from __future__ import annotations

import json

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.test import Client

from gateways.models import Gateway, GatewayKind
from gateways.services import gateway_create, gateway_revoke, gateway_roll_token
from messaging.lifecycle import message_cancel
from messaging.models import MessageStatus
from mysmsapio.asgi import application
from tests.conftest import message_send_now
from tests.fake_app import FakeApp, django_transport

pytestmark = pytest.mark.django_db(transaction=True)


class Stream:
    def __init__(self, token: str | None, method: str = "GET") -> None:
        headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": method,
            "path": "/api/mobile/v1/events",
            "raw_path": b"/api/mobile/v1/events",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 3005),
            "scheme": "http",
        }
        self.communicator = ApplicationCommunicator(application, scope)

    async def open(self) -> dict:
        await self.communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        return await self.communicator.receive_output(timeout=5)

    async def chunk(self, timeout: float = 3) -> dict:
        return await self.communicator.receive_output(timeout=timeout)

    async def close(self) -> None:
        await self.communicator.send_input({"type": "http.disconnect"})
        await self.communicator.wait(timeout=5)


@pytest.fixture
def registered(transactional_db):
    created = gateway_create(name="app-phone", kind=GatewayKind.APP)
    app = FakeApp(django_transport(Client()))
    assert app.register(created.raw_token).status == 201
    Gateway.objects.filter(pk=created.gateway.pk).update(is_connected=False)  # no polling presence yet
    return created.gateway, app


@pytest.mark.parametrize("token", [None, "gwd_live_" + "a" * 40, "gw_live_" + "b" * 40])
def test_a_missing_or_wrong_token_is_401_json(run, registered, token):
    async def scenario():
        stream = Stream(token)
        start = await stream.open()
        body = await stream.chunk()
        assert start["status"] == 401
        assert (b"content-type", b"application/json") in start["headers"]
        assert json.loads(body["body"])["code"] == "invalid_device_token"
        assert body["more_body"] is False

    run(scenario)


def test_the_stream_wakes_the_app_for_new_jobs_and_is_its_presence(run, registered, account):
    gateway, app = registered

    async def scenario():
        stream = Stream(app.token)
        start = await stream.open()
        assert start["status"] == 200
        assert (b"content-type", b"text/event-stream") in start["headers"]
        assert (b"cache-control", b"no-cache") in start["headers"]
        assert (await stream.chunk())["body"] == b": connected\n\n"
        assert await database_sync_to_async(lambda: Gateway.objects.get(pk=gateway.pk).is_online)()
        message = await database_sync_to_async(message_send_now)(account=account, to="+959971234567", text="Hi")
        assert message.status == MessageStatus.QUEUED and message.gateway_id == gateway.pk
        event = await stream.chunk()
        assert event["body"] == b"event: MessageEnqueued\ndata: null\n\n"
        assert event["more_body"] is True
        await stream.close()
        assert not await database_sync_to_async(lambda: Gateway.objects.get(pk=gateway.pk).is_connected)()

    run(scenario)


def test_a_cancel_reaches_the_app_with_the_message_id(run, registered, account):
    _, app = registered

    async def scenario():
        stream = Stream(app.token)
        await stream.open()
        await stream.chunk()
        message = await database_sync_to_async(message_send_now)(account=account, to="+959971234567", text="Hi")
        await stream.chunk()  # MessageEnqueued
        await database_sync_to_async(app.fetch)()
        await database_sync_to_async(message_cancel)(message_id=message.pk)
        event = await stream.chunk()
        assert event["body"] == f'event: MessageCancelled\ndata: {{"messageId": "{message.pk}"}}\n\n'.encode()
        await stream.close()

    run(scenario)


@pytest.mark.parametrize("action", [gateway_roll_token, gateway_revoke], ids=["roll", "revoke"])
def test_rolling_or_revoking_closes_the_stream(run, registered, action):
    gateway, app = registered

    async def scenario():
        stream = Stream(app.token)
        await stream.open()
        await stream.chunk()
        await database_sync_to_async(action)(gateway=gateway)
        end = await stream.chunk()
        assert end["more_body"] is False
        await stream.communicator.wait(timeout=5)
        # A new stream with the old token is refused.
        again = Stream(app.token)
        assert (await again.open())["status"] == 401

    run(scenario)


def test_the_stream_is_get_only(run, registered):
    _, app = registered

    async def scenario():
        stream = Stream(app.token, method="POST")
        assert (await stream.open())["status"] == 405

    run(scenario)


def test_a_web_node_asked_for_the_stream_says_where_it_lives(registered):
    answer = Client().get("/api/mobile/v1/events")
    assert answer.status_code == 404
    assert answer.json()["code"] == "events_elsewhere"


def test_a_new_rate_tells_the_app_to_fetch_its_settings_again(run, registered):
    gateway, app = registered
    operator = Client()
    operator.force_login(User.objects.create_superuser("operator", "op@example.test", "a-long-test-password"))

    async def scenario():
        stream = Stream(app.token)
        await stream.open()
        await stream.chunk()
        change = f"/admin/gateways/gateway/{gateway.pk}/change/"
        form = {"name": gateway.name, "rate_per_minute": 20, "enabled": "on", "account": gateway.account_id}
        answer = await database_sync_to_async(operator.post)(change, form)
        assert answer.status_code == 302
        assert (await stream.chunk())["body"] == b"event: SettingsUpdated\ndata: null\n\n"
        settings = await database_sync_to_async(app.load_settings)()
        assert settings["messages"]["limit_value"] == 20
        await stream.close()

    run(scenario)


def test_a_stream_superseded_by_a_newer_one_closes_at_its_keepalive(run, registered, settings):
    """A device token holder cannot keep any number of streams open: the phone's latest is the
    one that lives."""
    settings.GATEWAY_APP_KEEPALIVE_SECONDS = 0.3
    _gateway, app = registered

    async def scenario():
        first = Stream(app.token)
        await first.open()
        await first.chunk()  # ": connected"
        second = Stream(app.token)
        await second.open()
        await second.chunk()
        for _ in range(5):  # at most a keepalive sent before the newer stream took over, then the end
            chunk = await first.chunk(timeout=5)
            if not chunk["more_body"]:
                break
        assert chunk["more_body"] is False
        keepalive = await second.chunk(timeout=5)
        assert keepalive["more_body"] is True  # the newer one lives on
        await second.close()

    run(scenario)
