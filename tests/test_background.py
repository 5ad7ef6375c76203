"""One beat schedule for Celery and for embedded mode's in-process scheduler."""

from __future__ import annotations

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
    last_run: dict[str, float] = {}
    run_due_tasks(last_run, now=1000.0)
    assert sorted(ran) == sorted(e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values())
    ran.clear()
    run_due_tasks(last_run, now=1005.0)
    assert ran == []
    run_due_tasks(last_run, now=1010.0)
    assert sorted(ran) == ["gateways.tasks.dispatch_pending", "gateways.tasks.release_ack_timeouts"]


def test_channel_layer_reads_outlast_its_blocking_pop():
    """redis-py's 5 s default read timeout would crash idle consumers waiting in BZPOPMIN."""
    import pytest

    if not settings.REDIS_URL:
        pytest.skip("embedded mode has no Redis channel layer")
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    (host,) = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    assert host["socket_timeout"] > layer.brpop_timeout
