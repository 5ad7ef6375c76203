"""An SMS Gate-style webhook makes our code build only the events SMS Gate has a name for:
the others (a phone online, an OTP verified) stay free on their hot paths."""

from __future__ import annotations

import pytest

from webhooks.models import WebhookEventType
from webhooks.services import smsgate_webhook_register, webhook_wanted

pytestmark = pytest.mark.django_db


def test_only_events_with_an_smsgate_name_are_wanted_for_its_webhooks(account, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    assert not webhook_wanted(WebhookEventType.MESSAGE_SENT)
    smsgate_webhook_register(account_id=account.pk, client_id="h", url="http://127.0.0.1:9/h", event="sms:sent")
    assert webhook_wanted(WebhookEventType.MESSAGE_SENT) and webhook_wanted(WebhookEventType.SMS_RECEIVED)
    assert not webhook_wanted(WebhookEventType.OTP_VERIFIED)
    assert not webhook_wanted(WebhookEventType.GATEWAY_ONLINE)
