from __future__ import annotations

from celery import shared_task

from .services import request_log_prune


@shared_task(name="adminpanel.tasks.prune_logs")
def prune_logs() -> int:
    return request_log_prune()
