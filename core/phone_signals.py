"""Signals to the consumers that hold the phones' connections, wherever they run.

A leaf module: it imports none of our apps (only the leaf ``core.redis_clients``), so
that ``messaging`` (which owns every message's state) can wake a phone without depending on
``gateways``. A signal only wakes; the database holds the work, and the periodic tasks repair
any signal lost on the way.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer

from core.redis_clients import thread_redis_client

logger = logging.getLogger(__name__)

WAKE = "gateway.wake"  # new work for the phone: push what it may take
CANCEL = "gateway.cancel"  # drop the job ``message_id`` if not sent yet
CLOSE = "gateway.close"  # the phone's token was revoked or rolled: close the socket
SETTINGS = "gateway.settings"  # its settings changed (its rate): an app phone fetches them again
EXPORT = "gateway.export"  # send again, as received SMS, what arrived between ``since`` and ``until``


def gateway_group_name(gateway_id: int) -> str:
    return f"gateway-{gateway_id}"


@functools.cache
def _pubsub_layer() -> tuple[RedisPubSubChannelLayer, str] | None:
    layer = get_channel_layer()
    if not isinstance(layer, RedisPubSubChannelLayer):
        return None
    # The layer's own ``prefix`` lives on its per-event-loop half, out of reach of sync code.
    return layer, layer._kwargs.get("prefix", "asgi")


def gateway_wake(*, gateway_id: int, message_id: str | None = None, job: dict[str, Any] | None = None) -> None:
    """New work for the phone (``message_id``, when one message is the news). ``job``: that
    message as the phone needs it (an OTP's text still sealed), so that the consumer can push
    it without reading it back from the database first (gateways/consumers.py)."""
    data: dict[str, Any] = {"message_id": message_id} if message_id else {}
    if job is not None:
        data["job"] = job
    gateway_signal(gateway_id=gateway_id, event=WAKE, **data)


def gateway_wake_later(*, gateway_id: int, seconds: float) -> None:
    """Wake the phone in ``seconds`` (its pace holds jobs back until then). The consumer holding
    an app phone's event stream keeps the timer; an agent's consumer paces itself."""
    gateway_signal(gateway_id=gateway_id, event=WAKE, after=round(seconds, 3))


def gateway_signal(*, gateway_id: int, event: str, **data: Any) -> None:
    """Tell the consumer holding ``gateway_id``'s connection, on any node, to act."""
    message = {"type": event, **data}
    group = gateway_group_name(gateway_id)
    try:
        pubsub = _pubsub_layer()
        if pubsub is None:
            async_to_sync(get_channel_layer().group_send)(group, message)
            return
        # The pub/sub layer's group_send is one PUBLISH of the serialised message. Done here
        # with a plain client: from a sync web worker, async_to_sync would start an event loop
        # (and a thread) per signal, and the layer's connections are bound to that loop.
        layer, prefix = pubsub
        thread_redis_client().publish(f"{prefix}__group__{group}", layer.serialize(message))
    except Exception:
        # The rows are committed; the periodic tasks will hand the work over.
        logger.warning("Could not signal gateway %s (%s)", gateway_id, event, exc_info=True)
