from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.pagination import cursor_encode
from gateways.services import gateway_inbound_sms
from messaging.services import ReceivedSms

pytestmark = pytest.mark.django_db
BASE = datetime(2025, 10, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def inbox(make_gateway, account):
    gateway = make_gateway(name="pixel", account=account)
    for i in range(5):
        gateway_inbound_sms(
            gateway_id=gateway.pk,
            received=ReceivedSms(
                device_sms_id=str(i),
                sender=f"+95900000000{i}",
                text=f"reply {i}",
                sim_slot=0,
                received_at=BASE + timedelta(minutes=i),
            ),
        )
    return gateway


def test_the_inbox_lists_received_sms_newest_first(api_client, inbox):
    response = api_client.get("/api/v1/sms/inbox")
    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    assert body["messages"][0] == {
        "id": body["messages"][0]["id"],
        "from": "+959000000004",
        "text": "reply 4",
        "received_at": "2025-10-22T10:04:00Z",
        "gateway": "pixel",
        "sim_slot": 0,
    }
    assert [m["text"] for m in body["messages"]] == [f"reply {i}" for i in range(4, -1, -1)]


def test_the_inbox_pages_with_a_cursor(api_client, inbox):
    first = api_client.get("/api/v1/sms/inbox?limit=2").json()
    second = api_client.get(f"/api/v1/sms/inbox?limit=2&cursor={first['next_cursor']}").json()
    third = api_client.get(f"/api/v1/sms/inbox?limit=2&cursor={second['next_cursor']}").json()
    texts = [m["text"] for page in (first, second, third) for m in page["messages"]]
    assert texts == [f"reply {i}" for i in range(4, -1, -1)]
    assert third["next_cursor"] is None


def test_the_inbox_filters_by_since(api_client, inbox):
    body = api_client.get("/api/v1/sms/inbox", {"since": "2025-10-22T10:03:00Z"}).json()
    assert [m["text"] for m in body["messages"]] == ["reply 4", "reply 3"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=0", "invalid_limit"),
        ("limit=201", "invalid_limit"),
        ("limit=x", "invalid_limit"),
        ("since=yesterday", "invalid_since"),
        ("since=2025-10-22T10:00:00", "invalid_since"),
        ("cursor=%25%25", "invalid_cursor"),
        ("cursor=bm9wZQ", "invalid_cursor"),
        # An id past a bigint (it overflowed SQLite: a 500), and one that is no id at all.
        (f"cursor={cursor_encode(datetime(2026, 1, 1, tzinfo=UTC), 10**22)}", "invalid_cursor"),
        (f"cursor={cursor_encode(datetime(2026, 1, 1, tzinfo=UTC), '-1')}", "invalid_cursor"),
    ],
)
def test_the_inbox_rejects_bad_parameters(api_client, inbox, query, code):
    response = api_client.get(f"/api/v1/sms/inbox?{query}")
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_another_account_sees_none_of_my_inbox(inbox, make_api_key, other_account, client_for):
    outsider = client_for(make_api_key(account=other_account).raw_key)
    assert outsider.get("/api/v1/sms/inbox").json() == {"messages": [], "next_cursor": None}


def test_the_inbox_needs_receive_sms(inbox, make_api_key, client_for):
    client = client_for(make_api_key(permissions=["send_sms"]).raw_key)
    response = client.get("/api/v1/sms/inbox")
    assert response.status_code == 403
    assert response.json()["error"] == "This API key does not have the receive_sms permission"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cursor=st.text(max_size=60)
    | st.builds(
        lambda at, pk: cursor_encode(at, pk),
        st.datetimes(timezones=st.just(UTC)),
        st.integers() | st.text(max_size=30),
    )
)
def test_any_inbox_cursor_is_a_page_or_a_422_never_a_500(api_client, inbox, cursor):
    response = api_client.get("/api/v1/sms/inbox", {"cursor": cursor})
    assert response.status_code in (200, 422), response.content
    if response.status_code == 422:
        assert response.json()["code"] == "invalid_cursor"
