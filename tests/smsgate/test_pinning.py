"""``deviceId`` on SMS Gate's send: the message goes to that phone of the account and waits
for it; taken back from it (an ack timeout, the phone gone), it stays queued on it."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import smsgate_login_issue
from gateways import dispatch
from gateways.models import Gateway
from gateways.tasks import dispatch_pending
from messaging.models import Message

pytestmark = pytest.mark.django_db
SEND = "/api/3rdparty/v1/messages"


@pytest.fixture
def api(account):
    issued = smsgate_login_issue(account=account, name="pinning")
    pair = f"{issued.credential.login}:{issued.password}".encode()
    return Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(pair).decode())


def send(api, **fields):
    body = {"phoneNumbers": ["+959971234567"], "textMessage": {"text": "for that phone"}, **fields}
    return api.post(SEND, body, content_type="application/json")


def test_a_message_for_one_device_waits_for_it_and_for_no_other(api, account, make_gateway):
    chosen = make_gateway(account=account, name="chosen", online=False)
    make_gateway(account=account, name="online-one")  # online: any other message would go here
    answer = send(api, deviceId=f"agent-{chosen.pk}")
    assert answer.status_code == 202
    message = Message.objects.get(group_id=answer.json()["id"])
    assert (message.gateway_id, message.status, message.pinned) == (chosen.pk, "queued", True)
    # Taken back (the phone went silent, say): still queued on it, to be pushed when it returns.
    assert dispatch.dispatch_release(gateway_id=chosen.pk, reason="gateway offline") == []
    dispatch_pending.run()
    message.refresh_from_db()
    assert (message.gateway_id, message.status, message.pushed_at) == (chosen.pk, "queued", None)


def test_a_device_of_another_account_or_none_is_refused(api, account, make_gateway, other_account):
    theirs = make_gateway(account=other_account, name="theirs")
    refused = send(api, deviceId=f"agent-{theirs.pk}")
    assert refused.status_code == 400 and refused.json() == {"message": "deviceId is not a device of this account"}
    assert send(api, deviceId="no-such-device").status_code == 400
    assert not Message.objects.exists()


def test_a_scheduled_message_for_one_device_waits_for_its_time_and_then_for_that_device(api, account, make_gateway):
    chosen = make_gateway(account=account, name="chosen", online=False)
    other = make_gateway(account=account, name="other")  # online the whole time
    at = timezone.now() + timedelta(hours=1)
    answer = send(api, deviceId=f"agent-{chosen.pk}", scheduleAt=at.isoformat())
    assert answer.status_code == 202
    message = Message.objects.get(group_id=answer.json()["id"])
    assert (message.status, message.gateway_id, message.pinned) == ("pending", chosen.pk, True)
    later = at + timedelta(minutes=1)
    Gateway.objects.filter(pk=other.pk).update(last_seen_at=later)
    assert dispatch.dispatch_assign_pending(now=at - timedelta(minutes=1)) == {}  # not its time
    assert dispatch.dispatch_assign_pending(now=later) == {}  # its time, its phone offline: waits
    message.refresh_from_db()
    assert (message.status, message.gateway_id) == ("pending", chosen.pk)
    Gateway.objects.filter(pk=chosen.pk).update(is_connected=True, last_seen_at=later)
    assert dispatch.dispatch_assign_pending(now=later) == {chosen.pk: 1}
    message.refresh_from_db()
    assert (message.status, message.gateway_id) == ("queued", chosen.pk)


def test_device_active_within_refuses_a_send_when_no_phone_was_heard_from_in_that_time(api, account, make_gateway):
    """SMS Gate's ``deviceActiveWithin=<hours>``: only phones seen within that many hours are
    candidates, and with none the send is refused (400), not left pending."""
    phone = make_gateway(account=account, online=False)
    Gateway.objects.filter(pk=phone.pk).update(last_seen_at=timezone.now() - timedelta(hours=3))
    body = {"phoneNumbers": ["+959971234567"], "textMessage": {"text": "now or never"}}
    refused = api.post(f"{SEND}?deviceActiveWithin=2", body, content_type="application/json")
    assert refused.status_code == 400
    assert refused.json() == {"message": "no device was active within 2 hours"}
    assert not Message.objects.exists()
    accepted = api.post(f"{SEND}?deviceActiveWithin=4", body, content_type="application/json")
    assert accepted.status_code == 202
    assert api.post(f"{SEND}?deviceActiveWithin=0", body, content_type="application/json").status_code == 400
