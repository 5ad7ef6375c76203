"""Webhooks (webhooks/services.py) against a real HTTP receiver on loopback, which checks every
signature with the same ``standardwebhooks`` library a client would use."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from gateways.services import gateway_connected, gateway_disconnected
from messaging.jobs import Job
from messaging.lifecycle import message_claim, message_create, message_mark_delivered
from messaging.models import InboundSms, Message
from messaging.services import ReceivedSms, inbound_sms_store
from mysmsapio.celery import app as celery_app
from tests.conftest import GUIDE_NUMBER
from webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookEvent, WebhookEventStatus
from webhooks.services import (
    WebhookRefused,
    webhook_check_url,
    webhook_deliver,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_replay,
)
from webhooks.tasks import deliver_due_webhooks

pytestmark = pytest.mark.django_db


def sms_received(account, device_sms_id: str, text: str, sender: str = "+1") -> None:
    """A phone of no account's reported an SMS for ``account``."""
    received = ReceivedSms(device_sms_id=device_sms_id, sender=sender, text=text)
    inbound_sms_store(account_id=account.pk, gateway_id=None, received=received)


class Receiver:
    """A webhook receiver: answers from ``script`` (status codes, then 200 forever)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answered: list[int] = []  # the status each of ``received`` got
        self.script: list[int | tuple[int, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                answer = receiver.script.pop(0) if receiver.script else 200
                status, headers, text = answer if isinstance(answer, tuple) else (answer, {}, b"ok")
                receiver.answered.append(status)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the receiver is on loopback
    server = Receiver()
    yield server
    server.server.shutdown()


@pytest.fixture
def endpoint(receiver, account):
    return webhook_endpoint_create(
        account_id=account.pk,
        url=receiver.url,
        events=["message.sent", "message.delivered", "sms.received", "gateway.online", "gateway.offline"],
    )


def deliver_all(now=None) -> list[bool | None]:
    return [webhook_deliver(event_id=pk, now=now) for pk in WebhookEvent.objects.values_list("pk", flat=True)]


def test_a_delivered_message_is_posted_signed_per_standard_webhooks(receiver, endpoint, account, online_gateway):
    message = message_create(account=account, to=GUIDE_NUMBER, text="hi", gateway_id=online_gateway.pk)
    message_claim(gateway_id=online_gateway.pk, message_id=message.pk)
    message_mark_delivered(gateway_id=online_gateway.pk, message_id=message.pk)
    assert list(WebhookEvent.objects.order_by("created_at").values_list("event", flat=True)) == [
        "message.sent",
        "message.delivered",
    ]
    assert deliver_all() == [True, True]
    events = []
    for headers, body in receiver.received:
        payload = Webhook(endpoint.raw_secret).verify(body, headers)  # raises unless signed with our secret
        assert headers["webhook-id"] == WebhookEvent.objects.get(event=payload["type"]).pk
        events.append(payload)
    delivered = next(p for p in events if p["type"] == "message.delivered")
    assert delivered["data"]["message_id"] == message.pk
    assert delivered["data"]["status"] == "delivered" and delivered["data"]["delivered_at"]
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEventStatus.DELIVERED}
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 32).verify(receiver.received[0][1], receiver.received[0][0])


def test_the_event_is_written_in_the_transaction_of_the_change(endpoint, account, online_gateway):
    message = message_create(account=account, to=GUIDE_NUMBER, text="hi", gateway_id=online_gateway.pk)
    with pytest.raises(RuntimeError), transaction.atomic():
        message_claim(gateway_id=online_gateway.pk, message_id=message.pk)
        assert WebhookEvent.objects.count() == 1
        raise RuntimeError("the change rolls back")
    assert WebhookEvent.objects.count() == 0


def test_at_least_once_with_the_same_id_and_growing_backoff(receiver, endpoint, account, online_gateway):
    receiver.script = [500, 503]
    message = message_create(account=account, to=GUIDE_NUMBER, text="hi", gateway_id=online_gateway.pk)
    message_claim(gateway_id=online_gateway.pk, message_id=message.pk)
    event = WebhookEvent.objects.get()
    now = timezone.now()
    results, waits = [], []
    for _ in range(3):
        results.append(webhook_deliver(event_id=event.pk, now=now))
        event.refresh_from_db()
        waits.append((event.next_attempt_at - timezone.now()).total_seconds())
        assert webhook_deliver(event_id=event.pk, now=now) is None  # not due again yet
        now = event.next_attempt_at + timedelta(milliseconds=1)
    assert results == [False, False, True]
    assert len({headers["webhook-id"] for headers, _ in receiver.received}) == 1
    assert [a.status_code for a in event.attempt_log.order_by("at")] == [500, 503, 200]
    assert 2 <= waits[0] <= 5.5 and 4.5 <= waits[1] <= 10.5  # 5 s, then 10 s, jittered
    endpoint.endpoint.refresh_from_db()
    assert endpoint.endpoint.failing_since is None  # the success cleared it


def test_after_three_days_the_event_is_given_up_and_the_endpoint_disabled(
    receiver, endpoint, account, django_capture_on_commit_callbacks
):
    receiver.script = [500] * 5
    three_days_ago = timezone.now() - timedelta(days=3, seconds=1)
    WebhookEndpoint.objects.filter(pk=endpoint.endpoint.pk).update(failing_since=three_days_ago)
    sms_received(account, "1", "x")
    WebhookEvent.objects.update(created_at=three_days_ago)
    with django_capture_on_commit_callbacks(execute=True):  # every process forgets the endpoint
        assert deliver_all() == [False]
    assert WebhookEvent.objects.get().status == WebhookEventStatus.FAILED
    disabled = WebhookEndpoint.objects.get()
    assert not disabled.enabled and "failed for 3 days" in disabled.disabled_reason
    sms_received(account, "2", "y")
    assert WebhookEvent.objects.count() == 1  # a disabled endpoint is told nothing more


def test_a_redirect_is_not_followed(receiver, endpoint, account):
    receiver.script = [(302, {"Location": receiver.url + "/elsewhere"}, b"")]
    sms_received(account, "1", "x")
    assert deliver_all() == [False]
    assert len(receiver.received) == 1  # never at /elsewhere
    assert WebhookEvent.objects.get().attempt_log.get().status_code == 302


def test_only_the_start_of_a_huge_answer_is_kept(receiver, endpoint, account):
    receiver.script = [(200, {}, b"x" * 1_000_000)]
    sms_received(account, "1", "x")
    assert deliver_all() == [True]
    assert WebhookEvent.objects.get().attempt_log.get().response_excerpt == "x" * 500


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "ftp://example.com/x",
        "http:///nohost",
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused(settings, account, url):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    with pytest.raises(WebhookRefused):
        webhook_endpoint_create(account_id=account.pk, url=url, events=["message.sent"])


def test_an_endpoint_made_private_later_is_refused_at_delivery(receiver, endpoint, account, settings):
    sms_received(account, "1", "x")
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    assert deliver_all() == [False]
    assert receiver.received == []
    assert "private" in WebhookEvent.objects.get().attempt_log.get().error


def test_a_rotated_secret_signs_beside_the_new_one_for_the_grace(receiver, endpoint, account, settings):
    new = webhook_endpoint_rotate_secret(endpoint=endpoint.endpoint)
    sms_received(account, "1", "x")
    deliver_all()
    headers, body = receiver.received[-1]
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(body, headers)
    Webhook(endpoint.raw_secret).verify(body, headers)  # receivers not yet updated still verify
    WebhookEndpoint.objects.update(previous_secret_until=timezone.now() - timedelta(seconds=1))
    sms_received(account, "2", "y")
    deliver_all()
    headers, body = receiver.received[-1]
    Webhook(new).verify(body, headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(endpoint.raw_secret).verify(body, headers)


def test_an_inbound_sms_reported_twice_is_told_once(receiver, endpoint, account):
    for _ in range(2):
        sms_received(account, "7", "STOP", sender="+959441234567")
    assert InboundSms.objects.count() == 1
    [event] = WebhookEvent.objects.all()
    assert event.payload["data"]["from"] == "+959441234567" and event.payload["data"]["text"] == "STOP"


def test_phones_going_online_and_offline_are_told(receiver, endpoint, make_gateway, account):
    phone = make_gateway(online=False, account=account, name="pixel")
    connection_id = gateway_connected(gateway_id=phone.pk)
    gateway_connected(gateway_id=phone.pk)  # a second socket: already online, nothing new
    gateway_disconnected(gateway_id=phone.pk, connection_id=connection_id)  # a stale socket: nothing
    assert [e.payload["data"] for e in WebhookEvent.objects.order_by("created_at")] == [
        {"gateway_id": phone.pk, "gateway": "pixel", "online": True}
    ]


def test_the_periodic_task_delivers_what_is_due_and_a_replay_sends_again(receiver, endpoint, account, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)  # a worker's work, here, inline
    sms_received(account, "1", "x")
    assert deliver_due_webhooks() == 1
    assert len(receiver.received) == 1
    assert deliver_due_webhooks() == 0
    assert webhook_replay(event_id=WebhookEvent.objects.get().pk)
    deliver_due_webhooks()
    first, again = (headers["webhook-id"] for headers, _ in receiver.received)
    assert first == again


def test_create_webhook_prints_the_secret_alone_on_the_last_line(receiver):
    out = StringIO()
    call_command("create_webhook", "--url", receiver.url, "--events", "message.sent,message.failed", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["message.failed", "message.sent"]
    assert secret not in str(WebhookEndpoint.objects.values().get())  # sealed, never in the clear
    with pytest.raises(CommandError, match="Events must be"):
        call_command("create_webhook", "--url", receiver.url, "--events", "message.exploded", stdout=StringIO())


def test_no_endpoint_no_event(account, online_gateway):
    message = message_create(account=account, to=GUIDE_NUMBER, text="hi", gateway_id=online_gateway.pk)
    message_claim(gateway_id=online_gateway.pk, message_id=message.pk)
    assert not WebhookEvent.objects.exists()


def test_a_verified_otp_is_told(receiver, account, online_gateway, api_client, settings):
    webhook_endpoint_create(account_id=account.pk, url=receiver.url, events=["otp.verified"])
    assert api_client.post("/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}, format="json").status_code == 200
    code = re.search(r"\d{6}", Job.of(Message.objects.get()).text()).group(0)
    wrong = "000000" if code != "000000" else "111111"
    api_client.post("/api/v1/otp/verify", {"phone_number": GUIDE_NUMBER, "code": wrong}, format="json")
    assert not WebhookEvent.objects.exists()  # a failed verify tells nothing
    verified = api_client.post("/api/v1/otp/verify", {"phone_number": GUIDE_NUMBER, "code": code}, format="json")
    assert verified.status_code == 200
    [event] = WebhookEvent.objects.all()
    assert event.payload["type"] == "otp.verified" and event.payload["data"]["phone_number"] == GUIDE_NUMBER
    assert code not in json.dumps(event.payload)  # never the code


def test_a_delivery_connects_to_the_address_that_was_checked(receiver, account, monkeypatch, settings):
    real = socket.getaddrinfo
    answers: list[str] = []

    def resolve(host, port, *args, **kwargs):
        if host == "hooks.example.test":  # a name, looked up once per delivery and then pinned
            answers.append(host)
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    port = receiver.server.server_port
    webhook_endpoint_create(
        account_id=account.pk, url=f"http://hooks.example.test:{port}/hooks?x=1", events=["sms.received"]
    )
    sms_received(account, "1", "x")
    assert deliver_all() == [True]
    assert receiver.received[0][0]["host"] == f"hooks.example.test:{port}"  # the name, at the vetted address
    assert answers == ["hooks.example.test"]  # resolved once: the connection used that answer

    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False  # the same name is now refused: it resolves to loopback
    WebhookEvent.objects.update(status=WebhookEventStatus.PENDING, next_attempt_at=timezone.now())
    assert deliver_all() == [False]
    assert len(receiver.received) == 1


class SlowReceiver:
    """Receivers that accept a connection, then answer ``HTTP/1.1 200 OK`` and one more byte
    every ``drip`` seconds (a drip feed), or nothing at all (``drip=None``)."""

    def __init__(self, drip: float | None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hooks"
        self.stop = threading.Event()
        self.drip = drip
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the client gave up: that is the point
            conn.recv(65536)
            if self.drip is not None:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not self.stop.wait(self.drip or 0.2):
                if self.drip is not None:
                    conn.sendall(b"X")

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


def test_a_drip_feeding_receiver_is_cut_at_the_deadline(account, settings):
    """A socket timeout bounds each read only: a byte every 0.5 s held one try for 79 s."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 1.5
    slow = SlowReceiver(drip=0.5)
    try:
        webhook_endpoint_create(account_id=account.pk, url=slow.url, events=["sms.received"])
        sms_received(account, "1", "x")
        started = time.monotonic()
        assert deliver_all() == [False]
        # Not a speed figure: without the deadline this try never ends (the drip goes on).
        assert time.monotonic() - started < 10
        attempt = WebhookEvent.objects.get().attempt_log.get()
        assert attempt.error == "Timeout: no complete answer within 1.5 s"
    finally:
        slow.close()


