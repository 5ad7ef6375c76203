"""Signals from the web tier to gateway phones.

The database row is the job; this only wakes the consumer of the chosen phone so it pushes
the job at once. A lost signal delays a message, never loses it: the periodic retry finds
every queued or pending row again.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def gateway_group_name(gateway_id: int) -> str:
    return f"gateway-{gateway_id}"


def gateway_notify_job(*, gateway_id: int, message_id: str) -> None:
    channel_layer = get_channel_layer()
    try:
        async_to_sync(channel_layer.group_send)(
            gateway_group_name(gateway_id), {"type": "gateway.job", "message_id": message_id}
        )
    except Exception:
        # The message is committed; a periodic retry will hand it over.
        logger.warning("Could not signal gateway %s for %s", gateway_id, message_id, exc_info=True)
