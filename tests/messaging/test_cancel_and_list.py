"""Beyond the guide: POST /api/v1/sms/<id>/cancel and GET /api/v1/sms."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Permission
from gateways.dispatch import dispatch_take_jobs
from gateways.models import GatewayKind
from messaging.lifecycle import message_claim, message_create
from messaging.models import Message, MessageStatus
from tests.conftest import GUIDE_NUMBER

pytestmark = pytest.mark.django_db


def cancel(client, message_id: str):
    return client.post(f"/api/v1/sms/{message_id}/cancel", format="json")


def test_a_pending_message_is_cancelled_and_says_so(api_client, account):
    message = message_create(account=account, to=GUIDE_NUMBER, text="never mind")  # no phone: pending
    answer = cancel(api_client, message.pk)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["message_id"], body["status"]) == (message.pk, "failed")
    assert body["error_message"] == "Cancelled by the client"
    assert body["failed_at"]
    assert api_client.get(f"/api/v1/sms/status/{message.pk}").json()["status"] == "failed"


def test_a_job_pushed_but_not_claimed_is_cancelled_and_its_claim_then_fails(api_client, account, make_gateway):
    phone = make_gateway()
    message = message_create(account=account, to=GUIDE_NUMBER, text="hi", gateway_id=phone.pk)
    dispatch_take_jobs(gateway_id=phone.pk, token_hash="")
    assert cancel(api_client, message.pk).status_code == 200
    assert message_claim(gateway_id=phone.pk, message_id=message.pk) is False  # the phone must not send it


def test_a_message_a_phone_already_took_is_a_409(api_client, account, make_gateway):
    phone = make_gateway()
    claimed = message_create(account=account, to=GUIDE_NUMBER, text="hi", gateway_id=phone.pk)
    message_claim(gateway_id=phone.pk, message_id=claimed.pk)
    app = make_gateway(kind=GatewayKind.APP)
    fetched = message_create(account=account, to=GUIDE_NUMBER, text="hi", gateway_id=app.pk)
    dispatch_take_jobs(gateway_id=app.pk, token_hash="", hand_over=True)
    for message in (claimed, fetched):
        answer = cancel(api_client, message.pk)
        assert answer.status_code == 409
        assert answer.json()["code"] == "not_cancellable"
    assert Message.objects.get(pk=fetched.pk).status == MessageStatus.QUEUED


def test_only_the_accounts_own_messages_and_with_send_sms(api_client, other_account, account, client_for, make_api_key):
    theirs = message_create(account=other_account, to=GUIDE_NUMBER, text="theirs")
    for message_id in (theirs.pk, "msg_" + "0" * 32, "not-an-id"):
        answer = cancel(api_client, message_id)
        assert (answer.status_code, answer.json()["code"]) == (404, "message_not_found")
    assert Message.objects.get(pk=theirs.pk).status == MessageStatus.PENDING
    mine = message_create(account=account, to=GUIDE_NUMBER, text="mine")
    reader = client_for(make_api_key(permissions=[Permission.RECEIVE_SMS]).raw_key)
    assert cancel(reader, mine.pk).status_code == 403
    assert reader.get("/api/v1/sms").status_code == 403


def test_the_list_is_newest_first_filtered_and_paged(api_client, account, other_account):
    now = timezone.now()
    made = []
    for index in range(5):
        message = message_create(account=account, to=f"+95944123456{index}", text=str(index))
        Message.objects.filter(pk=message.pk).update(created_at=now - timedelta(minutes=10 - index))
        made.append(message.pk)
    Message.objects.filter(pk=made[1]).update(status=MessageStatus.FAILED)
    message_create(account=other_account, to=GUIDE_NUMBER, text="theirs")

    first = api_client.get("/api/v1/sms", {"limit": 2}).json()
    assert [m["message_id"] for m in first["messages"]] == [made[4], made[3]]
    assert set(first["messages"][0]) == {
        "message_id",
        "to",
        "status",
        "created_at",
        "sent_at",
        "delivered_at",
        "failed_at",
        "error_message",
    }
    second = api_client.get("/api/v1/sms", {"limit": 2, "cursor": first["next_cursor"]}).json()
    third = api_client.get("/api/v1/sms", {"limit": 2, "cursor": second["next_cursor"]}).json()
    assert [m["message_id"] for m in second["messages"] + third["messages"]] == [made[2], made[1], made[0]]
    assert third["next_cursor"] is None

    failed = api_client.get("/api/v1/sms", {"status": "failed"}).json()["messages"]
    assert [m["message_id"] for m in failed] == [made[1]]
    to = api_client.get("/api/v1/sms", {"to": "+959441234563"}).json()["messages"]
    assert [m["message_id"] for m in to] == [made[3]]
    window = {
        "since": (now - timedelta(minutes=8, seconds=30)).isoformat(),
        "until": (now - timedelta(minutes=6, seconds=30)).isoformat(),
    }
    assert [m["message_id"] for m in api_client.get("/api/v1/sms", window).json()["messages"]] == [made[3], made[2]]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"status": "lost"}, "invalid_status"),
        ({"limit": "0"}, "invalid_limit"),
        ({"limit": "201"}, "invalid_limit"),
        ({"cursor": "garbage"}, "invalid_cursor"),
        ({"since": "yesterday"}, "invalid_since"),
        ({"until": "2026-11-25T10:00:00"}, "invalid_until"),
    ],
)
def test_a_bad_query_is_a_json_422(api_client, query, code):
    answer = api_client.get("/api/v1/sms", query)
    assert (answer.status_code, answer.json()["code"]) == (422, code)


def test_times_with_offsets_python_accepts_and_postgresql_does_not_are_read_in_utc(api_client, account):
    # Found by the fuzzer (tests/live/test_openapi_fuzz.py): a +20:32 offset answered 500 on PostgreSQL.
    message_create(account=account, to=GUIDE_NUMBER, text="x")
    answer = api_client.get("/api/v1/sms", {"until": "2999-08-29T03:08:16+20:32", "since": "0044-01-04T18:59:03Z"})
    assert answer.status_code == 200 and len(answer.json()["messages"]) == 1
    early = api_client.get("/api/v1/sms", {"since": "0001-01-01T00:00:00+05:00"})  # before year 1 in UTC
    assert (early.status_code, early.json()["code"]) == (422, "invalid_since")
    body = {"to": GUIDE_NUMBER, "message": "x", "send_at": "2026-11-25T10:00:00+20:30"}
    scheduled = api_client.post("/api/v1/sms/send", body, format="json")
    assert scheduled.status_code == 202
