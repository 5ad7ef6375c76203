from __future__ import annotations

import itertools
from datetime import datetime

from django.db.models import QuerySet

from .models import Gateway

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


def gateway_pick_for_message(*, carrier: str = "", now: datetime | None = None) -> Gateway | None:
    """An online phone for the next message, or ``None`` when no phone can take it now (the
    message then waits as pending). Phones with a SIM on the recipient's carrier first, in
    rotation. One query on the small gateways table; pacing happens when jobs are pushed."""
    online = list(gateway_list_online(now=now).order_by("pk"))
    if carrier:
        wanted = carrier.lower()
        same_carrier = [
            g
            for g in online
            if any(isinstance(s, dict) and str(s.get("carrier", "")).lower() == wanted for s in g.sims)
        ]
        online = same_carrier or online
    if not online:
        return None
    return online[next(_rotation) % len(online)]
