"""SMS Gate's official Python client library (PyPI ``android-sms-gateway`` 4.3.3), unmodified,
against our real servers: its calls land on ``/api/3rdparty/v1`` (smsgate/), on the same
services, phones and rows as our own ``/api/v1``."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
from android_sms_gateway import client, domain, enums, errors
from django.core.cache import caches

from accounts.models import Account
from accounts.services import account_get_or_create, smsgate_login_issue
from agent.agent import ENCRYPTED_REFUSAL
from core.health import HEARTBEAT_KEY, worker_heartbeat_record
from gateways.models import Gateway, GatewayKind
from gateways.services import gateway_create, gateway_revoke, gateway_roll_token
from messaging.models import Message
from tests.fake_app import AppPhone, FakeApp, http_transport

from .helpers import missing_tool, wait_for
from .test_app_phones import OOREDOO_NUMBER, status_of

pytestmark = pytest.mark.live
TELENOR_NUMBER = "+959791234567"


def library_client(web_server, login: str, password: str) -> client.APIClient:
    return client.APIClient(login, password, base_url=f"{web_server.url}/api/3rdparty/v1")


@pytest.fixture
def login(transactional_db):
    issued = smsgate_login_issue(account=account_get_or_create(), name="home automation")
    return issued.credential.login, issued.password


def test_the_library_sends_to_two_numbers_and_reads_them_delivered_by_an_app_phone(web_server, login, raw_key):
    created = gateway_create(name="app-phone", kind=GatewayKind.APP, rate_per_minute=30)
    app = FakeApp(http_transport(web_server.url))
    assert app.register(created.raw_token).status == 201
    phone = AppPhone(app, web_server.ws_url).start()
    try:
        wait_for(lambda: Gateway.objects.get(pk=created.gateway.pk).is_online, what="the app phone online")
        with library_client(web_server, *login) as api:
            sent = api.send(
                domain.Message(
                    phone_numbers=[OOREDOO_NUMBER, TELENOR_NUMBER], text_message=domain.TextMessage(text="Hi both")
                )
            )
            assert sent.state.value == "Pending" and len(sent.recipients) == 2
            wait_for(
                lambda: api.get_state(sent.id).state.value == "Delivered",
                timeout=30,
                what=lambda: f"delivered; now {api.get_state(sent.id)}",
            )
            state = api.get_state(sent.id)
            assert {(r.phone_number, r.state.value) for r in state.recipients} == {
                (OOREDOO_NUMBER, "Delivered"),
                (TELENOR_NUMBER, "Delivered"),
            }
            assert {"Pending", "Sent", "Delivered"} <= set(state.states)
            # One recipient, no id of its own: the same id finds it through our own API.
            single = api.send(domain.Message(phone_numbers=[OOREDOO_NUMBER], text_message=domain.TextMessage("one")))
            assert status_of(web_server, raw_key, single.id)["message_id"] == single.id
            # Listed, newest first, with the total the library can page by.
            listed = api.get_messages(pagination=domain.QueryPagination(limit=10))
            assert [m.id for m in listed][:2] == [single.id, sent.id]
            assert [d.name for d in api.list_devices()] == ["app-phone"]
        # Each number was sent once, by the phone, with the text.
        assert sorted(job["to"] for job in phone.sent if job["body"] == "Hi both") == sorted(
            [OOREDOO_NUMBER, TELENOR_NUMBER]
        )
    finally:
        phone.stop()
        # The server's goodbye done before the test's rows are flushed under it.
        wait_for(lambda: not Gateway.objects.filter(is_connected=True).exists(), what="offline")


def test_a_pending_message_is_cancelled_and_ids_are_the_clients_and_the_accounts(web_server, login):
    with library_client(web_server, *login) as api:
        pending = api.send(
            domain.Message(phone_numbers=[OOREDOO_NUMBER], text_message=domain.TextMessage("later"), id="order-77")
        )
        assert pending.id == "order-77" and pending.state.value == "Pending"  # no phone online
        with pytest.raises(errors.APIError) as twice:
            api.send(
                domain.Message(phone_numbers=[TELENOR_NUMBER], text_message=domain.TextMessage("x"), id="order-77")
            )
        assert twice.value.status_code == 409
        api.cancel_message("order-77")
        assert api.get_state("order-77").state.value == "Cancelled"
        assert Message.objects.get(group_id="order-77").status == "failed"

    # Another account's login sees none of it, and cannot cancel it.
    other = smsgate_login_issue(account=Account.objects.create(name="tenant-b"), name="b")
    with library_client(web_server, other.credential.login, other.password) as theirs:
        with pytest.raises(errors.NotFoundError):
            theirs.get_state("order-77")
        with pytest.raises(requests.HTTPError) as refused:  # 4.3.3's cancel raises requests' own error
            theirs.cancel_message("order-77")
        assert refused.value.response.status_code == 404
        assert theirs.get_messages() == []
    assert Message.objects.get(group_id="order-77").status == "failed"  # still the first account's, cancelled


def test_credentials_are_checked_and_errors_are_smsgate_shaped(web_server, login):
    with library_client(web_server, login[0], "wrong-password") as api, pytest.raises(errors.UnauthorizedError):
        api.get_messages()
    base = f"{web_server.url}/api/3rdparty/v1"
    for header in ["Basic !!!not-base64", "Basic " + "bm8tY29sb24=", "Bearer something"]:
        answer = requests.get(f"{base}/messages", headers={"Authorization": header}, timeout=10)
        assert answer.status_code == 401 and set(answer.json()) == {"message"}, (header, answer.text)
    with library_client(web_server, *login) as api:
        with pytest.raises(errors.BadRequestError):
            api.send(domain.Message(phone_numbers=["12345"], text_message=domain.TextMessage("bad number")))
        with pytest.raises(errors.BadRequestError):
            api.send(
                domain.Message(phone_numbers=[OOREDOO_NUMBER, OOREDOO_NUMBER], text_message=domain.TextMessage("x"))
            )
        # No worker heard from: messages are still taken, and wait (warn, not fail); then one is.
        caches["heartbeat"].delete(HEARTBEAT_KEY)
        health = api.health_check()
        assert health.status.value == "warn" and health.checks["worker"].status.value == "fail"
        assert health.checks["database"].status.value == "pass"
        worker_heartbeat_record()
        assert api.health_check().status.value == "pass"
    # The short base path (SMS Gate's cloud layout) is served too.
    short = requests.get(f"{web_server.url}/3rdparty/v1/health", timeout=10)
    assert short.status_code == 200 and short.json()["status"] == "pass"


def test_tokens_are_issued_scoped_refreshed_once_and_revoked(web_server, login):
    import time

    import jwt

    base = f"{web_server.url}/api/3rdparty/v1"
    with library_client(web_server, *login) as api:
        pair = api.generate_token(domain.TokenRequest(scopes=["messages:send", "messages:read"], ttl=3600))
    assert pair.token_type == "Bearer" and pair.refresh_token
    with client.APIClient(None, pair.access_token, base_url=base) as bearer:
        sent = bearer.send(domain.Message(phone_numbers=[OOREDOO_NUMBER], text_message=domain.TextMessage("by token")))
        assert bearer.get_state(sent.id).id == sent.id
        with pytest.raises(errors.ForbiddenError) as refused:
            bearer.get_messages()
        assert refused.value.response == {"message": "scope required: messages:list"}
        # The refresh token works once, at the refresh endpoint only.
        with pytest.raises(errors.ForbiddenError):
            client.APIClient(None, pair.refresh_token, base_url=base).__enter__().get_state(sent.id)
        renewed = bearer.refresh_token(pair.refresh_token)
        with pytest.raises(errors.UnauthorizedError):
            bearer.refresh_token(pair.refresh_token)
    with client.APIClient(None, renewed.access_token, base_url=base) as again:
        assert again.get_state(sent.id).id == sent.id  # the new pair keeps the scopes
    # Revoked by its id, with the login's Basic credentials: refused from then on.
    with library_client(web_server, *login) as api:
        api.revoke_token(renewed.id)
    with (
        client.APIClient(None, renewed.access_token, base_url=base) as revoked,
        pytest.raises(errors.UnauthorizedError),
    ):
        revoked.get_state(sent.id)

    # Forged: unsigned (alg none), signed with another key, expired.
    claims = jwt.decode(pair.access_token, options={"verify_signature": False})
    forged = [
        jwt.encode({**claims, "scopes": ["all:any"]}, None, algorithm="none"),
        jwt.encode({**claims, "scopes": ["all:any"]}, "guessed-key-of-32-bytes-or-more!!", algorithm="HS256"),
    ]
    with library_client(web_server, *login) as api:
        short = api.generate_token(domain.TokenRequest(scopes=["messages:read"], ttl=1))
    time.sleep(2.1)
    for token in [*forged, short.access_token]:
        answer = requests.get(f"{base}/messages/{sent.id}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == 401 and set(answer.json()) == {"message"}, token
    # Another account's token sees nothing of this one's.
    other = smsgate_login_issue(account=Account.objects.create(name="tenant-c"), name="c")
    with library_client(web_server, other.credential.login, other.password) as theirs:
        their_pair = theirs.generate_token(domain.TokenRequest(scopes=["messages:read"]))
    with client.APIClient(None, their_pair.access_token, base_url=base) as theirs, pytest.raises(errors.NotFoundError):
        theirs.get_state(sent.id)


JS_DIR = Path(__file__).resolve().parents[1] / "js"


def test_the_npm_client_sends_and_reads_state(web_server, login):
    """SMS Gate's npm client 3.0.0 (tests/js, installed by `make install-dev`): it posts to the
    legacy /message with the legacy "message" field, and reads /message/{id}."""
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "android-sms-gateway").is_dir():
        missing_tool("no node or no tests/js/node_modules: apt-get install nodejs npm, then make install-dev")
    done = subprocess.run(
        [node, str(JS_DIR / "smsgate_client.mjs"), f"{web_server.url}/api/3rdparty/v1", *login, OOREDOO_NUMBER],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["sent"]["state"] == "Pending" and result["sent"]["recipients"] == [
        {"phoneNumber": OOREDOO_NUMBER, "state": "Pending"}
    ]
    assert result["state"]["id"] == result["sent"]["id"]
    assert Message.objects.get(group_id=result["sent"]["id"]).body == "from the npm client"
    assert result["devices"] == [] and result["health"]["status"] in ("pass", "warn")
    assert result["wrongPassword"] == 401


def test_an_app_phone_is_given_a_login_that_ends_with_its_device(web_server):
    """As SMS Gate's server does, the app's registration reply holds a login and password for
    the client API (the app shows them), acting for the phone's account; a roll ends them."""
    created = gateway_create(name="app-with-login", kind=GatewayKind.APP)
    app = FakeApp(http_transport(web_server.url))
    registered = app.register(created.raw_token)
    assert registered.status == 201 and registered.body["password"]
    login, password = registered.body["login"], registered.body["password"]
    with library_client(web_server, login, password) as api:
        assert [d.name for d in api.list_devices()] == ["app-with-login"]
    gateway_roll_token(gateway=Gateway.objects.get(pk=created.gateway.pk))
    with library_client(web_server, login, password) as api, pytest.raises(errors.UnauthorizedError):
        api.list_devices()


