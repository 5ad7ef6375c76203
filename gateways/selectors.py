from __future__ import annotations

import itertools
from datetime import datetime

from django.db.models import QuerySet

from .models import Gateway, sim_carriers

# Spreads new messages over the online phones. Per process, which is enough: the choice only
# decides which phone is woken first, and it must cost nothing on the send path (no count of
# each phone's queue per request).
_rotation = itertools.count()


def gateway_list_online(*, now: datetime | None = None) -> QuerySet[Gateway]:
    return Gateway.objects.filter(
        enabled=True,
        revoked_at__isnull=True,
        is_connected=True,
        last_seen_at__gte=Gateway.online_since(now),
    )


def gateway_count_online(*, now: datetime | None = None) -> tuple[int, int]:
    """(phones online, phones not revoked)."""
    return gateway_list_online(now=now).count(), Gateway.objects.filter(revoked_at__isnull=True).count()


def gateway_pick_for_message(*, carrier: str = "", now: datetime | None = None) -> int | None:
    """The id of an online phone for the next message, or ``None`` when no phone can take it
    now (the message then waits as pending). Phones with a SIM on the recipient's carrier
    first, in rotation. One query reading two columns (this is the send path); pacing
    happens when jobs are pushed."""
    online = list(gateway_list_online(now=now).order_by("pk").values_list("pk", "sims"))
    if carrier:
        wanted = carrier.lower()
        same_carrier = [(pk, sims) for pk, sims in online if wanted in (c.lower() for c in sim_carriers(sims))]
        online = same_carrier or online
    if not online:
        return None
    return online[next(_rotation) % len(online)][0]
