from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Q
from django.utils import timezone

from accounts.models import SmsGateToken
from accounts.services import smsgate_login_issue, smsgate_tokens_issue
from adminpanel.models import ApiRequest
from core.durations import parse_duration, parse_since
from gateways.models import GatewayEvent
from messaging.lifecycle import message_create
from messaging.models import InboundSms, Message, MessageEvent, MessagePriority, MessageStatus
from otp.models import Otp, OtpStatus
from tests.conftest import GUIDE_NUMBER

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _message(account, *, status: str, age: timedelta = timedelta(0), otp: bool = False, **fields) -> Message:
    message = message_create(
        account=account,
        to=GUIDE_NUMBER,
        text="hi",
        priority=MessagePriority.OTP if otp else MessagePriority.NORMAL,
    )
    Message.objects.filter(pk=message.pk).update(status=status, created_at=timezone.now() - age, **fields)
    return message


@pytest.mark.parametrize(
    ("text", "seconds"), [("90d", 90 * 86400), ("12h", 43200), ("30m", 1800), ("45s", 45), ("2w", 14 * 86400)]
)
def test_durations_read_as_operators_write_them(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "90", "d90", "1.5h", "-3d", "90 days"])
def test_anything_else_is_not_a_duration(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_since_takes_a_duration_ago_or_a_date_time():
    now = timezone.now()
    assert parse_since("2h", now=now) == now - timedelta(hours=2)
    assert parse_since("2026-11-01T10:00:00").isoformat() == "2026-11-01T10:00:00+00:00"
    with pytest.raises(ValueError):
        parse_since("yesterday")


def test_stats_reports_queue_phones_and_throughput(account, make_gateway):
    phone = make_gateway()
    make_gateway(online=False)
    _message(account, status=MessageStatus.PENDING)
    _message(account, status=MessageStatus.SENT, sent_at=timezone.now())
    _message(
        account,
        status=MessageStatus.DELIVERED,
        sent_at=timezone.now() - timedelta(minutes=5),
        delivered_at=timezone.now(),
        gateway=phone,
    )
    _message(account, status=MessageStatus.FAILED, failed_at=timezone.now() - timedelta(hours=2))

    stats = json.loads(run("stats", "--json"))

    assert stats == {
        "pending": 1,
        "queued": 0,
        "phones_online": 1,
        "phones_total": 2,
        "accepted_last_hour": 4,
        "sent_last_minute": 1,
        "sent_last_hour": 2,
        "delivered_last_hour": 1,
        "failed_last_hour": 0,
    }
    assert "phones_online" in run("stats")


def test_retry_failed_resends_recent_failures_but_not_otps_or_older_ones(account, online_gateway):
    recent = _message(account, status=MessageStatus.FAILED, failed_at=timezone.now() - timedelta(minutes=30))
    old = _message(account, status=MessageStatus.FAILED, failed_at=timezone.now() - timedelta(hours=3))
    otp = _message(account, status=MessageStatus.FAILED, failed_at=timezone.now(), otp=True)

    output = run("retry_failed", "--since", "1h")

    assert "retried 1 failed message(s)" in output
    assert Message.objects.get(pk=recent.pk).status == MessageStatus.QUEUED  # handed to the online phone
    assert Message.objects.get(pk=old.pk).status == MessageStatus.FAILED
    assert Message.objects.get(pk=otp.pk).status == MessageStatus.FAILED
    assert "retried 0" in run("retry_failed", "--since", "1h")  # running it again is harmless


def test_purge_deletes_old_finished_rows_and_keeps_live_ones(account, online_gateway):
    old = timedelta(days=100)
    delivered = _message(account, status=MessageStatus.DELIVERED, age=old)
    pending = _message(account, status=MessageStatus.PENDING, age=old)
    fresh = _message(account, status=MessageStatus.DELIVERED)
    long_ago = timezone.now() - old
    InboundSms.objects.create(
        account=account, gateway=online_gateway, device_sms_id="1", sender="+1", body="x", received_at=long_ago
    )
    Otp.objects.create(
        account=account,
        phone_number=GUIDE_NUMBER,
        code_hash="h",
        status=OtpStatus.VERIFIED,
        expires_at=long_ago,
        created_at=long_ago,
    )
    ApiRequest.objects.create(method="GET", path="/up", status=200, latency_ms=1, created_at=long_ago)
    GatewayEvent.objects.create(gateway=online_gateway, event="connected", created_at=long_ago)
    for event in ("queued", "sent", "delivered"):  # deleted with their message, not counted as messages
        MessageEvent.objects.create(message_id=delivered.pk, event=event, created_at=long_ago)

    output = run("purge", "--older-than", "90d")

    assert output.strip() == (
        "messages: 1, inbound_sms: 1, otps: 1, api_requests: 1, gateway_events: 1, smsgate_tokens: 0 deleted"
    )
    assert set(Message.objects.values_list("pk", flat=True)) == {pending.pk, fresh.pk}
    assert not Message.objects.filter(pk=delivered.pk).exists()
    assert not MessageEvent.objects.filter(message_id=delivered.pk).exists()


def test_purge_deletes_smsgate_tokens_once_the_refresh_token_has_expired_too(account):
    login = smsgate_login_issue(account=account, name="libraries").credential
    long_ago, now = timezone.now() - timedelta(days=100), timezone.now()
    pairs = [smsgate_tokens_issue(credential=login, scopes=["messages:send"]).access for _ in range(3)]
    gone, still_refreshable, live = pairs
    SmsGateToken.objects.filter(Q(pk=gone.pk) | Q(parent=gone)).update(expires_at=long_ago)
    SmsGateToken.objects.filter(pk=still_refreshable.pk).update(expires_at=long_ago)

    assert "smsgate_tokens: 2 deleted" in run("purge", "--older-than", "90d")
    kept = set(SmsGateToken.objects.filter(parent__isnull=True).values_list("pk", flat=True))
    assert kept == {still_refreshable.pk, live.pk}
    assert SmsGateToken.objects.filter(expires_at__gte=now).count() == 3  # two refresh tokens and a live access


def test_purge_refuses_a_vague_age():
    with pytest.raises(CommandError, match="not a duration"):
        run("purge", "--older-than", "ninety days")