def test_a_device_is_removed_through_the_library_and_only_the_accounts_own(web_server, login):
    mine = gateway_create(name="agent-phone").gateway
    theirs = gateway_create(name="their-phone", account=Account.objects.create(name="tenant-d")).gateway
    with library_client(web_server, *login) as api:
        [device] = api.list_devices()
        assert device.id == f"agent-{mine.pk}"
        with pytest.raises(requests.HTTPError) as refused:  # 4.3.3's delete raises requests' own error
            api.remove_device(f"agent-{theirs.pk}")
        assert refused.value.response.status_code == 404
        api.remove_device(device.id)
        assert api.list_devices() == []
    assert Gateway.objects.get(pk=mine.pk).revoked_at is not None
    assert Gateway.objects.get(pk=theirs.pk).revoked_at is None


def smsgate_signature_valid(headers: dict[str, str], body: bytes, key: str) -> bool:
    """A receiver's check, written from SMS Gate's docs (smsgate-3rdparty-api.md 5.5): hex
    HMAC-SHA256, keyed by the signing key, of the raw body followed by X-Timestamp."""
    import hmac

    timestamp = headers["x-timestamp"]
    if abs(time.time() - int(timestamp)) > 300:
        return False
    expected = hmac.new(key.encode(), body + timestamp.encode(), "sha256").hexdigest()
    return hmac.compare_digest(expected, headers["x-signature"])


