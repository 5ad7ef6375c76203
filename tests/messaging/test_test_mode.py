"""Test mode (docs/test-mode.md): ``api_test_`` keys work on every endpoint, their messages never
reach a phone and move on by themselves, magic numbers give the other outcomes, their OTP code
is 000000, and test data never mixes with live data."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.selectors import api_key_get_by_raw
from adminpanel.selectors import dashboard_get, ops_stats
from core.logs import redact
from gateways.dispatch import dispatch_assign_pending, dispatch_stale_gateways, dispatch_take_jobs
from messaging.lifecycle import message_claim, message_expire_overdue, message_simulate_due
from messaging.models import InboundSms, Message
from messaging.selectors import message_count_by_status
from messaging.tasks import simulate_test_messages
from messaging.testmode import CARRIER_ERROR_TEXT, SIMULATED
from otp.models import Otp, PhoneVerification
from tests.conftest import GUIDE_NUMBER
from webhooks.models import WebhookEvent
from webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db

CARRIER_ERROR_NUMBER, NO_REPORT_NUMBER, NEVER_SENT_NUMBER = "+15005550001", "+15005550002", "+15005550003"


@pytest.fixture
def test_key(make_api_key):
    return make_api_key(name="CI", test=True)


@pytest.fixture
def test_client(test_key, client_for):
    return client_for(test_key.raw_key)


def send(client, to=GUIDE_NUMBER, text="hello", **options) -> dict:
    answer = client.post("/api/v1/sms/send", {"to": to, "message": text, **options}, format="json")
    assert answer.status_code == 202, answer.content
    return answer.json()


def status_of(client, message_id: str) -> dict:
    return client.get(f"/api/v1/sms/status/{message_id}").json()


def steps_later(message_id: str, steps: float) -> object:
    """A moment ``steps`` simulator steps after the message was queued (or sent)."""
    message = Message.objects.get(pk=message_id)
    base = message.sent_at or message.queued_at or message.created_at
    return base + timedelta(seconds=steps)


def test_a_test_key_is_its_own_kind_of_key(test_key, api_key):
    assert test_key.raw_key.startswith("api_test_") and len(test_key.raw_key) == len(api_key.raw_key)
    assert test_key.api_key.display_prefix.startswith("api_test_")
    assert api_key_get_by_raw(raw_key=test_key.raw_key) == test_key.api_key
    # The same secret under the other mode's prefix is no key at all.
    assert api_key_get_by_raw(raw_key=test_key.raw_key.replace("api_test_", "api_live_")) is None
    assert api_key_get_by_raw(raw_key=api_key.raw_key.replace("api_live_", "api_test_")) is None
    assert redact(f"key {test_key.raw_key}") == "key api_test_[redacted]"


def test_create_api_key_test_prints_a_test_key_alone_on_the_last_line(db):
    out = StringIO()
    call_command("create_api_key", "--name", "CI", "--test", stdout=out)
    raw_key = out.getvalue().strip().splitlines()[-1]
    assert raw_key.startswith("api_test_")
    assert "test-mode" in out.getvalue()
    assert api_key_get_by_raw(raw_key=raw_key).is_test


def test_a_test_message_never_reaches_an_online_phone_and_is_delivered_by_itself(test_client, online_gateway):
    sent = send(test_client)
    assert sent["status"] == "queued"
    message_id = sent["message_id"]
    message = Message.objects.get(pk=message_id)
    assert message.is_test and message.gateway_id is None
    # No part of dispatch gives it to the phone, or takes it back from one.
    assert dispatch_assign_pending() == {}
    assert dispatch_take_jobs(gateway_id=online_gateway.pk, token_hash="")[0] == []
    assert dispatch_stale_gateways() == []
    assert message_simulate_due(now=steps_later(message_id, 0.5)) == 0  # not one step yet
    assert status_of(test_client, message_id)["status"] == "queued"
    assert message_simulate_due(now=steps_later(message_id, 1.01)) == 1
    assert status_of(test_client, message_id)["status"] == "sent"
    assert message_simulate_due(now=steps_later(message_id, 1.01)) == 1
    answer = status_of(test_client, message_id)
    assert answer["status"] == "delivered" and answer["sent_at"] and answer["delivered_at"]
    assert answer["error_message"] is None
    events = list(Message.objects.get(pk=message_id).events.values_list("event", "detail", "gateway"))
    assert events == [("sent", SIMULATED, None), ("delivered", SIMULATED, None)]
    assert dispatch_take_jobs(gateway_id=online_gateway.pk, token_hash="")[0] == []


def test_the_periodic_task_moves_every_due_test_message(test_client, settings):
    settings.TEST_MESSAGE_STEP_SECONDS = 0  # every state at once
    ids = [send(test_client, text=f"#{i}")["message_id"] for i in range(3)]
    assert simulate_test_messages.apply().get() == 6  # sent, then delivered
    assert simulate_test_messages.apply().get() == 0
    assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"delivered"}


def test_magic_numbers_fail_stay_sent_or_expire(test_client):
    failing = send(test_client, to=CARRIER_ERROR_NUMBER)["message_id"]
    no_report = send(test_client, to=NO_REPORT_NUMBER)["message_id"]
    never = send(test_client, to=NEVER_SENT_NUMBER, validity=60)["message_id"]
    later = timezone.now() + timedelta(seconds=1.5)
    message_simulate_due(now=later)
    message_simulate_due(now=later + timedelta(seconds=1.5))
    message_simulate_due(now=later + timedelta(seconds=30))
    answer = status_of(test_client, failing)
    assert (answer["status"], answer["error_message"]) == ("failed", CARRIER_ERROR_TEXT)
    assert answer["sent_at"] and answer["failed_at"]
    assert status_of(test_client, no_report)["status"] == "sent"
    assert status_of(test_client, never)["status"] == "queued"
    message_expire_overdue(now=timezone.now() + timedelta(seconds=61))
    answer = status_of(test_client, never)
    assert (answer["status"], answer["error_message"]) == ("failed", "Expired: no gateway available")


def test_a_scheduled_test_message_waits_for_its_time(test_client):
    send_at = timezone.now() + timedelta(minutes=10)
    message_id = send(test_client, send_at=send_at.isoformat())["message_id"]
    assert status_of(test_client, message_id)["status"] == "pending"
    message_simulate_due(now=send_at - timedelta(seconds=1))
    assert status_of(test_client, message_id)["status"] == "pending"
    message_simulate_due(now=send_at)
    assert status_of(test_client, message_id)["status"] == "queued"
    message_simulate_due(now=send_at + timedelta(seconds=1.5))
    assert status_of(test_client, message_id)["status"] == "sent"


def test_a_test_message_can_be_cancelled_before_it_is_sent(test_client):
    message_id = send(test_client)["message_id"]
    answer = test_client.post(f"/api/v1/sms/{message_id}/cancel", format="json")
    assert answer.status_code == 200 and answer.json()["error_message"] == "Cancelled by the client"
    message_simulate_due(now=timezone.now() + timedelta(seconds=5))
    assert status_of(test_client, message_id)["status"] == "failed"


def test_bulk_with_a_test_key_makes_test_messages(test_client, online_gateway):
    body = {"messages": [{"to": GUIDE_NUMBER, "message": "a"}, {"to": NO_REPORT_NUMBER, "message": "b"}]}
    answer = test_client.post("/api/v1/sms/bulk", body, format="json")
    assert answer.status_code == 202 and answer.json()["accepted"] == 2
    assert list(Message.objects.values_list("is_test", "gateway", "status")) == [(True, None, "queued")] * 2


def test_test_and_live_data_never_mix(test_client, api_client, account, make_gateway):
    make_gateway()
    live_id = send(api_client, text="live")["message_id"]
    test_id = send(test_client, text="test")["message_id"]
    InboundSms.objects.create(
        account=account, device_sms_id="1", sender="+959441234567", body="hi", received_at=timezone.now()
    )
    # Each mode's status, list and cancel know only that mode's messages.
    assert test_client.get(f"/api/v1/sms/status/{live_id}").status_code == 404
    assert api_client.get(f"/api/v1/sms/status/{test_id}").status_code == 404
    assert test_client.post(f"/api/v1/sms/{live_id}/cancel", format="json").status_code == 404
    assert api_client.post(f"/api/v1/sms/{test_id}/cancel", format="json").status_code == 404
    assert [m["message_id"] for m in test_client.get("/api/v1/sms").json()["messages"]] == [test_id]
    assert [m["message_id"] for m in api_client.get("/api/v1/sms").json()["messages"]] == [live_id]
    # SMS the phones received are live data.
    assert test_client.get("/api/v1/sms/inbox").json() == {"messages": [], "next_cursor": None}
    assert len(api_client.get("/api/v1/sms/inbox").json()["messages"]) == 1


def test_live_dashboards_and_counts_leave_test_traffic_out(test_client, api_client, online_gateway):
    send(api_client, text="live")
    for i in range(3):
        send(test_client, text=f"test {i}")
    assert test_client.post("/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}, format="json").status_code == 200
    assert message_count_by_status(statuses=["queued"]) == {"queued": 1}
    assert ops_stats()["accepted_last_hour"] == 1
    dashboard = dashboard_get()
    assert dashboard.queued == 1 and dashboard.otp_sent == 0
    assert sum(hour["queued"] for hour in dashboard.hourly) == 1


def test_a_test_otp_sends_no_sms_and_000000_verifies_once(test_client, api_client, make_gateway):
    # No phone online: a live key would get 503; a test key needs none.
    answer = test_client.post("/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["success"] is True
    otp = Otp.objects.get()
    assert otp.is_test and otp.message.is_test and otp.message.gateway_id is None
    assert "000000" not in otp.message.body  # masked, as every OTP text
    verify = {"phone_number": GUIDE_NUMBER, "code": "000000"}
    # A live key does not see the test code: separate rows, separate streaks.
    assert api_client.post("/api/v1/otp/verify", verify, format="json").status_code == 422
    assert test_client.post("/api/v1/otp/verify", {**verify, "code": "123456"}, format="json").status_code == 422
    assert test_client.post("/api/v1/otp/verify", verify, format="json").status_code == 200
    assert test_client.post("/api/v1/otp/verify", verify, format="json").status_code == 422  # once
    assert list(PhoneVerification.objects.values_list("is_test", flat=True)) == [True]
    # A live code for the same number is untouched by the test one, and vice versa.
    make_gateway()
    assert api_client.post("/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}, format="json").status_code == 200
    assert Otp.objects.filter(is_test=False, status="active").count() == 1
    assert test_client.post("/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}, format="json").status_code == 200
    assert Otp.objects.filter(is_test=False, status="active").count() == 1


def test_test_otps_do_not_use_the_accounts_live_quota(test_client, api_client, online_gateway, settings):
    settings.OTP_MAX_SENDS_PER_ACCOUNT_PER_HOUR = 1
    assert test_client.post("/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}, format="json").status_code == 200
    assert api_client.post("/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}, format="json").status_code == 200
    assert test_client.post("/api/v1/otp/send", {"phone_number": "+959441234567"}, format="json").status_code == 429


def test_test_events_reach_only_endpoints_that_ask_and_as_test_types(
    test_client, api_client, account, online_gateway, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    events = ["message.sent", "message.delivered"]
    live = webhook_endpoint_create(account_id=account.pk, url="http://127.0.0.1:9/live", events=events).endpoint
    tests = webhook_endpoint_create(
        account_id=account.pk, url="http://127.0.0.1:9/staging", events=events, receive_test_events=True
    ).endpoint
    test_id = send(test_client)["message_id"]
    later = timezone.now() + timedelta(seconds=1.5)
    message_simulate_due(now=later)
    message_simulate_due(now=later + timedelta(seconds=1.5))
    live_id = send(api_client)["message_id"]
    message_claim(gateway_id=online_gateway.pk, message_id=live_id)

    def told(endpoint):
        rows = WebhookEvent.objects.filter(endpoint=endpoint).order_by("created_at")
        return [
            (row.event, row.payload["type"], row.payload["test"], row.payload["data"]["message_id"]) for row in rows
        ]

    assert told(live) == [("message.sent", "message.sent", False, live_id)]
    assert told(tests) == [
        ("test.message.sent", "test.message.sent", True, test_id),
        ("test.message.delivered", "test.message.delivered", True, test_id),
        ("message.sent", "message.sent", False, live_id),
    ]


def test_a_live_endpoint_hears_nothing_of_a_test_keys_otp_verification(test_client, account, settings):
    """A test key's code is always 000000: a receiver trusting otp.verified must never get one."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    webhook_endpoint_create(account_id=account.pk, url="http://127.0.0.1:9/live", events=["otp.verified"])
    assert test_client.post("/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}, format="json").status_code == 200
    verified = test_client.post("/api/v1/otp/verify", {"phone_number": GUIDE_NUMBER, "code": "000000"}, format="json")
    assert verified.status_code == 200
    assert not WebhookEvent.objects.exists()


def test_with_no_test_message_moving_the_simulator_reads_once(api_client, online_gateway, django_assert_num_queries):
    send(api_client, text="live traffic is not its business")
    with django_assert_num_queries(1):
        assert message_simulate_due() == 0