@pytest.mark.django_db(transaction=True)  # the delivery threads read what this test committed
def test_in_embedded_mode_deliveries_never_hold_up_the_scheduler(account, settings, make_gateway):
    """20 receivers that never answer: the scheduler's round (dispatch, expiry, timeouts) still
    finishes at once, and the deliveries go on, a few at a time, on threads of their own."""
    from mysmsapio.celery import app as celery_app
    from mysmsapio.scheduler import run_due_tasks
    from webhooks import tasks as webhook_tasks

    celery_app.loader.import_default_modules()  # every app's tasks, as the scheduler loads them

    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
    settings.EMBEDDED_SCHEDULER = True
    silent = [SlowReceiver(drip=None) for _ in range(20)]
    try:
        for receiver in silent:
            webhook_endpoint_create(account_id=account.pk, url=receiver.url, events=["sms.received"])
        sms_received(account, "1", "x")
        waiting = message_create(account=account, to=GUIDE_NUMBER, text="waits for a phone")
        phone = make_gateway()
        run_due_tasks({}, time.monotonic())  # every periodic task once, as the scheduler thread
        # The round did not wait on a receiver: no try can end before its 2 s deadline.
        assert WebhookAttempt.objects.count() == 0
        assert Message.objects.get(pk=waiting.pk).gateway_id == phone.pk  # dispatch ran meanwhile
        deadline = time.monotonic() + 30
        while WebhookAttempt.objects.count() < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        errors = set(WebhookAttempt.objects.values_list("error", flat=True))
        assert WebhookAttempt.objects.count() == 20 and errors == {"Timeout: no complete answer within 2 s"}
        assert webhook_tasks._in_flight == set()
    finally:
        for receiver in silent:
            receiver.close()