def test_webhooks_in_smsgates_shape_are_registered_and_delivered_signed(web_server, login, settings):
    from messaging.lifecycle import message_claim, message_queue
    from tests.webhooks.test_webhooks import Receiver
    from webhooks.services import webhook_deliver, webhook_due

    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # this process delivers, to a loopback receiver
    receiver = Receiver()
    key = "a-signing-key-the-user-chose"
    try:
        with library_client(web_server, *login) as api:
            api.patch_settings(domain.DeviceSettings(webhooks=domain.SettingsWebhooks(signing_key=key, retry_count=5)))
            stored = api.get_settings()
            assert stored.webhooks.retry_count == 5 and stored.webhooks.signing_key is None  # written, never read back
            hook = api.create_webhook(domain.Webhook(id=None, url=receiver.url, event=enums.WebhookEvent.SMS_SENT))
            assert hook.id and [w.id for w in api.get_webhooks()] == [hook.id]
            with pytest.raises(errors.BadRequestError):  # SMS Gate wants https (here: loopback is allowed)
                api.create_webhook(domain.Webhook(id="x", url="ftp://example.com/", event=enums.WebhookEvent.SMS_SENT))
            sent = api.send(domain.Message(phone_numbers=[OOREDOO_NUMBER], text_message=domain.TextMessage("hooked")))
        # A phone takes and sends it (here: the lifecycle, as an agent's claim does); our
        # outbox delivers the event (here: the test runs the worker's task).
        message = Message.objects.get(group_id=sent.id)
        phone = gateway_create(name="hook-phone").gateway
        message_queue(gateway_id=phone.pk, message_ids=[message.pk])
        assert message_claim(gateway_id=phone.pk, message_id=message.pk)
        for event_id in webhook_due():
            webhook_deliver(event_id=event_id)
        [(headers, body)] = receiver.received
        assert smsgate_signature_valid(headers, body, key)
        envelope = json.loads(body)
        assert set(envelope) == {"id", "webhookId", "event", "deviceId", "payload"}
        assert (envelope["webhookId"], envelope["event"], envelope["deviceId"]) == (
            hook.id,
            "sms:sent",
            f"agent-{phone.pk}",
        )
        assert envelope["payload"]["messageId"] == sent.id and envelope["payload"]["phoneNumber"] == OOREDOO_NUMBER
        with library_client(web_server, *login) as api:
            api.delete_webhook(hook.id)
            assert api.get_webhooks() == []
    finally:
        receiver.server.shutdown()


