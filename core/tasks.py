from __future__ import annotations

from celery import shared_task

from .health import worker_heartbeat_record
from .ratelimit import ratelimit_prune


@shared_task(name="core.tasks.worker_heartbeat", ignore_result=True)
def worker_heartbeat() -> float:
    """Put on the queue by beat, run by any worker: /ready checks how recent it is."""
    return worker_heartbeat_record()


@shared_task(name="core.tasks.prune_rate_limit_counters", ignore_result=True)
def prune_rate_limit_counters() -> int:
    return ratelimit_prune()
