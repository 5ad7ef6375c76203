"""Idempotency-Key on sms/send: a client may retry a request whose answer it lost (a node
died, a timeout) without sending the SMS twice. Not in the guide; optional."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from accounts.services import api_key_roll
from messaging.models import Message
from messaging.services import ValidatedSms, _message_create_once
from tests.conftest import GUIDE_NUMBER
from tests.live.helpers import wait_for_fresh_minute

pytestmark = pytest.mark.django_db
BODY = {"to": GUIDE_NUMBER, "message": "Your order has shipped"}


def send(client, body=BODY, key: str | None = "order-1234-shipped"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post("/api/v1/sms/send", body, format="json", **headers)


def test_a_retry_with_the_same_key_gets_the_first_message_back(api_client, online_gateway):
    first = send(api_client)
    retry = send(api_client)

    assert first.status_code == retry.status_code == 202
    assert retry.json() == {"success": True, "message_id": first.json()["message_id"], "status": "queued"}
    assert retry["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert Message.objects.count() == 1
    assert Message.objects.get().idempotency_key == "order-1234-shipped"


def test_a_retry_does_not_count_against_the_rate_limit(api_client, settings):
    settings.SMS_RATE_LIMIT_PER_MINUTE = 2
    send(api_client)
    for _ in range(3):
        assert send(api_client).status_code == 202
    assert send(api_client, key="another").status_code == 202
    assert send(api_client, key="a-third").status_code == 429


def test_different_keys_or_no_key_make_different_messages(api_client):
    ids = {send(api_client, key=key).json()["message_id"] for key in ("a-1", "a-2", None, None)}
    assert len(ids) == 4 and Message.objects.count() == 4


def test_the_key_belongs_to_the_api_key(make_api_key, client_for):
    mine, theirs = client_for(make_api_key().raw_key), client_for(make_api_key().raw_key)
    assert send(mine).json()["message_id"] != send(theirs).json()["message_id"]


def test_reusing_a_key_for_another_message_is_refused(api_client):
    send(api_client)
    response = send(api_client, body={**BODY, "message": "Something else"})
    assert response.status_code == 422
    assert response.json() == {
        "error": "Idempotency-Key was already used for a different request",
        "code": "idempotency_key_reused",
    }
    assert Message.objects.count() == 1


@pytest.mark.parametrize("key", ["", "x" * 101, "has space", "tab\there", "ünicode"])
def test_a_malformed_key_is_a_400(api_client, key):
    response = send(api_client, key=key)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert Message.objects.count() == 0


def test_a_replay_costs_the_key_and_the_earlier_message(api_client, memo_queries):
    send(api_client)
    with CaptureQueriesContext(connection) as queries:
        assert send(api_client)["Idempotent-Replayed"] == "true"
    assert len(queries.captured_queries) == memo_queries + 1, [q["sql"] for q in queries.captured_queries]


# --- A key rolled with grace: one line, one budget, one scope ----------------------------------


def test_a_retry_sent_with_the_rolled_key_does_not_send_twice(api_key, client_for, online_gateway):
    old = client_for(api_key.raw_key)
    first = send(old)
    assert first.status_code == 202
    rolled = api_key_roll(api_key=api_key.api_key, grace=timedelta(hours=1))
    new = client_for(rolled.raw_key)
    retry = send(new)
    assert (retry.status_code, retry["Idempotent-Replayed"]) == (202, "true")
    assert retry.json()["message_id"] == first.json()["message_id"]
    # And the other way round, from a key rolled again.
    again = api_key_roll(api_key=rolled.api_key, grace=timedelta(hours=1))
    assert send(client_for(again.raw_key)).json()["message_id"] == first.json()["message_id"]
    assert Message.objects.count() == 1


def test_twins_on_the_old_and_the_new_key_at_once_make_one_message(api_key, online_gateway):
    """The race the lookup cannot see (both requests looked before either stored): the
    database's unique constraint covers the line of keys, as the lookup does."""
    rolled = api_key_roll(api_key=api_key.api_key, grace=timedelta(hours=1)).api_key
    sms = ValidatedSms(to=GUIDE_NUMBER, text="twins", carrier="")
    first, created = _message_create_once(api_key=api_key.api_key, sms=sms, idempotency_key="twin", gateway_id=None)
    twin, twin_created = _message_create_once(api_key=rolled, sms=sms, idempotency_key="twin", gateway_id=None)
    assert (created, twin_created) == (True, False) and twin.pk == first.pk
    assert Message.objects.count() == 1


def test_the_old_and_the_new_key_share_one_rate_limit_budget(api_key, client_for, settings):
    settings.SMS_RATE_LIMIT_PER_MINUTE = 3
    wait_for_fresh_minute()
    old = client_for(api_key.raw_key)
    new = client_for(api_key_roll(api_key=api_key.api_key, grace=timedelta(hours=1)).raw_key)
    statuses = [send(client, key=None).status_code for client in (old, new, old, new)]
    assert statuses == [202, 202, 202, 429]
    assert send(new, key=None)["X-RateLimit-Remaining"] == "0"


def test_unrelated_keys_keep_their_own_scope(make_api_key, client_for):
    first, second = client_for(make_api_key().raw_key), client_for(make_api_key(name="other").raw_key)
    assert send(first).json()["message_id"] != send(second).json()["message_id"]


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_scopes_existing_keys_and_keeps_the_first_of_old_twins():
    from django.utils import timezone

    from accounts.models import Account, ApiKey

    executor = MigrationExecutor(connection)
    before = [("messaging", "0012_inbound_of_no_account")]
    executor.migrate(before)
    old_message = executor.loader.project_state(before).apps.get_model("messaging", "Message")
    account = Account.objects.create(name="tenant")
    old_key = ApiKey.objects.create(name="k", account=account, prefix="a", key_hash="a")
    new_key = ApiKey.objects.create(name="k", account=account, prefix="b", key_hash="b", lineage_id=old_key.pk)
    now = timezone.now()

    def message(pk: str, key: ApiKey, idempotency_key: str | None, minute: int):
        at = now + timedelta(minutes=minute)
        old_message.objects.create(
            id=pk,
            account_id=account.pk,
            api_key_id=key.pk,
            to=GUIDE_NUMBER,
            body="x",
            segments=1,
            created_at=at,
            expires_at=at + timedelta(days=1),
            idempotency_key=idempotency_key,
        )

    message("first-twin", old_key, "same", 0)
    message("later-twin", new_key, "same", 1)  # both sent before the constraint covered the line
    message("other", new_key, "another", 2)
    message("no-key", new_key, None, 3)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    scopes = dict(Message.objects.values_list("pk", "idempotency_scope"))
    assert scopes == {"first-twin": old_key.pk, "later-twin": None, "other": old_key.pk, "no-key": None}