def test_the_inbox_lists_what_phones_received_and_a_refresh_asks_the_app_again(web_server, login):
    from datetime import UTC, datetime, timedelta

    created = gateway_create(name="inbox-phone", kind=GatewayKind.APP)
    app = FakeApp(http_transport(web_server.url))
    assert app.register(created.raw_token).status == 201
    app.load_settings()
    [hook] = app.webhooks()
    assert app.forward_sms(hook["url"], text="Reply YES", sender="+959441234567", event_id="in-1").status == 204
    assert app.open_events(web_server.ws_url).status_code == 200
    try:
        wait_for(lambda: Gateway.objects.get(pk=created.gateway.pk).is_connected, what="stream open")
        with library_client(web_server, *login) as api:
            [received] = api.list_inbox_messages()
            assert (received.sender, received.content_preview, received.message_type) == (
                "+959441234567",
                "Reply YES",
                "SMS",
            )
            now = datetime.now(UTC)
            api.refresh_inbox(domain.InboxRefreshRequest(since=now - timedelta(days=1), until=now))
        asked = json.loads(app.wait_event("MessagesExportRequested", timeout=10))
        assert asked["messageTypes"] == ["SMS"] and asked["since"] < asked["until"]
        # The app answers by forwarding them again: stored once.
        assert app.forward_sms(hook["url"], text="Reply YES", sender="+959441234567", event_id="in-1").status == 204
        with library_client(web_server, *login) as api:
            assert len(api.list_inbox_messages()) == 1
            with pytest.raises(errors.APIError) as logs:
                api.get_logs()
            assert logs.value.status_code == 501
    finally:
        app.close_events()
        wait_for(lambda: not Gateway.objects.filter(is_connected=True).exists(), what="offline")


