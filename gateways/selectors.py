from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q, QuerySet

from .models import Gateway


def gateway_list_online(*, now: datetime | None = None) -> QuerySet[Gateway]:
    return Gateway.objects.filter(
        enabled=True,
        revoked_at__isnull=True,
        is_connected=True,
        last_seen_at__gte=Gateway.online_since(now),
    )


def gateway_pick_for_message(*, now: datetime | None = None) -> Gateway | None:
    """The online gateway that should take the next message: the least loaded one.

    One query; ``None`` when no phone can take it now (the message then waits as pending).
    """
    return (
        gateway_list_online(now=now)
        .annotate(load=Count("messages", filter=Q(messages__status="queued")))
        .order_by("load", "last_seen_at", "pk")
        .first()
    )
