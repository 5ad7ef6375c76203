from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.jobs import Job
from messaging.models import Message, MessagePriority
from tests.conftest import GUIDE_NUMBER

pytestmark = pytest.mark.django_db
SEND = "/api/v1/sms/send"


def send(client, body, **kwargs):
    return client.post(SEND, body, format="json", **kwargs)


def test_it_accepts_the_guides_request_and_answers_202_pending_without_a_phone(api_client, api_key):
    response = send(api_client, {"to": GUIDE_NUMBER, "message": "Hello from My SaaS App!"})

    assert response.status_code == 202
    body = response.json()
    assert body == {"success": True, "message_id": body["message_id"], "status": "pending"}
    assert re.fullmatch(r"msg_[0-9a-f]{32}", body["message_id"])
    message = Message.objects.get(pk=body["message_id"])
    assert message.account == api_key.api_key.account
    assert message.api_key == api_key.api_key
    assert (message.to, message.body, message.status) == (GUIDE_NUMBER, "Hello from My SaaS App!", "pending")
    assert message.gateway is None
    assert message.priority == MessagePriority.NORMAL
    assert message.expires_at > timezone.now()


def test_it_answers_queued_and_assigns_a_phone_when_one_is_online(api_client, online_gateway):
    response = send(api_client, {"to": GUIDE_NUMBER, "message": "Welcome to our service!"})

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    message = Message.objects.get(pk=response.json()["message_id"])
    assert message.gateway == online_gateway
    assert message.queued_at is not None


@pytest.mark.parametrize(
    "gateway_fields",
    [
        {"enabled": False},
        {"is_connected": False},
        {"last_seen_at_age": 91},
        {"revoked": True},
    ],
    ids=["disabled", "socket-closed", "silent-for-91s", "revoked"],
)
def test_a_phone_that_cannot_take_it_now_leaves_the_message_pending(api_client, make_gateway, gateway_fields):
    fields = dict(gateway_fields)
    now = timezone.now()
    if age := fields.pop("last_seen_at_age", None):
        fields["last_seen_at"] = now - timezone.timedelta(seconds=age)
    if fields.pop("revoked", False):
        fields["revoked_at"] = now
    make_gateway(**fields)
    response = send(api_client, {"to": GUIDE_NUMBER, "message": "hi"})
    assert response.json()["status"] == "pending"


def test_consecutive_messages_are_spread_over_the_online_phones(api_client, make_gateway):
    phones = {make_gateway(), make_gateway()}
    make_gateway(online=False)
    ids = [send(api_client, {"to": GUIDE_NUMBER, "message": f"#{i}"}).json()["message_id"] for i in range(4)]
    assigned = [Message.objects.get(pk=message_id).gateway for message_id in ids]
    assert set(assigned) == phones
    assert assigned[0] != assigned[1] and assigned[2] != assigned[3]


def test_dispatch_is_signalled_only_after_commit(api_client, online_gateway, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = send(api_client, {"to": GUIDE_NUMBER, "message": "hi"})
    assert response.status_code == 202
    assert len(callbacks) == 1
    message_id = response.json()["message_id"]
    wake = callbacks[0].keywords
    assert (wake["gateway_id"], wake["message_id"]) == (online_gateway.pk, message_id)
    # The wake carries the job, for the phone's consumer to push without a database read.
    job = Job.from_wake(wake["job"])
    assert (job.message_id, job.text()) == (message_id, "hi")


def test_no_dispatch_signal_for_a_pending_message(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        send(api_client, {"to": GUIDE_NUMBER, "message": "hi"})
    assert callbacks == []


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("Hello", "gsm7", 1),
        ("a" * 160, "gsm7", 1),
        ("a" * 161, "gsm7", 2),
        ("€" * 80, "gsm7", 1),  # extension characters cost two septets
        ("€" * 81, "gsm7", 2),
        ("မင်္ဂလာပါ", "ucs2", 1),  # Myanmar script
        ("က" * 70, "ucs2", 1),
        ("က" * 71, "ucs2", 2),
        ("Hi 👋🏽 there", "ucs2", 1),
        ("😀" * 35, "ucs2", 1),  # each emoji is two UTF-16 units
        ("😀" * 36, "ucs2", 2),
        ("x" * 1600, "gsm7", 11),
    ],
)
def test_it_keeps_unicode_intact_and_records_encoding_and_segments(api_client, text, encoding, segments):
    response = send(api_client, {"to": GUIDE_NUMBER, "message": text})
    assert response.status_code == 202
    message = Message.objects.get(pk=response.json()["message_id"])
    assert (message.body, message.encoding, message.segments) == (text, encoding, segments)
    assert Job.of(message).text() == text


