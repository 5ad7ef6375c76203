"""SMS Gate's client API's periodic work: the pings its webhooks may ask for."""

from __future__ import annotations

from celery import shared_task

from .webhooks import smsgate_pings_queue


@shared_task(name="smsgate.tasks.smsgate_send_pings")
def smsgate_send_pings() -> int:
    """Idempotent: a ping is queued once per interval, however often this runs."""
    return smsgate_pings_queue()
