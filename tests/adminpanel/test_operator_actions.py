"""What operators do from the admin: roll keys, cancel and retry messages, pair phones."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from accounts.models import ApiKey
from accounts.selectors import api_key_get_by_raw
from accounts.services import api_key_roll
from adminpanel.services import messages_retry
from agent.agent import parse_pairing_uri
from core.phone_signals import gateway_group_name
from gateways.services import gateway_get_by_token, gateway_pairing_uri
from messaging.lifecycle import (
    CANCELLED_ERROR,
    MessageActionRefused,
    message_cancel,
    message_create,
    message_retry,
)
from messaging.models import Message, MessagePriority, MessageStatus
from tests.conftest import GUIDE_NUMBER

pytestmark = pytest.mark.django_db


def _select(operator, changelist: str, action: str, *pks):
    return operator.post(changelist, {"action": action, "_selected_action": [str(pk) for pk in pks]}, follow=True)


# --- API keys ---------------------------------------------------------------------------------


def test_a_rolled_key_keeps_working_for_the_grace_period_and_then_stops(api_key):
    old = api_key.api_key
    now = timezone.now()
    new = api_key_roll(api_key=old, grace=timedelta(hours=24), now=now)

    assert (new.api_key.name, new.api_key.permissions, new.api_key.account) == (old.name, old.permissions, old.account)
    assert new.raw_key != api_key.raw_key
    assert api_key_get_by_raw(raw_key=api_key.raw_key) is not None  # still in its grace period
    old.refresh_from_db()
    assert old.is_usable(now=now + timedelta(hours=23)) and not old.is_usable(now=now + timedelta(hours=24))
    assert new.api_key.is_usable(now=now + timedelta(days=30))


def test_roll_now_stops_the_old_key_at_once(operator, api_key, client_for):
    response = _select(operator, "/admin/accounts/apikey/", "roll_now", api_key.api_key.pk)

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    body = response.content.decode()
    new_raw = re.search(r"api_live_[A-Za-z0-9]{40}", body).group(0)
    assert "stops working now" in body
    assert client_for(api_key.raw_key).get("/api/v1/sms/inbox").status_code == 401
    assert client_for(new_raw).get("/api/v1/sms/inbox").status_code == 200
    assert new_raw not in operator.get("/admin/accounts/apikey/").content.decode()


def test_roll_with_grace_from_the_admin_shows_the_new_key_once_and_the_old_keeps_working(operator, api_key, client_for):
    body = _select(operator, "/admin/accounts/apikey/", "roll_with_grace", api_key.api_key.pk).content.decode()

    new_raw = re.search(r"api_live_[A-Za-z0-9]{40}", body).group(0)
    assert "stops working in 24 hours" in body
    assert client_for(api_key.raw_key).get("/api/v1/sms/inbox").status_code == 200
    assert client_for(new_raw).get("/api/v1/sms/inbox").status_code == 200
    listing = operator.get("/admin/accounts/apikey/").content.decode()
    assert "(rolled)" in listing and new_raw not in listing
    assert ApiKey.objects.count() == 2


def test_rolling_needs_exactly_one_key(operator, make_api_key):
    first, second = make_api_key(), make_api_key()
    body = _select(operator, "/admin/accounts/apikey/", "roll_now", first.api_key.pk, second.api_key.pk)
    assert "Select exactly one API key" in body.content.decode()
    assert ApiKey.objects.count() == 2


# --- Messages ---------------------------------------------------------------------------------


def test_cancelling_a_queued_message_fails_it_and_tells_its_phone(
    account, online_gateway, django_capture_on_commit_callbacks
):
    message = message_create(account=account, to=GUIDE_NUMBER, text="hi", gateway_id=online_gateway.pk)

    def cancel() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            message_cancel(message_id=message.pk)

    async def phone_hears_while_operator_cancels() -> dict:
        # One event loop throughout: a pub/sub channel layer subscribes per loop.
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(gateway_group_name(online_gateway.pk), channel)
        await sync_to_async(cancel)()
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    event = async_to_sync(phone_hears_while_operator_cancels)()

    assert event == {"type": "gateway.cancel", "message_id": message.pk}
    message.refresh_from_db()
    assert (message.status, message.error_message) == (MessageStatus.FAILED, CANCELLED_ERROR)
    assert list(message.events.values_list("event", flat=True)) == ["cancelled"]


def test_a_message_a_phone_already_took_cannot_be_cancelled(account, online_gateway):
    message = message_create(account=account, to=GUIDE_NUMBER, text="hi", gateway_id=online_gateway.pk)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENT, sent_at=timezone.now())

    with pytest.raises(MessageActionRefused):
        message_cancel(message_id=message.pk)
    assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT


def test_retrying_a_failed_message_sends_it_again_on_an_online_phone(account, make_gateway):
    message = message_create(account=account, to=GUIDE_NUMBER, text="hi")  # no phone: pending
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.FAILED,
        failed_at=timezone.now(),
        error_message="Expired: no gateway available",
        expires_at=timezone.now(),
    )
    phone = make_gateway()

    assert messages_retry(message_ids=[message.pk]) == (1, [])

    message.refresh_from_db()
    assert (message.status, message.gateway, message.error_message) == (MessageStatus.QUEUED, phone, None)
    assert message.expires_at > timezone.now() + timedelta(hours=1)
    assert list(message.events.values_list("event", flat=True)) == ["retried", "queued"]


@pytest.mark.parametrize("status", [MessageStatus.PENDING, MessageStatus.SENT, MessageStatus.DELIVERED])
def test_only_failed_messages_can_be_retried(account, status):
    message = message_create(account=account, to=GUIDE_NUMBER, text="hi")
    Message.objects.filter(pk=message.pk).update(status=status)
    with pytest.raises(MessageActionRefused):
        message_retry(message_id=message.pk)
    assert Message.objects.get(pk=message.pk).status == status


def test_an_otp_message_is_never_retried(account):
    message = message_create(
        account=account, to=GUIDE_NUMBER, text="Code 123456", display_text="Code ••••••", priority=MessagePriority.OTP
    )
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED)
    with pytest.raises(MessageActionRefused, match="OTP"):
        message_retry(message_id=message.pk)


def test_the_admin_actions_cancel_and_retry_and_say_what_they_refused(operator, account, online_gateway):
    queued = message_create(account=account, to=GUIDE_NUMBER, text="a", gateway_id=online_gateway.pk)
    sent = message_create(account=account, to=GUIDE_NUMBER, text="b", gateway_id=online_gateway.pk)
    Message.objects.filter(pk=sent.pk).update(status=MessageStatus.SENT, sent_at=timezone.now())

    body = _select(operator, "/admin/messaging/message/", "cancel", queued.pk, sent.pk).content.decode()
    assert "1 message(s) cancelled" in body and f"Not done for {sent.pk}: Only a pending or queued message" in body

    body = _select(operator, "/admin/messaging/message/", "retry", queued.pk).content.decode()
    assert "1 message(s) sent again" in body
    assert Message.objects.get(pk=queued.pk).status == MessageStatus.QUEUED


def test_messages_can_be_filtered_and_searched(operator, account, online_gateway):
    queued = message_create(account=account, to=GUIDE_NUMBER, text="a", gateway_id=online_gateway.pk)
    pending = message_create(account=account, to="+14155550123", text="b")
    Message.objects.filter(pk=pending.pk).update(gateway=None, status=MessageStatus.PENDING)

    by_status = operator.get("/admin/messaging/message/", {"status__exact": "queued"}).content.decode()
    assert queued.pk in by_status and pending.pk not in by_status
    by_number = operator.get("/admin/messaging/message/", {"q": "+1415"}).content.decode()
    assert pending.pk in by_number and queued.pk not in by_number
    by_id = operator.get("/admin/messaging/message/", {"q": queued.pk}).content.decode()
    assert queued.pk in by_id and pending.pk not in by_id


# --- Gateways ---------------------------------------------------------------------------------


def test_the_pairing_screen_shows_the_token_once_and_a_qr_code_drawn_by_the_server(operator):
    response = operator.post("/admin/gateways/gateway/add/", {"name": "pixel", "rate_per_minute": 10})

    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    token = re.search(r"gw_live_[A-Za-z0-9]{40}", body).group(0)
    assert gateway_get_by_token(raw_token=token).name == "pixel"
    svg = re.search(r'<div class="mysms-qr" id="pairing-qr"><svg.*?</svg>', body, re.S).group(0)
    assert "<path" in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    # What the code holds is read back from real pixels in tests/live/test_admin_browser.py.


def test_pairing_uris_survive_odd_characters():
    uri = gateway_pairing_uri(server="https://sms.example.test:8443/base?x=1&y=2", token="gw_live_abc")
    assert parse_pairing_uri(uri) == ("https://sms.example.test:8443/base?x=1&y=2", "gw_live_abc")
    with pytest.raises(ValueError):
        parse_pairing_uri("https://example.test/?server=a&token=b")


def test_the_gateway_list_shows_online_state_and_messages_sent_today(operator, account, make_gateway):
    phone = make_gateway(name="pixel")
    make_gateway(name="drawer", online=False)
    for index in range(3):
        message = message_create(account=account, to=GUIDE_NUMBER, text=str(index), gateway_id=phone.pk)
        sent_at = timezone.now() - timedelta(days=2 if index == 0 else 0)
        Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENT, sent_at=sent_at)

    page = operator.get("/admin/gateways/gateway/").content.decode()
    pixel_row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*pixel(?:(?!</tr>).)*</tr>", page, re.S).group(0)
    drawer_row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*drawer(?:(?!</tr>).)*</tr>", page, re.S).group(0)
    assert "● online" in pixel_row and '<td class="field-sent_today">2</td>' in pixel_row
    assert "○ offline" in drawer_row
