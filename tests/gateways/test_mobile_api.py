"""The SMS Gateway for Android app's API (/api/mobile/v1), driven by a fake app written from the
contract, in-process. The event stream is tested in test_app_events.py and, over real HTTP, in
tests/live/test_app_phones.py."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import SmsGateLogin
from accounts.selectors import smsgate_login_check
from core.crypto import keyed_hash
from gateways import dispatch
from gateways.dispatch import dispatch_release, dispatch_release_ack_timeouts
from gateways.mobile import app_signing_key
from gateways.models import Gateway, GatewayKind
from gateways.selectors import gateway_list_online
from gateways.services import gateway_create, gateway_revoke, gateway_roll_token, gateway_set_enabled
from messaging.jobs import Job
from messaging.lifecycle import message_cancel, message_create, message_expire_overdue
from messaging.models import CANCELLED_ERROR, InboundSms, Message, MessagePriority, MessageStatus
from tests.conftest import message_send_now
from tests.fake_app import FakeApp, django_transport

OOREDOO_NUMBER = "+959971234567"
APP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")  # three fractional digits, never six

pytestmark = pytest.mark.django_db


@pytest.fixture
def app_gateway():
    return gateway_create(name="app-phone", kind=GatewayKind.APP, rate_per_minute=10)


@pytest.fixture
def fake_app():
    def make(**options) -> FakeApp:
        return FakeApp(django_transport(Client()), **options)

    return make


@pytest.fixture
def app(app_gateway, fake_app) -> FakeApp:
    phone = fake_app()
    assert phone.register(app_gateway.raw_token).status == 201
    return phone


def _send(account, to: str = OOREDOO_NUMBER, text: str = "Hello", **kwargs) -> Message:
    return message_send_now(account=account, to=to, text=text, **kwargs)


# --- Registration -----------------------------------------------------------------------------


def test_registering_binds_the_device_and_keeps_only_a_hash_of_its_token(app_gateway, fake_app):
    phone = fake_app()
    answer = phone.register(app_gateway.raw_token)
    assert answer.status == 201
    assert answer.content_type == "application/json"
    assert set(answer.body) == {"id", "token", "login", "password"}
    gateway = Gateway.objects.get(pk=app_gateway.gateway.pk)
    # The client API login the app shows, for the phone's account, its password kept hashed.
    assert smsgate_login_check(login=answer.body["login"], password=answer.body["password"]) == gateway.smsgate_login
    assert gateway.smsgate_login.account_id == gateway.account_id
    assert answer.body["password"] not in str(SmsGateLogin.objects.values().get())
    assert gateway.device_id == answer.body["id"]
    assert answer.body["token"].startswith("gwd_live_")
    assert gateway.device_token_hash == keyed_hash("gateway_device_token", answer.body["token"])
    assert answer.body["token"] not in str(Gateway.objects.filter(pk=gateway.pk).values().get())
    assert gateway.sims == [{"slot": 0, "carrier": "***edoo", "number": "*******6789"}]
    assert gateway.device_model == "samsung/a52q"
    assert gateway.app_version == "1.68.0"
    assert gateway.events.filter(event="registered").exists()


@pytest.mark.parametrize("token", ["", "gw_live_wrong", "gw_live_" + "a" * 40, "api_live_" + "b" * 40])
def test_registering_with_a_wrong_token_is_401(app_gateway, fake_app, token):
    answer = fake_app().register(token)
    assert answer.status == 401
    assert answer.body["code"] == "invalid_device_token"


def test_an_agent_gateways_token_does_not_register_an_app(fake_app):
    agent = gateway_create(name="agent-phone")
    assert fake_app().register(agent.raw_token).status == 401


@pytest.mark.parametrize(
    "body",
    [
        {"simCards": []},
        {"name": "", "simCards": []},
        {"name": "x", "simCards": "two"},
        {"name": "x", "simCards": [{"slotIndex": "0"}]},
        {"name": "x", "simCards": [{}] * 9},
        [1, 2],
    ],
    ids=["no name", "empty name", "sims not a list", "slot not a number", "too many sims", "array"],
)
def test_a_registration_the_server_cannot_use_is_400(app_gateway, fake_app, body):
    answer = fake_app().call("POST", "/device", body, token=app_gateway.raw_token)
    assert answer.status == 400
    assert "error" in answer.body


def test_malformed_json_is_a_json_400(app):
    answer = app.call("PATCH", "/message", raw=b'[{"id": ')
    assert answer.status == 400
    assert answer.body["code"] == "malformed_json"


def test_a_registration_token_pairs_one_device_and_another_needs_a_roll(app_gateway, app, fake_app):
    """Whoever saw the pairing page could register later and take the phone's jobs."""
    intruder = fake_app()
    answer = intruder.register(app_gateway.raw_token)
    assert (answer.status, answer.body["code"]) == (409, "registration_token_spent")
    assert app.call("GET", "/message").status == 200  # the paired device keeps working

    rolled = gateway_roll_token(gateway=Gateway.objects.get(pk=app_gateway.gateway.pk))
    reinstalled = fake_app()
    assert reinstalled.register(rolled.raw_token).status == 201
    assert app.call("GET", "/message").status == 401  # the earlier device's token is gone
    assert reinstalled.call("GET", "/message").status == 200


