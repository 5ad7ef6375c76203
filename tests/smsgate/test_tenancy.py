"""Tenancy across both client APIs: one account's credentials, of either API, never see,
cancel or hook another account's messages, whichever API sent them."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from accounts.services import smsgate_login_issue
from tests.conftest import GUIDE_NUMBER
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def basic_client(account) -> Client:
    issued = smsgate_login_issue(account=account, name="tenant")
    pair = f"{issued.credential.login}:{issued.password}".encode()
    return Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(pair).decode())


def test_neither_api_crosses_accounts(account, other_account, make_api_key, client_for, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    ours_v1, theirs_v1 = client_for(make_api_key().raw_key), client_for(make_api_key(account=other_account).raw_key)
    ours_gate, theirs_gate = basic_client(account), basic_client(other_account)
    by_v1 = ours_v1.post("/api/v1/sms/send", {"to": GUIDE_NUMBER, "message": "v1"}, format="json").json()["message_id"]
    sent = ours_gate.post(
        "/api/3rdparty/v1/messages",
        {"phoneNumbers": [GUIDE_NUMBER], "message": "gate"},
        content_type="application/json",
    )
    by_gate = sent.json()["id"]
    # Ours, through either API.
    assert ours_gate.get(f"/api/3rdparty/v1/messages/{by_v1}").status_code == 200
    assert ours_v1.get(f"/api/v1/sms/status/{by_gate}").status_code == 200
    # Not theirs, through either API: not readable, not cancellable, not listed.
    for message_id in (by_v1, by_gate):
        assert theirs_gate.get(f"/api/3rdparty/v1/messages/{message_id}").status_code == 404
        assert theirs_gate.delete(f"/api/3rdparty/v1/messages/{message_id}").status_code == 404
        assert theirs_v1.get(f"/api/v1/sms/status/{message_id}").status_code == 404
        assert theirs_v1.post(f"/api/v1/sms/{message_id}/cancel").status_code == 404
    assert theirs_gate.get("/api/3rdparty/v1/messages").json() == []
    # A webhook of theirs hears nothing of ours; they cannot list or delete ours.
    hook = {"id": "ours", "url": "http://127.0.0.1:9/hook", "event": "sms:sent"}
    assert ours_gate.post("/api/3rdparty/v1/webhooks", hook, content_type="application/json").status_code == 201
    assert theirs_gate.get("/api/3rdparty/v1/webhooks").json() == []
    assert theirs_gate.delete("/api/3rdparty/v1/webhooks/ours").status_code == 204  # as SMS Gate: no such id
    assert WebhookEndpoint.objects.get(client_id="ours").account_id == account.pk
