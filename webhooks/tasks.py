"""Webhook deliveries. Each task is idempotent: a delivered or given-up event is left alone."""

from __future__ import annotations

from celery import shared_task

from .services import webhook_deliver, webhook_due


@shared_task(name="webhooks.tasks.deliver_webhook")
def deliver_webhook(event_id: str) -> bool | None:
    return webhook_deliver(event_id=event_id)


@shared_task(name="webhooks.tasks.deliver_due_webhooks")
def deliver_due_webhooks() -> int:
    """Retries, and new events whose kick was lost: one task each (inline in embedded mode)."""
    due = webhook_due()
    for event_id in due:
        deliver_webhook.delay(event_id)
    return len(due)
