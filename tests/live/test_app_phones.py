"""App phones end to end: fake SMS Gateway for Android apps (tests/fake_app.py) against the real
servers, over real HTTP and a real event stream (production mode: the API on granian, the
stream on daphne, as the proxy routes them), beside real agent processes."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import requests
from django.conf import settings

from accounts.services import api_key_generate
from gateways.models import Gateway, GatewayKind
from gateways.services import gateway_create, gateway_roll_token
from messaging.models import InboundSms, Message
from tests.fake_app import FakeApp, http_transport

from .helpers import wait_for
from .test_gateway_e2e import message_states, post_sms

pytestmark = pytest.mark.live
MULTI_NODE = bool(settings.REDIS_URL)
OOREDOO_NUMBER = "+959971234567"


def status_of(server, raw_key: str, message_id: str) -> dict:
    response = requests.get(
        f"{server.url}/api/v1/sms/status/{message_id}", headers={"Authorization": f"Bearer {raw_key}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def phones_report(running_agents, servers) -> str:
    """What a failed wait for phones shows: each phone's row, and the agents' and nodes' logs."""
    rows = list(Gateway.objects.values_list("name", "kind", "is_connected", "connection_id", "last_seen_at"))
    agent_logs = "\n".join(f"--- {a.log.name}\n{a.log.read_text(errors='replace')[-3000:]}" for a in running_agents)
    server_logs = "\n".join(f"--- node {i}\n{s.log()[-6000:]}" for i, s in enumerate(servers))
    return f"4 phones online; now {rows}\n{agent_logs}\n{server_logs}"


def test_an_app_phone_sends_and_reports_delivery(web_server, app_phones, raw_key):
    created = gateway_create(name="app-phone", kind=GatewayKind.APP, rate_per_minute=30)
    phone = app_phones(created.raw_token, web_server)
    wait_for(lambda: Gateway.objects.get(pk=created.gateway.pk).is_online, what="the app phone online")
    message_id = post_sms(web_server, raw_key, OOREDOO_NUMBER, "Hello from the app ✓")
    wait_for(lambda: status_of(web_server, raw_key, message_id)["status"] == "delivered", timeout=20, what="delivered")
    assert phone.sent == [{"id": message_id, "body": "Hello from the app ✓", "to": OOREDOO_NUMBER}]
    assert phone.errors == []
    answer = status_of(web_server, raw_key, message_id)
    assert answer["sent_at"] and answer["delivered_at"] and answer["error_message"] is None
    events = list(Message.objects.get(pk=message_id).events.values_list("event", flat=True))
    assert events == ["handed_over", "processed", "sent", "delivered"]


def test_the_event_stream_wakes_the_app_well_before_its_polling(web_server, raw_key):
    created = gateway_create(name="app-phone", kind=GatewayKind.APP, rate_per_minute=30)
    app = FakeApp(http_transport(web_server.url))
    assert app.register(created.raw_token).status == 201
    assert app.open_events(web_server.ws_url).headers["Content-Type"] == "text/event-stream"
    try:
        wait_for(lambda: Gateway.objects.get(pk=created.gateway.pk).is_online, what="online through its stream")
        started = time.monotonic()
        post_sms(web_server, raw_key, OOREDOO_NUMBER, "wake up")
        assert app.wait_event("MessageEnqueued", timeout=5) == "null"
        assert time.monotonic() - started < 5
        [item] = app.fetch()
        assert item["textMessage"] == {"text": "wake up"}
    finally:
        app.close_events()
        wait_for(lambda: not Gateway.objects.filter(is_connected=True).exists(), what="offline once closed")


