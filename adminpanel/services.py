from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from gateways.models import GatewayEvent

from .models import ApiRequest


def request_log_prune(*, now: datetime | None = None) -> int:
    """Delete request log lines and gateway events past their retention."""
    now = now or timezone.now()
    deleted, _ = ApiRequest.objects.filter(
        created_at__lt=now - timedelta(seconds=settings.REQUEST_LOG_RETENTION_SECONDS)
    ).delete()
    GatewayEvent.objects.filter(created_at__lt=now - timedelta(seconds=settings.MESSAGE_RETENTION_SECONDS)).delete()
    return deleted
