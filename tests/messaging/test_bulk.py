"""Beyond the guide: POST /api/v1/sms/bulk, up to 1,000 messages in one request."""

from __future__ import annotations

import pytest

from messaging.models import Message

pytestmark = pytest.mark.django_db

BULK = "/api/v1/sms/bulk"


def test_each_item_gets_its_own_result_in_one_transaction(api_client, online_gateway):
    items = [
        {"to": "+959441234567", "message": "one"},
        {"to": "12", "message": "bad number"},
        {"to": "+959971234567", "message": "two"},
        "not an object",
        {"to": "+959651234567"},
    ]
    answer = api_client.post(BULK, {"messages": items}, format="json")
    assert answer.status_code == 202
    body = answer.json()
    assert (body["success"], body["accepted"], body["rejected"]) == (True, 2, 3)
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert results[0]["status"] == "queued" and Message.objects.filter(pk=results[0]["message_id"]).exists()
    assert results[1] == {"index": 1, "error": "Invalid phone number format", "code": "invalid_phone_number"}
    assert results[3]["code"] == "invalid_item"
    assert results[4] == {"index": 4, "error": "Missing required field: message", "code": "missing_field"}
    assert answer["X-RateLimit-Remaining"] == str(100 - 5)  # every item counts, as every send does
    assert Message.objects.count() == 2


def test_a_batch_that_does_not_fit_the_limit_is_refused_whole(api_client, online_gateway):
    for _ in range(2):
        assert (
            api_client.post("/api/v1/sms/send", {"to": "+959441234567", "message": "x"}, format="json").status_code
            == 202
        )
    items = [{"to": "+959441234567", "message": f"#{n}"} for n in range(99)]
    answer = api_client.post(BULK, {"messages": items}, format="json")
    assert answer.status_code == 429
    assert answer.json()["error"] == (
        "Rate limit exceeded: this batch needs 99 of the 100 SMS per minute for this API key, 98 remain"
    )
    assert answer["Retry-After"] and answer["X-RateLimit-Remaining"] == "98"
    assert Message.objects.count() == 2  # nothing of it stored, nothing of the budget spent
    assert api_client.post(BULK, {"messages": items[:98]}, format="json").status_code == 202


def test_a_thousand_long_messages_fit_and_each_phone_is_woken_once(
    api_client, make_gateway, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.SMS_RATE_LIMIT_PER_MINUTE = 2000
    phones = [make_gateway(), make_gateway()]
    woken: list[int] = []
    monkeypatch.setattr("messaging.lifecycle.gateway_wake", lambda *, gateway_id, **_: woken.append(gateway_id))
    items = [{"to": "+959441234567", "message": "x" * 1600} for _ in range(1000)]
    with django_capture_on_commit_callbacks(execute=True):
        answer = api_client.post(BULK, {"messages": items}, format="json")
    assert answer.status_code == 202 and answer.json()["accepted"] == 1000
    assert sorted(woken) == sorted(phone.pk for phone in phones)
    assert Message.objects.count() == 1000


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid_messages"),
        ({"messages": []}, "invalid_messages"),
        ({"messages": "x"}, "invalid_messages"),
        ({"messages": [{"to": "+959441234567", "message": "x"}] * 1001}, "too_many_messages"),
    ],
)
def test_a_batch_the_server_cannot_use_is_a_json_422(api_client, body, code):
    answer = api_client.post(BULK, body, format="json")
    assert (answer.status_code, answer.json()["code"]) == (422, code)
    assert not Message.objects.exists()


def test_bulk_needs_send_sms(client_for, make_api_key):
    reader = client_for(make_api_key(permissions=["receive_sms"]).raw_key)
    assert reader.post(BULK, {"messages": [{"to": "+959441234567", "message": "x"}]}, format="json").status_code == 403


def test_a_batch_over_the_limit_is_refused_before_its_items_are_checked(api_client, settings, monkeypatch):
    """1,000 items of work for a request that will be refused anyway is a cheap way to load us."""
    checked = []
    monkeypatch.setattr("clientapi.sms._bulk_item", lambda item: checked.append(item))
    settings.SMS_RATE_LIMIT_PER_MINUTE = 10
    items = [{"to": "+959441234567", "message": f"#{n}"} for n in range(11)]
    assert api_client.post(BULK, {"messages": items}, format="json").status_code == 429
    assert checked == []