def test_rolling_the_gateway_closes_the_stream_and_locks_the_app_out(web_server):
    created = gateway_create(name="app-phone", kind=GatewayKind.APP)
    app = FakeApp(http_transport(web_server.url))
    app.register(created.raw_token)
    app.open_events(web_server.ws_url)
    wait_for(lambda: Gateway.objects.get(pk=created.gateway.pk).is_connected, what="stream open")
    gateway_roll_token(gateway=Gateway.objects.get(pk=created.gateway.pk))
    app.wait_event("closed", timeout=10)
    assert app.call("GET", "/message").status == 401
    assert app.open_events(web_server.ws_url).status_code == 401
    wait_for(lambda: not Gateway.objects.filter(is_connected=True).exists(), what="offline")


def test_inbound_sms_from_the_app_reach_the_inbox(web_server, raw_key):
    created = gateway_create(name="app-phone", kind=GatewayKind.APP)
    app = FakeApp(http_transport(web_server.url))
    app.register(created.raw_token)
    app.load_settings()
    [hook] = app.webhooks()
    assert hook["url"].startswith(web_server.url + "/api/mobile/v1/inbound/")
    assert app.forward_sms(hook["url"], text="Reply YES", sender="+959441234567", event_id="e1").status == 204
    assert app.forward_sms(hook["url"], text="Reply YES", sender="+959441234567", event_id="e1").status == 204
    assert app.forward_sms(hook["url"], text="forged", sender="+1", key="guess").status == 401
    assert app.forward_sms(hook["url"], text="replayed", sender="+1", timestamp=int(time.time()) - 3600).status == 401
    inbox = requests.get(
        f"{web_server.url}/api/v1/sms/inbox", headers={"Authorization": f"Bearer {raw_key}"}, timeout=10
    ).json()
    assert [(m["from"], m["text"], m["gateway"]) for m in inbox["messages"]] == [
        ("+959441234567", "Reply YES", "app-phone")
    ]
    assert InboundSms.objects.count() == 1


def test_messages_over_app_phones_and_agents_on_two_nodes_are_delivered_exactly_once(web_servers, agents, app_phones):
    servers = web_servers if MULTI_NODE else web_servers[:1]
    keys = [api_key_generate(name=f"load {i}", permissions=["send_sms"]).raw_key for i in range(2)]  # 100/min each
    apps = [gateway_create(name=f"app-{i}", kind=GatewayKind.APP, rate_per_minute=30) for i in range(2)]
    socket_phones = [gateway_create(name=f"agent-{i}", rate_per_minute=30) for i in range(2)]
    texts = {}
    for i in range(10):  # before any phone is online: pending, then drained
        texts[post_sms(servers[i % len(servers)], keys[0], OOREDOO_NUMBER, f"early #{i}")] = f"early #{i}"
    running_apps = [app_phones(apps[i].raw_token, servers[i % len(servers)]) for i in range(2)]
    urls = [s.ws_url for s in servers]
    running_agents = [
        agents(f"agent-{i}", socket_phones[i].raw_token, urls[i % len(urls) :] + urls[: i % len(urls)]).start()
        for i in range(2)
    ]
    wait_for(
        lambda: Gateway.objects.filter(is_connected=True).count() == 4,
        what=lambda: phones_report(running_agents, servers),
    )
    for i in range(110):
        text = f"message #{i} မင်္ဂလာပါ"
        texts[post_sms(servers[i % len(servers)], keys[i % 2], OOREDOO_NUMBER, text)] = text
        if i == 40:
            running_agents[0].kill_between_sends()
        if i == 80:
            running_agents[0].start()
    wait_for(
        lambda: Message.objects.filter(status="delivered").count() == 120,
        timeout=90,
        what=lambda: f"120 delivered; now {message_states()}",
    )
    sent = [line for agent in running_agents for line in agent.sent()] + [s for p in running_apps for s in p.sent]
    counts = Counter(line["id"] for line in sent)
    assert set(counts) == set(texts)
    assert max(counts.values()) == 1, [i for i, n in counts.items() if n > 1]
    assert all(line["body"] == texts[line["id"]] for line in sent)
    assert all(p.sent for p in running_apps), "every app phone took a share"
    assert all(p.errors == [] for p in running_apps)
