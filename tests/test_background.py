"""One beat schedule for Celery and for embedded mode's in-process scheduler."""

from __future__ import annotations

import asyncio

from django.conf import settings

from mysmsapio.celery import app
from mysmsapio.scheduler import run_due_tasks


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry


def test_celery_is_reliable_about_killed_workers():
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST


def test_the_embedded_scheduler_runs_each_task_when_due(monkeypatch):
    ran = []

    class FakeTask:
        def __init__(self, name):
            self.name = name

        def apply(self):
            ran.append(self.name)

    class FakeApp:
        tasks = {e["task"]: FakeTask(e["task"]) for e in settings.CELERY_BEAT_SCHEDULE.values()}

    monkeypatch.setattr("mysmsapio.scheduler.celery_app", FakeApp)
    # Scheduling only: the database is not part of this test (an earlier test's open
    # connection would otherwise be checked here, outside any db fixture).
    monkeypatch.setattr("mysmsapio.scheduler.close_old_connections", lambda: None)
    last_run: dict[str, float] = {}
    run_due_tasks(last_run, now=1000.0)
    assert sorted(ran) == sorted(e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values())
    ran.clear()
    run_due_tasks(last_run, now=1000.5)
    assert ran == []
    run_due_tasks(last_run, now=1001.0)
    assert ran == ["messaging.tasks.simulate_test_messages"]  # every second
    ran.clear()
    run_due_tasks(last_run, now=1005.0)
    # Every 2 s; the close sweep too in embedded mode (production: every 10 s, a backstop).
    every_2_s = ["messaging.tasks.simulate_test_messages", "webhooks.tasks.deliver_due_webhooks"]
    if not settings.REDIS_URL:
        every_2_s.append("gateways.tasks.close_ended_connections")
    assert sorted(ran) == sorted(every_2_s)
    ran.clear()
    run_due_tasks(last_run, now=1010.0)
    assert sorted(ran) == [
        "gateways.tasks.close_ended_connections",
        "gateways.tasks.dispatch_pending",
        "gateways.tasks.release_ack_timeouts",
        "messaging.tasks.simulate_test_messages",
        "smsgate.tasks.smsgate_send_pings",
        "webhooks.tasks.deliver_due_webhooks",
    ]


def test_the_channel_layer_is_redis_pub_sub_and_carries_a_message():
    """Pub/sub: subscriptions (groups included) are per process and re-made after a Redis
    restart (tests/topology shows the node recovering)."""
    import pytest
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    if not settings.REDIS_URL:
        pytest.skip("embedded mode has no Redis channel layer")
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"

    async def round_trip() -> dict:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add("gateway-test", channel)
        await layer.group_send("gateway-test", {"type": "gateway.wake"})
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    assert async_to_sync(round_trip)() == {"type": "gateway.wake"}
