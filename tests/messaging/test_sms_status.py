from __future__ import annotations

from datetime import UTC, datetime

import pytest

from messaging.models import Message, MessageStatus
from tests.conftest import GUIDE_NUMBER

pytestmark = pytest.mark.django_db


def send(client) -> str:
    return client.post("/api/v1/sms/send", {"to": GUIDE_NUMBER, "message": "hi"}, format="json").json()["message_id"]


def test_a_new_message_reports_its_status_and_null_timestamps(api_client):
    message_id = send(api_client)
    response = api_client.get(f"/api/v1/sms/status/{message_id}")
    assert response.status_code == 200
    assert response.json() == {
        "message_id": message_id,
        "status": "pending",
        "sent_at": None,
        "delivered_at": None,
        "failed_at": None,
        "error_message": None,
    }


def test_a_delivered_message_reports_iso_utc_timestamps(api_client):
    message_id = send(api_client)
    Message.objects.filter(pk=message_id).update(
        status=MessageStatus.DELIVERED,
        sent_at=datetime(2025, 10, 22, 10, 30, 0, tzinfo=UTC),
        delivered_at=datetime(2025, 10, 22, 10, 30, 5, 123456, tzinfo=UTC),
    )
    assert api_client.get(f"/api/v1/sms/status/{message_id}").json() == {
        "message_id": message_id,
        "status": "delivered",
        "sent_at": "2025-10-22T10:30:00Z",
        "delivered_at": "2025-10-22T10:30:05Z",
        "failed_at": None,
        "error_message": None,
    }


def test_a_failed_message_reports_its_reason(api_client):
    message_id = send(api_client)
    Message.objects.filter(pk=message_id).update(
        status=MessageStatus.FAILED,
        failed_at=datetime(2025, 10, 22, 11, 0, 0, tzinfo=UTC),
        error_message="Expired: no gateway available",
    )
    body = api_client.get(f"/api/v1/sms/status/{message_id}/").json()
    assert (body["status"], body["failed_at"], body["error_message"]) == (
        "failed",
        "2025-10-22T11:00:00Z",
        "Expired: no gateway available",
    )


@pytest.mark.parametrize("message_id", ["msg_00000000000000000000000000000000", "nonsense", "msg_", "%20"])
def test_an_unknown_message_is_404(api_client, message_id):
    response = api_client.get(f"/api/v1/sms/status/{message_id}")
    assert response.status_code == 404
    assert response.json() == {"error": "Message not found", "code": "message_not_found"}


def test_another_accounts_key_cannot_see_my_message(api_client, make_api_key, other_account, client_for):
    message_id = send(api_client)
    outsider = client_for(make_api_key(account=other_account).raw_key)
    response = outsider.get(f"/api/v1/sms/status/{message_id}")
    assert response.status_code == 404
    assert response.json() == {"error": "Message not found", "code": "message_not_found"}


def test_another_key_of_my_account_sees_my_message(api_client, make_api_key, client_for):
    message_id = send(api_client)
    colleague = client_for(make_api_key(name="second key").raw_key)
    assert colleague.get(f"/api/v1/sms/status/{message_id}").json()["message_id"] == message_id
