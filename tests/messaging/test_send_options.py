"""Beyond the guide: the optional send_at, validity and priority of sms/send and bulk items."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from gateways.dispatch import dispatch_assign_pending, dispatch_take_jobs
from messaging.lifecycle import message_create, message_expire_overdue
from messaging.models import Message, MessagePriority, MessageStatus

pytestmark = pytest.mark.django_db

TO = "+959441234567"


def send(client, **fields):
    return client.post("/api/v1/sms/send", {"to": TO, "message": "hi", **fields}, format="json")


def test_a_scheduled_message_waits_for_its_time_then_goes_to_a_phone(api_client, online_gateway):
    at = timezone.now() + timedelta(hours=2)
    answer = send(api_client, send_at=at.isoformat(), validity=600)
    assert answer.status_code == 202 and answer.json()["status"] == "pending"  # though a phone is online
    message = Message.objects.get()
    assert message.gateway_id is None and message.send_at == at
    assert message.expires_at == at + timedelta(seconds=600)  # validity counts from send_at
    assert dispatch_assign_pending() == {}  # not yet
    Message.objects.update(send_at=timezone.now() - timedelta(seconds=1))  # its time has come
    assert dispatch_assign_pending() == {online_gateway.pk: 1}
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED


def test_a_send_at_in_the_past_sends_now(api_client, online_gateway):
    answer = send(api_client, send_at=(timezone.now() - timedelta(minutes=5)).isoformat())
    assert answer.json()["status"] == "queued"
    assert Message.objects.get().send_at is None


def test_validity_ends_an_unsent_message_as_expired(api_client):
    before = timezone.now()
    send(api_client, validity=60)  # no phone: pending
    message = Message.objects.get()
    assert before + timedelta(seconds=60) <= message.expires_at <= timezone.now() + timedelta(seconds=60)
    assert [mid for mid, _ in message_expire_overdue(now=message.expires_at + timedelta(seconds=1))] == [message.pk]


def test_high_priority_goes_before_normal_and_otps_before_both(api_client, account, online_gateway):
    normal = message_create(account=account, to=TO, text="normal", gateway_id=online_gateway.pk)
    send(api_client, priority="high")
    high = Message.objects.get(priority=MessagePriority.HIGH)
    otp = message_create(
        account=account, to=TO, text="code", priority=MessagePriority.OTP, gateway_id=online_gateway.pk
    )
    jobs, *_ = dispatch_take_jobs(gateway_id=online_gateway.pk, token_hash="")
    assert [job.message_id for job in jobs] == [otp.pk, high.pk, normal.pk]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"send_at": "tomorrow"}, "invalid_send_at"),
        ({"send_at": "2026-11-25T10:00:00"}, "invalid_send_at"),
        ({"send_at": (timezone.now() + timedelta(days=31)).isoformat()}, "invalid_send_at"),
        ({"send_at": 5}, "invalid_send_at"),
        ({"validity": 59}, "invalid_validity"),
        ({"validity": "600"}, "invalid_validity"),
        ({"validity": True}, "invalid_validity"),
        ({"priority": "urgent"}, "invalid_priority"),
        ({"priority": ["high"]}, "invalid_priority"),
    ],
)
def test_a_bad_option_is_a_json_422(api_client, fields, code):
    answer = send(api_client, **fields)
    assert (answer.status_code, answer.json()["code"]) == (422, code)
    assert not Message.objects.exists()


def test_bulk_items_take_the_same_options(api_client, online_gateway):
    at = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    items = [
        {"to": TO, "message": "later", "send_at": at.isoformat()},
        {"to": TO, "message": "now", "priority": "high"},
        {"to": TO, "message": "bad", "validity": 1},
    ]
    results = api_client.post("/api/v1/sms/bulk", {"messages": items}, format="json").json()["results"]
    assert [r.get("status") or r["code"] for r in results] == ["pending", "queued", "invalid_validity"]
    later = Message.objects.get(pk=results[0]["message_id"])
    assert later.send_at == parse_datetime(at.isoformat())
    assert Message.objects.get(pk=results[1]["message_id"]).priority == MessagePriority.HIGH
