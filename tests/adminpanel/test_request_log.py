from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.contrib.admin.utils import quote
from django.utils import timezone

from adminpanel.models import ApiRequest
from adminpanel.services import request_log_prune
from gateways.models import GatewayEvent
from messaging.lifecycle import message_create
from messaging.models import Message, MessageEvent
from mysmsapio.requestlog import request_log_discard, request_log_flush, request_log_record
from tests.conftest import GUIDE_NUMBER

pytestmark = pytest.mark.django_db


def test_each_api_call_is_logged_with_its_key_name_and_prefix_but_never_the_key(api_client, api_key, account):
    response = api_client.post("/api/v1/sms/send?debug=secret", {"to": GUIDE_NUMBER, "message": "hi"}, format="json")
    assert response.status_code == 202
    assert ApiRequest.objects.count() == 0  # written off the request path
    assert request_log_flush() == 1

    line = ApiRequest.objects.get()
    assert (line.method, line.path, line.status) == ("POST", "/api/v1/sms/send", 202)
    assert (line.account, line.api_key, line.key_name) == (account, api_key.api_key, "Test key")
    assert line.key_prefix == api_key.api_key.display_prefix
    assert api_key.raw_key not in line.key_prefix and len(line.key_prefix) < 30
    assert line.client_ip == "127.0.0.1" and line.latency_ms > 0


def test_refused_and_unknown_calls_are_logged_without_a_key(client):
    client.post("/api/v1/sms/send", {}, content_type="application/json", HTTP_AUTHORIZATION="Bearer api_live_nope")
    client.get("/api/v2/whatever")
    request_log_flush()

    assert sorted(ApiRequest.objects.values_list("path", "status", "key_name", "account")) == [
        ("/api/v1/sms/send", 401, "", None),
        ("/api/v2/whatever", 404, "", None),
    ]


def test_admin_pages_are_not_in_the_api_log(operator):
    operator.get("/admin/")
    assert request_log_flush() == 0


def test_a_full_buffer_drops_its_oldest_lines(settings):
    settings.REQUEST_LOG_BUFFER_MAX = 3
    for index in range(5):
        request_log_record(
            {
                "method": "GET",
                "path": f"/api/v1/{index}",
                "status": 200,
                "latency_ms": 1.0,
                "created_at": timezone.now(),
            }
        )
    assert request_log_flush() == 3
    assert sorted(ApiRequest.objects.values_list("path", flat=True)) == ["/api/v1/2", "/api/v1/3", "/api/v1/4"]


def test_old_lines_and_gateway_events_are_pruned_after_their_retention(settings, online_gateway):
    settings.REQUEST_LOG_RETENTION_SECONDS = 3600
    now = timezone.now()
    for age in (timedelta(minutes=59), timedelta(minutes=61)):
        ApiRequest.objects.create(method="GET", path="/up", status=200, latency_ms=1, created_at=now - age)
    GatewayEvent.objects.create(gateway=online_gateway, event="connected", created_at=now - timedelta(days=400))
    GatewayEvent.objects.create(gateway=online_gateway, event="connected", created_at=now)

    assert request_log_prune(now=now) == 1
    assert ApiRequest.objects.count() == 1
    assert GatewayEvent.objects.count() == 1


def test_the_logs_page_lists_and_filters_requests_and_gateway_events(operator, api_client, online_gateway):
    api_client.post("/api/v1/sms/send", {"to": GUIDE_NUMBER, "message": "hi"}, format="json")
    api_client.get("/api/v1/sms/status/msg_unknown")
    request_log_flush()
    GatewayEvent.objects.create(gateway=online_gateway, event="disconnected", detail="socket closed")

    page = operator.get("/admin/logs").content.decode()
    assert "/api/v1/sms/send" in page and "/api/v1/sms/status/msg_unknown" in page
    assert "socket closed" in page and online_gateway.name in page
    assert 'data-refresh-seconds="5"' in page

    only_errors = operator.get("/admin/logs", {"status": "4xx", "partial": "1"}).content.decode()
    assert "/api/v1/sms/status/msg_unknown" in only_errors
    assert "/api/v1/sms/send" not in only_errors
    assert "<html" not in only_errors  # the fragment the page refreshes itself with

    other_event = operator.get("/admin/logs", {"event": "connected"}).content.decode()
    assert "socket closed" not in other_event


def test_the_logs_link_to_messages_whose_ids_the_admin_must_escape(operator, account, online_gateway):
    message = message_create(account=account, to=GUIDE_NUMBER, text="hi")
    tricky_id = "msg_25" + message.pk[6:]  # unescaped in an admin URL, "_25" reads as "%"
    Message.objects.filter(pk=message.pk).update(id=tricky_id)
    MessageEvent.objects.create(message_id=tricky_id, gateway=online_gateway, event="failed", detail="x")

    link = f"/admin/messaging/message/{quote(tricky_id)}/change/"
    assert link in operator.get("/admin/logs").content.decode()
    assert operator.get(link).status_code == 200


def test_one_row_the_database_refuses_does_not_cost_the_batch(settings, caplog):
    settings.REQUEST_LOG_FLUSH_SECONDS = 0
    request_log_discard()
    line = {"created_at": timezone.now(), "method": "GET", "status": 200, "latency_ms": 1.0}
    request_log_record({**line, "path": "/first"})
    request_log_record({**line, "path": "/refused", "status": -1})  # a CHECK the database enforces
    request_log_record({**line, "path": "/last"})
    with caplog.at_level(logging.WARNING, logger="mysmsapio.requestlog"):
        assert request_log_flush() == 2
    assert sorted(ApiRequest.objects.values_list("path", flat=True)) == ["/first", "/last"]
    assert "1 line(s) refused by the database, dropped" in caplog.text


def test_a_nul_in_a_requested_path_is_logged_storably(api_client, settings):
    settings.REQUEST_LOG_FLUSH_SECONDS = 0
    request_log_discard()
    assert api_client.get("/api/v1/sms/status/msg_%00x").status_code == 404
    assert request_log_flush() == 1
    assert ApiRequest.objects.get().path == "/api/v1/sms/status/msg_\ufffdx"


def test_tabs_newlines_and_backslashes_in_a_path_and_a_key_name_are_logged_as_they_were(
    make_api_key, client_for, settings
):
    # PostgreSQL's log lines are written as COPY text, where these characters are syntax.
    settings.REQUEST_LOG_FLUSH_SECONDS = 0
    request_log_discard()
    api_client = client_for(make_api_key(name="tab\there\\N back\\slash").raw_key)
    assert api_client.get("/api/v1/sms/status/msg_%09a%5Cb%0Ac%0D%5CN").status_code == 404
    assert request_log_flush() == 1
    line = ApiRequest.objects.get()
    assert line.path == "/api/v1/sms/status/msg_\ta\\b\nc\r\\N"
    assert line.key_name == "tab\there\\N back\\slash"