def test_an_encrypted_message_reaches_the_app_as_it_came_and_our_agent_refuses_one(web_server, login, agents):
    """The library's own encryptor (SMS Gate's format): number and text stored and passed to
    the app unchanged, never checked as a number; the app decrypts with its passphrase."""
    from android_sms_gateway.encryption import AESEncryptor

    encryptor = AESEncryptor("the users passphrase", iterations=75_000)
    created = gateway_create(name="e2e-app", kind=GatewayKind.APP, rate_per_minute=30)
    app = FakeApp(http_transport(web_server.url))
    assert app.register(created.raw_token).status == 201
    base = f"{web_server.url}/api/3rdparty/v1"
    with client.APIClient(*login, base_url=base, encryptor=encryptor) as api:
        sent = api.send(domain.Message(phone_numbers=[OOREDOO_NUMBER], text_message=domain.TextMessage("secret")))
        assert sent.is_encrypted is False  # the library decrypts the answer for its caller
        assert api.get_state(sent.id).recipients[0].phone_number == OOREDOO_NUMBER
    stored = Message.objects.get(group_id=sent.id)
    assert stored.is_encrypted and stored.to.startswith("$aes-256-cbc/") and "secret" not in stored.body
    [job] = app.fetch()
    assert (
        job["isEncrypted"] is True and job["phoneNumbers"] == [stored.to] and job["textMessage"]["text"] == stored.body
    )
    assert encryptor.decrypt(job["phoneNumbers"][0]) == OOREDOO_NUMBER
    assert encryptor.decrypt(job["textMessage"]["text"]) == "secret"
    # Our agent has no passphrase: it refuses one, and says why (the radio is never used).
    gateway_revoke(gateway=Gateway.objects.get(pk=created.gateway.pk))
    phone = gateway_create(name="e2e-agent")
    agent = agents("e2e-agent", phone.raw_token, [web_server.ws_url]).start()
    wait_for(lambda: Gateway.objects.get(pk=phone.gateway.pk).is_online, what="the agent online")
    with client.APIClient(*login, base_url=base, encryptor=encryptor) as api:
        refused = api.send(domain.Message(phone_numbers=[OOREDOO_NUMBER], text_message=domain.TextMessage("no")))
        wait_for(lambda: api.get_state(refused.id).state.value == "Failed", timeout=30, what="refused by the agent")
        [recipient] = api.get_state(refused.id).recipients
    assert recipient.error.startswith(ENCRYPTED_REFUSAL)
    assert agent.sent() == []