def test_patch_device_on_every_start_updates_sims(app):
    app.sims = [{"slotIndex": 1, "simNumber": 2, "carrierName": "**PT"}]
    assert app.start().status == 204
    assert Gateway.objects.get(device_id=app.device_id).sims == [{"slot": 1, "carrier": "**PT"}]


def test_patch_device_with_another_devices_id_is_403(app):
    app.device_id = "someone-else"
    assert app.start().status == 403


def test_get_device_answers_the_external_ip(app):
    answer = app.call("GET", "/device")
    assert answer.status == 200
    assert answer.body["externalIp"] == "127.0.0.1"


ENDPOINTS = [
    ("PATCH", "/device"),
    ("GET", "/message"),
    ("PATCH", "/message"),
    ("GET", "/settings"),
    ("GET", "/webhooks"),
    ("PATCH", "/user/password"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("token", ["", "gwd_live_" + "c" * 40, "garbage"])
def test_every_device_endpoint_refuses_a_missing_or_wrong_token_with_401(app, method, path, token):
    answer = app.call(method, path, [] if method == "PATCH" else None, token=token or "")
    if not token:
        answer = app.transport(method, "/api/mobile/v1" + path, b"[]", {"Content-Type": "application/json"})
    assert answer.status == 401
    assert answer.body["error"]


def test_user_code_and_password_are_not_used(app):
    assert app.call("GET", "/user/code", token="").status == 501
    answer = app.call("PATCH", "/user/password", {"currentPassword": "a", "newPassword": "b"})
    assert answer.status == 501
    assert answer.body["code"] == "not_implemented"


# --- Jobs ---------------------------------------------------------------------------------------


def test_a_fetched_job_has_the_shape_the_app_reads(app, account):
    message = _send(account)
    [item] = app.fetch()
    assert set(item) == {
        "id",
        "textMessage",
        "phoneNumbers",
        "withDeliveryReport",
        "isEncrypted",
        "validUntil",
        "state",
        "createdAt",
        "simNumber",
    }
    assert item["id"] == message.pk
    assert item["textMessage"] == {"text": "Hello"}
    assert item["phoneNumbers"] == [OOREDOO_NUMBER]
    assert item["state"] == "Pending"
    assert item["simNumber"] == 1  # its SIM on the recipient's carrier ("***edoo": Ooredoo), numbered from 1
    assert APP_TIME.match(item["validUntil"]) and APP_TIME.match(item["createdAt"])
    assert "priority" not in item


def test_the_fetch_is_the_hand_over(app, account):
    message = _send(account)
    app.fetch()
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert message.handed_over_at is not None
    assert list(message.events.values_list("event", flat=True)) == ["handed_over"]
    # Never taken back for another phone: neither a disconnect nor the ack timeout.
    gateway_id = message.gateway_id
    assert dispatch_release(gateway_id=gateway_id, reason="disconnected") == []
    Message.objects.filter(pk=message.pk).update(pushed_at=timezone.now() - timedelta(hours=1))
    assert dispatch_release_ack_timeouts() == 0
    message.refresh_from_db()
    assert message.gateway_id == gateway_id and message.status == MessageStatus.QUEUED


def test_an_unacknowledged_job_is_fetched_again_until_the_app_reports_it(app, account):
    message = _send(account)
    assert [item["id"] for item in app.fetch()] == [message.pk]
    # The answer may have been lost: the same job again (the app sends it once either way).
    again = app.fetch()
    assert [item["id"] for item in again] == [message.pk]
    assert again[0]["textMessage"] == {"text": "Hello"}
    assert app.report(message.pk, "Processed").status == 204
    assert app.fetch() == []


def test_states_map_onto_ours_and_never_go_back(app, account):
    message = _send(account)
    app.fetch()
    app.report(message.pk, "Processed")
    message.refresh_from_db()
    assert (message.status, message.phone_state) == (MessageStatus.QUEUED, "Processed")
    app.report(message.pk, "Sent")
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.sent_at is not None
    app.report(message.pk, "Delivered")
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.delivered_at is not None
    # Repeats and late reports change nothing.
    for state in ("Sent", "Processed", "Pending", "Delivered", "Failed"):
        assert app.report(message.pk, state).status == 204
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    events = list(message.events.values_list("event", flat=True))
    assert events == ["handed_over", "processed", "sent", "delivered"]


def test_the_app_times_are_read_with_their_offset(app, account):
    message = _send(account)
    app.fetch()
    answer = app.call(
        "PATCH",
        "/message",
        [{"id": message.pk, "state": "Sent", "recipients": [], "states": {"Sent": "2026-11-25T14:30:00.123+7:00"}}],
    )
    assert answer.status == 204
    message.refresh_from_db()
    assert message.sent_at.isoformat() == "2026-11-25T07:30:00.123000+00:00"


def test_delivered_without_sent_still_ends_delivered(app, account):
    message = _send(account)
    app.fetch()
    app.report(message.pk, "Delivered")
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.sent_at is not None


def test_failed_keeps_the_apps_error(app, account):
    message = _send(account)
    app.fetch()
    app.report(message.pk, "Failed", error="RESULT_ERROR_GENERIC_FAILURE")
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.error_message == "RESULT_ERROR_GENERIC_FAILURE"


def test_unknown_ids_and_other_phones_messages_are_ignored(app, account, fake_app):
    other = gateway_create(name="other-app", kind=GatewayKind.APP)
    theirs = _send(account, gateway_id=other.gateway.pk)
    assert app.report("msg_" + "0" * 32, "Sent").status == 204
    assert app.report("not-even-an-id", "Delivered").status == 204
    assert app.report(theirs.pk, "Delivered").status == 204
    theirs.refresh_from_db()
    assert theirs.status == MessageStatus.QUEUED


@pytest.mark.parametrize(
    "body",
    [
        {"id": "x"},
        [{"id": "x", "state": "Exploded"}],
        [{"id": 1, "state": "Sent"}],
        ["Sent"],
        [{"id": "x", "state": "Sent"}] * 101,
    ],
    ids=["not an array", "unknown state", "id not a string", "item not an object", "huge array"],
)
def test_a_patch_the_server_cannot_use_is_400(app, body):
    answer = app.call("PATCH", "/message", body)
    assert answer.status in (400, 413)
    assert answer.body["error"]


def test_the_pace_holds_jobs_back_and_otps_go_first(app_gateway, fake_app, account):
    Gateway.objects.filter(pk=app_gateway.gateway.pk).update(rate_per_minute=2)
    phone = fake_app()
    phone.register(app_gateway.raw_token)
    first, _second, _third = (_send(account, text=f"Hello {n}") for n in range(3))
    otp = _send(account, text="Your code is 123456", display_text="Your code is ******", priority=MessagePriority.OTP)
    items = phone.fetch()
    assert [item["id"] for item in items] == [otp.pk, first.pk]
    assert items[0]["priority"] == 100 and items[0]["textMessage"] == {"text": "Your code is 123456"}
    for item in items:
        phone.report(item["id"], "Processed")
    assert phone.fetch() == []  # two per minute


def test_lifo_order_reverses_the_answer(app, account):
    first, second = _send(account, text="one"), _send(account, text="two")
    assert [item["id"] for item in app.fetch("lifo")] == [second.pk, first.pk]
    assert app.call("GET", "/message?order=random").status == 400


# --- Cancellation ----------------------------------------------------------------------------


def test_cancelling_a_job_the_app_holds_asks_the_app(app, account):
    message = _send(account)
    app.fetch()
    app.report(message.pk, "Processed")
    assert message_cancel(message_id=message.pk) is False  # asked, not done
    [item] = app.fetch()
    assert (item["id"], item["state"]) == (message.pk, "Cancelling")
    app.report(message.pk, "Cancelled")
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.error_message == CANCELLED_ERROR
    assert app.fetch() == []


def test_an_app_too_old_for_cancelling_is_not_told_to_cancel(app_gateway, fake_app, account):
    old = fake_app(version="1.60.2")
    old.register(app_gateway.raw_token)
    message = _send(account)
    old.fetch()
    old.report(message.pk, "Processed")
    message_cancel(message_id=message.pk)
    assert old.fetch() == []  # it would read Cancelling as Pending, and send it


def test_a_cancel_the_app_was_too_late_for_ends_sent(app, account):
    message = _send(account)
    app.fetch()
    message_cancel(message_id=message.pk)
    app.report(message.pk, "Sent")
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_a_job_cancelled_before_the_fetch_is_never_fetched(app, account):
    message = _send(account)
    assert message_cancel(message_id=message.pk) is True
    assert app.fetch() == []


def test_a_fetched_job_expires_only_if_the_phone_never_reports(app, account):
    message = _send(account)
    app.fetch()
    Message.objects.filter(pk=message.pk).update(expires_at=timezone.now() - timedelta(minutes=5))
    assert message_expire_overdue() == []  # the app fails it itself past its validUntil
    Message.objects.filter(pk=message.pk).update(expires_at=timezone.now() - timedelta(hours=25))
    assert [mid for mid, _ in message_expire_overdue()] == [message.pk]
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.error_message == "Expired: the phone never reported it"


# --- Roll, revoke, presence ------------------------------------------------------------------


def test_rolling_the_gateway_locks_the_device_out(app_gateway, app):
    gateway_roll_token(gateway=Gateway.objects.get(pk=app_gateway.gateway.pk))
    assert app.call("GET", "/message").status == 401
    assert app.start().status == 401  # the app registers again...
    assert app.register(app_gateway.raw_token).status == 401  # ...and the old token no longer does it


def test_revoking_the_gateway_locks_the_device_out(app_gateway, app):
    gateway_revoke(gateway=Gateway.objects.get(pk=app_gateway.gateway.pk))
    assert app.call("GET", "/settings").status == 401


def test_an_app_phone_that_polls_is_online_and_gets_messages(app_gateway, fake_app, account):
    Gateway.objects.filter(pk=app_gateway.gateway.pk).update(is_connected=False, last_seen_at=None)
    waiting = _send(account)
    assert waiting.status == MessageStatus.PENDING  # no phone online
    phone = fake_app()
    phone.register(app_gateway.raw_token)
    assert [item["id"] for item in phone.fetch()] == [waiting.pk]  # pending work came to it
    assert app_gateway.gateway.pk in set(gateway_list_online().values_list("pk", flat=True))
    later = _send(account)
    assert later.gateway_id == app_gateway.gateway.pk


def test_an_agent_token_and_an_app_token_do_not_mix(app):
    agent = gateway_create(name="agent")
    assert app.call("GET", "/message", token=agent.raw_token).status == 401


# --- Settings, webhooks and inbound SMS --------------------------------------------------------


def test_settings_give_the_apps_pace_and_its_signing_key(app_gateway, app):
    settings = app.load_settings()
    assert settings["messages"] == {"limit_period": "PerMinute", "limit_value": 10, "processing_order": "FIFO"}
    key = settings["webhooks"]["signing_key"]
    assert key == app_signing_key(Gateway.objects.get(pk=app_gateway.gateway.pk))
    assert key not in str(Gateway.objects.filter(pk=app_gateway.gateway.pk).values().get())  # derived, not stored


def test_webhooks_list_our_receiving_endpoint(app):
    [hook] = app.webhooks()
    assert hook == {
        "id": "mysmsapio-sms-received",
        "deviceId": app.device_id,
        "url": f"http://testserver/api/mobile/v1/inbound/{app.device_id}",
        "event": "sms:received",
    }


def test_a_signed_inbound_sms_is_stored_once_and_shows_in_the_inbox(app, api_client):
    app.load_settings()
    [hook] = app.webhooks()
    assert app.forward_sms(hook["url"], text="STOP", sender="+959441234567", event_id="ev1").status == 204
    assert app.forward_sms(hook["url"], text="STOP", sender="+959441234567", event_id="ev1").status == 204
    [sms] = InboundSms.objects.all()
    assert (sms.sender, sms.body, sms.sim_slot, sms.device_sms_id) == ("+959441234567", "STOP", 0, "ev1")
    assert sms.received_at.isoformat() == "2026-11-25T07:30:00.123000+00:00"
    inbox = api_client.get("/api/v1/sms/inbox").json()
    assert [m["text"] for m in inbox["messages"]] == ["STOP"]


def test_a_bad_signature_or_an_old_timestamp_is_401(app):
    app.load_settings()
    [hook] = app.webhooks()
    assert app.forward_sms(hook["url"], text="x", sender="+1", key="not-the-key").status == 401
    assert app.forward_sms(hook["url"], text="x", sender="+1", timestamp=int(time.time()) - 600).status == 401
    unknown = hook["url"].replace(app.device_id, "nobody")
    assert app.forward_sms(unknown, text="x", sender="+1").status == 401
    assert not InboundSms.objects.exists()


header_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40) | st.from_regex(r"\A[0-9]{13,400}\Z")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(timestamp=header_text | st.sampled_from(["²", "٣٤", "1" * 400]), signature=header_text | st.just("é" * 64))
def test_any_timestamp_and_signature_headers_are_a_json_401_never_a_500(app, timestamp, signature):
    """The device id in the URL is no secret: these headers are anyone's to send."""
    [hook] = app.webhooks()
    response = Client().post(
        hook["url"].removeprefix("http://testserver"),
        b'{"event": "sms:received"}',
        content_type="application/json",
        headers={"X-Timestamp": timestamp, "X-Signature": signature},
    )
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "invalid_signature"


def test_a_disabled_phones_inbound_sms_is_refused(app_gateway, app):
    app.load_settings()
    [hook] = app.webhooks()
    gateway_set_enabled(gateway_ids=[app_gateway.gateway.pk], enabled=False)
    assert app.forward_sms(hook["url"], text="x", sender="+1").status == 403
    assert not InboundSms.objects.exists()


def test_other_app_events_are_acknowledged_and_dropped(app):
    app.load_settings()
    [hook] = app.webhooks()
    for event in ("system:ping", "sms:sent", "app:started"):
        assert app.forward_sms(hook["url"], text="x", sender="+1", event=event).status == 204
    assert not InboundSms.objects.exists()


def test_the_sim_a_client_chose_wins_over_the_carriers(app, app_gateway, account):
    """SMS Gate's ``simNumber`` (from 1): the app is told that SIM, whatever SIM is on the
    recipient's carrier; without it, the carrier's SIM as before."""
    chosen = message_create(
        account=account, to=OOREDOO_NUMBER, text="from SIM 2", gateway_id=app_gateway.gateway.pk, sim_number=2
    )
    carriers = message_create(account=account, to=OOREDOO_NUMBER, text="any", gateway_id=app_gateway.gateway.pk)
    by_id = {item["id"]: item for item in app.fetch()}
    assert by_id[chosen.pk]["simNumber"] == 2
    assert by_id[carriers.pk]["simNumber"] == 1  # the app's Ooredoo SIM is in slot 0
    # And through a wake, as the agent's frame reads it.
    job = Job.from_wake(Job.of(Message.objects.get(pk=chosen.pk)).to_wake())
    assert job.sim_slot([{"slot": 0, "carrier": "Ooredoo"}], dispatch.sim_slot_for) == 1
