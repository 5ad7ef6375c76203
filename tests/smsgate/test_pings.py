"""``system:ping`` for SMS Gate-style webhooks: our server sends it for each online phone of
the account, at the account's ``ping.interval_seconds``, in SMS Gate's envelope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from smsgate.services import smsgate_settings_write
from smsgate.tasks import smsgate_send_pings
from smsgate.webhooks import smsgate_pings_queue
from webhooks.models import WebhookEvent
from webhooks.services import smsgate_webhook_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def ping_hook(account, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    return smsgate_webhook_register(
        account_id=account.pk, client_id="pings", url="http://127.0.0.1:9/ping", event="system:ping", device_filter=""
    )


def _pings() -> list[dict]:
    return [row.payload for row in WebhookEvent.objects.filter(event="system:ping").order_by("created_at")]


def test_each_online_phone_is_pinged_once_per_interval(account, make_gateway, ping_hook):
    smsgate_settings_write(account_id=account.pk, body={"ping": {"interval_seconds": 60}}, replace=False)
    phone = make_gateway(account=account, battery=80, charging=True)
    make_gateway(account=account, online=False)  # offline: no ping
    now = timezone.now()

    assert smsgate_pings_queue(now=now) == 1
    [ping] = _pings()
    assert ping["event"] == "system:ping" and ping["webhookId"] == "pings"
    assert ping["deviceId"] == f"agent-{phone.pk}"
    health = ping["payload"]["health"]
    assert health["status"] == "pass"
    assert health["checks"]["battery:level"]["observedValue"] == 80

    assert smsgate_pings_queue(now=now + timedelta(seconds=30)) == 0  # within the interval
    phone.last_seen_at = now + timedelta(seconds=61)
    phone.save()
    assert smsgate_pings_queue(now=now + timedelta(seconds=61)) == 1
    assert len(_pings()) == 2


def test_no_pings_without_an_interval_nor_for_another_accounts_phones(account, other_account, make_gateway, ping_hook):
    make_gateway(account=account)
    assert smsgate_send_pings() == 0  # the app's default: ping disabled
    smsgate_settings_write(account_id=other_account.pk, body={"ping": {"interval_seconds": 10}}, replace=False)
    make_gateway(account=other_account)
    assert smsgate_send_pings() == 0  # the other account registered no ping webhook
    assert _pings() == []


def test_a_hook_for_one_device_hears_of_that_device_alone(account, make_gateway, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    smsgate_settings_write(account_id=account.pk, body={"ping": {"interval_seconds": 10}}, replace=False)
    mine, _other = make_gateway(account=account), make_gateway(account=account)
    smsgate_webhook_register(
        account_id=account.pk,
        client_id="one",
        url="http://127.0.0.1:9/one",
        event="system:ping",
        device_filter=f"agent-{mine.pk}",
    )
    assert smsgate_send_pings() == 1
    assert [ping["deviceId"] for ping in _pings()] == [f"agent-{mine.pk}"]
