"""A message's state in SMS Gate's words is worked out twice: in Python for one message's
answer (smsgate/states.py), in SQL for the list's ``state`` filter (messaging/selectors.py).
They must agree, recipient by recipient and by SMS Gate's rule for the message."""

from __future__ import annotations

import base64
import itertools

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import smsgate_login_issue
from messaging.models import AppState, Message, MessageStatus
from messaging.selectors import APP_STATE_OF_ROW, message_group_page
from messaging.services import GroupRecipient, message_group_send
from smsgate.states import message_state, recipient_state
from tests.conftest import GUIDE_NUMBER

pytestmark = pytest.mark.django_db
NUMBERS = ["+959451234567", "+959791234567", GUIDE_NUMBER]

# A row in each recipient state, as the lifecycle leaves it.
ROWS = {
    AppState.PENDING: {"status": MessageStatus.PENDING},
    AppState.PROCESSED: {"status": MessageStatus.QUEUED, "handed_over_at": timezone.now(), "phone_state": "Processed"},
    AppState.CANCELLING: {"status": MessageStatus.QUEUED, "cancel_requested_at": timezone.now()},
    AppState.SENT: {"status": MessageStatus.SENT, "sent_at": timezone.now()},
    AppState.DELIVERED: {"status": MessageStatus.DELIVERED, "delivered_at": timezone.now()},
    AppState.FAILED: {"status": MessageStatus.FAILED, "error_message": "Generic failure", "failed_at": timezone.now()},
    AppState.CANCELLED: {"status": MessageStatus.FAILED, "error_message": "Cancelled by the client"},
}


def group(account, group_id: str, states: tuple[str, ...]) -> list[Message]:
    recipients = [GroupRecipient(number, "", None) for number in NUMBERS[: len(states)]]
    rows = message_group_send(account=account, group_id=group_id, recipients=recipients, text="x")
    for row, state in zip(rows, states, strict=True):
        Message.objects.filter(pk=row.pk).update(**ROWS[state])
    return list(Message.objects.filter(group_id=group_id).order_by("group_position"))


def test_each_row_is_in_the_state_python_says_and_in_no_other(account):
    for number, state in enumerate(ROWS):
        [row] = group(account, f"one-{number}", (state,))
        assert recipient_state(row) == state
        matching = [
            name for name, condition in APP_STATE_OF_ROW.items() if Message.objects.filter(condition, pk=row.pk)
        ]
        assert matching == [state], (state, matching)


def test_the_lists_state_filter_agrees_with_smsgates_rule_for_every_mix_of_two(account):
    mixes = list(itertools.combinations_with_replacement(ROWS, 2))
    expected = {}
    for number, mix in enumerate(mixes):
        rows = group(account, f"mix-{number}", mix)
        expected[f"mix-{number}"] = message_state([recipient_state(row) for row in rows])
    for state in ROWS:
        groups, total = message_group_page(account_id=account.pk, limit=100, offset=0, state=state)
        found = {rows[0].group_id for rows in groups}
        assert found == {key for key, value in expected.items() if value == state}, state
        assert total == len(found)


def test_the_list_filters_by_state_and_device_through_the_api(account, make_gateway):
    issued = smsgate_login_issue(account=account, name="filters")
    pair = f"{issued.credential.login}:{issued.password}".encode()
    client = Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(pair).decode())
    phone = make_gateway(account=account, name="filter-phone")
    group(account, "delivered-one", (AppState.DELIVERED,))
    group(account, "pending-one", (AppState.PENDING,))
    Message.objects.filter(group_id="delivered-one").update(gateway=phone)
    delivered = client.get("/api/3rdparty/v1/messages", {"state": "Delivered"})
    assert [m["id"] for m in delivered.json()] == ["delivered-one"] and delivered["X-Total-Count"] == "1"
    on_phone = client.get("/api/3rdparty/v1/messages", {"deviceId": f"agent-{phone.pk}"}).json()
    assert [m["id"] for m in on_phone] == ["delivered-one"]
    assert client.get("/api/3rdparty/v1/messages", {"deviceId": "agent-999999"}).json() == []
