"""Operators and webhooks: endpoints added with their secret shown once, deliveries and their
attempts visible, a test event, a replay, and a disabled endpoint they are told about."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.utils import quote

from tests.webhooks.test_webhooks import Receiver, sms_received
from webhooks.models import WebhookEndpoint, WebhookEvent, WebhookEventStatus
from webhooks.services import webhook_deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    server = Receiver()
    yield server
    server.server.shutdown()


def test_an_endpoint_added_in_the_admin_shows_its_secret_once(operator, account, receiver):
    form = {"account": account.pk, "url": receiver.url, "event_names": ["message.sent", "sms.received"]}
    response = operator.post("/admin/webhooks/webhookendpoint/add/", form)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", response.content.decode()).group(0)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["message.sent", "sms.received"]
    page = operator.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert secret not in page and secret not in operator.get("/admin/webhooks/webhookendpoint/").content.decode()


def test_a_private_url_is_refused_on_the_form(operator, account, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    form = {"account": account.pk, "url": "http://10.0.0.5/hook", "event_names": ["message.sent"]}
    response = operator.post("/admin/webhooks/webhookendpoint/add/", form)
    assert response.status_code == 200 and "WEBHOOK_ALLOW_PRIVATE_URLS" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_test_event_attempts_replay_and_a_disabled_endpoint(operator, account, receiver):
    operator.post(
        "/admin/webhooks/webhookendpoint/add/",
        {"account": account.pk, "url": receiver.url, "event_names": ["sms.received"]},
    )
    endpoint = WebhookEndpoint.objects.get()
    operator.post("/admin/webhooks/webhookendpoint/", {"action": "send_test_event", "_selected_action": [endpoint.pk]})
    test_event = WebhookEvent.objects.get(event="webhook.test")
    receiver.script = [418]
    assert webhook_deliver(event_id=test_event.pk) is False
    page = operator.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert test_event.pk in page and "418 in" in page  # the delivery and its last answer
    # Quoted as the admin quotes a primary key in its URLs.
    event_page = operator.get(f"/admin/webhooks/webhookevent/{quote(test_event.pk)}/change/").content.decode()
    assert "I&#x27;m a Teapot" in event_page or "418" in event_page

    WebhookEvent.objects.filter(pk=test_event.pk).update(status=WebhookEventStatus.FAILED)
    operator.post("/admin/webhooks/webhookevent/", {"action": "replay", "_selected_action": [test_event.pk]})
    assert webhook_deliver(event_id=test_event.pk) is True  # 200 this time, same id
    assert [headers["webhook-id"] for headers, _ in receiver.received] == [test_event.pk, test_event.pk]

    WebhookEndpoint.objects.update(enabled=False, disabled_reason="Every delivery failed for 3 days (last: 500)")
    listing = operator.get("/admin/webhooks/webhookendpoint/", follow=True).content.decode()
    assert "is disabled: Every delivery failed for 3 days" in listing
    sms_received(account, "1", "x")
    operator.post("/admin/webhooks/webhookendpoint/", {"action": "enable", "_selected_action": [endpoint.pk]})
    assert WebhookEndpoint.objects.get().enabled


def test_the_old_admin_addresses_of_webhooks_lead_to_their_new_app(operator):
    response = operator.get("/admin/messaging/webhookendpoint/?enabled__exact=1")
    assert response.status_code == 302
    assert response["Location"] == "/admin/webhooks/webhookendpoint/?enabled__exact=1"