@pytest.mark.parametrize(
    "to",
    [
        "959123456789",  # no plus
        "+95 9 123 456 789",  # separators
        "+0123456789",  # no country code starts with 0
        "+1234567",  # 7 digits
        "+1234567890123456",  # 16 digits
        "+14155550",  # too short for the US
        "+959123456789012",  # too long for Myanmar
        "+95912345678a",
        "",
        "   ",
        959123456789,
        ["+959123456789"],
        {"number": "+959123456789"},
        True,
    ],
)
def test_it_rejects_a_number_not_in_international_format(api_client, to):
    response = send(api_client, {"to": to, "message": "hi"})
    assert response.status_code == 422
    body = response.json()
    assert body == {"error": "Invalid phone number format", "code": "invalid_phone_number", "hint": body["hint"]}
    # Beside the guide's fixed text, a hint a person can act on.
    assert "E.164" in body["hint"] or "no such number" in body["hint"]
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("to", "says"),
    [
        ("959123456789", "with + and the country code"),
        ("09123456789", "with + and the country code"),
        ("+95 9 123 456 789", "no spaces or other marks"),
        ("+14155550", "check its length"),
        (959123456789, "must be a string"),
    ],
)
def test_the_phone_number_hint_says_what_is_wrong(api_client, to, says):
    assert says in send(api_client, {"to": to, "message": "hi"}).json()["hint"]


@pytest.mark.parametrize("to", ["+959123456789", "+14155550123", "+447911123456", " +959123456789 "])
def test_it_accepts_possible_international_numbers(api_client, to):
    response = send(api_client, {"to": to, "message": "hi"})
    assert response.status_code == 202
    assert Message.objects.get().to == to.strip()


@pytest.mark.parametrize(
    ("body", "error", "code"),
    [
        ({"message": "hi"}, "Missing required field: to", "missing_field"),
        ({"to": None, "message": "hi"}, "Missing required field: to", "missing_field"),
        ({"to": GUIDE_NUMBER}, "Missing required field: message", "missing_field"),
        ({"to": GUIDE_NUMBER, "message": ""}, "Message must not be empty", "invalid_message"),
        ({"to": GUIDE_NUMBER, "message": "  \n "}, "Message must not be empty", "invalid_message"),
        ({"to": GUIDE_NUMBER, "message": 42}, "Message must be a string", "invalid_message"),
        ({"to": GUIDE_NUMBER, "message": ["hi"]}, "Message must be a string", "invalid_message"),
        (
            {"to": GUIDE_NUMBER, "message": "x" * 1601},
            "Message is too long (maximum 1600 characters)",
            "message_too_long",
        ),
        ({}, "Missing required field: to", "missing_field"),
    ],
)
def test_it_rejects_missing_or_mistyped_fields_with_422(api_client, body, error, code):
    response = send(api_client, body)
    assert response.status_code == 422
    assert response.json() == {"error": error, "code": code}
    assert not Message.objects.exists()


@pytest.mark.parametrize("body", [[1, 2], "text", 42, None])
def test_it_rejects_a_json_body_that_is_not_an_object(api_client, body):
    response = api_client.post(SEND, data=__import__("json").dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "Request body must be a JSON object", "code": "invalid_body"}


def test_the_send_path_has_a_fixed_query_budget(api_client, online_gateway, memo_queries):
    send(api_client, {"to": GUIDE_NUMBER, "message": "warm up the key's last_used_at"})
    with CaptureQueriesContext(connection) as queries:
        response = send(api_client, {"to": GUIDE_NUMBER, "message": "hi"})
    assert response.status_code == 202
    sql = [q["sql"] for q in queries.captured_queries]
    # key lookup and phone choice (unless in memory), rate-limit counter (database backend
    # only), insert.
    expected = 2 * memo_queries + (1 if settings.RATELIMIT_BACKEND == "database" else 0) + 1
    assert len(sql) == expected, sql
