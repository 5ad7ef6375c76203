"""Webhook deliveries. Each task is idempotent: a delivered or given-up event is left alone.

Deliveries wait on other people's servers, so they never share a runner with dispatch: in
production ``deliver_webhook`` goes to its own Celery queue (``webhooks``, its own worker in
docker-compose.yml) with a time limit; in embedded mode the scheduler thread hands them to a
few threads of their own instead of running them itself."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from celery import shared_task
from django.conf import settings
from django.db import connections

from .services import webhook_deliver, webhook_due, webhook_events_prune

WEBHOOK_QUEUE = "webhooks"
# A try's deadline (WEBHOOK_TIMEOUT_SECONDS) bounds it already; the limits catch the rest.
_TIME_LIMIT = settings.WEBHOOK_TIMEOUT_SECONDS + 20


@shared_task(name="webhooks.tasks.deliver_webhook", soft_time_limit=_TIME_LIMIT, time_limit=_TIME_LIMIT + 10)
def deliver_webhook(event_id: str) -> bool | None:
    return webhook_deliver(event_id=event_id)


_pool: ThreadPoolExecutor | None = None
_in_flight: set[str] = set()
_lock = threading.Lock()


def _deliver_off_the_scheduler(event_id: str) -> None:
    try:
        webhook_deliver(event_id=event_id)
    finally:
        with _lock:
            _in_flight.discard(event_id)
        connections.close_all()  # this thread's own connection


def _hand_to_pool(event_id: str) -> None:
    global _pool
    with _lock:
        if event_id in _in_flight:
            return  # still waiting for a thread, or being tried
        _in_flight.add(event_id)
        if _pool is None:
            _pool = ThreadPoolExecutor(settings.WEBHOOK_EMBEDDED_THREADS, thread_name_prefix="webhook")
    _pool.submit(_deliver_off_the_scheduler, event_id)


@shared_task(name="webhooks.tasks.deliver_due_webhooks")
def deliver_due_webhooks() -> int:
    """Retries, and new events whose kick was lost: one task each; in embedded mode, one job
    each for the delivery threads (the scheduler thread must not wait on a receiver)."""
    due = webhook_due()
    for event_id in due:
        if settings.EMBEDDED_SCHEDULER:
            _hand_to_pool(event_id)
        else:
            deliver_webhook.delay(event_id)
    return len(due)


@shared_task(name="webhooks.tasks.prune_webhook_events")
def prune_webhook_events() -> int:
    return webhook_events_prune()