def test_deliveries_have_their_own_celery_queue_and_a_time_limit():
    from celery import current_app

    from webhooks.tasks import deliver_webhook

    route = current_app.amqp.router.route({}, "webhooks.tasks.deliver_webhook")
    assert route["queue"].name == "webhooks"
    assert current_app.amqp.router.route({}, "gateways.tasks.dispatch_pending")["queue"].name == "celery"
    assert deliver_webhook.time_limit and deliver_webhook.soft_time_limit


def test_finished_events_and_their_attempts_are_pruned_with_the_messages_retention(receiver, endpoint, account):
    from webhooks.tasks import prune_webhook_events

    sms_received(account, "1", "x")
    sms_received(account, "2", "y")
    assert deliver_all() == [True, True]
    sms_received(account, "3", "z")  # pending: kept whatever its age
    WebhookEvent.objects.update(created_at=timezone.now() - timedelta(days=91))
    assert prune_webhook_events() == 2
    assert list(WebhookEvent.objects.values_list("status", flat=True)) == [WebhookEventStatus.PENDING]
    assert not WebhookAttempt.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://[::ffff:10.0.0.1]/hooks",  # IPv4-mapped
        "http://[::10.0.0.1]/hooks",  # IPv4-compatible (deprecated, still routed by some stacks)
        "http://[64:ff9b::a00:1]/hooks",  # NAT64 to 10.0.0.1
        "http://[64:ff9b::7f00:1]:8080/hooks",  # NAT64 to 127.0.0.1
        "http://[2002:a00:1::1]/hooks",  # 6to4 of 10.0.0.1
    ],
)
def test_ipv6_forms_of_private_ipv4_addresses_are_refused(url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    with pytest.raises(WebhookRefused, match="private"):
        webhook_check_url(url)


def test_ipv6_forms_of_public_ipv4_addresses_pass(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    webhook_check_url("http://[64:ff9b::808:808]/hooks")  # NAT64 to 8.8.8.8
    webhook_check_url("https://[2001:4860:4860::8888]/hooks")
