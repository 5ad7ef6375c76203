from __future__ import annotations

from celery import shared_task

from gateways.dispatch import CANCEL, gateway_signal

from .services import message_expire_overdue, message_prune


@shared_task(name="messaging.tasks.expire_messages")
def expire_messages() -> int:
    expired = message_expire_overdue()
    for message_id, gateway_id in expired:
        if gateway_id is not None:
            gateway_signal(gateway_id=gateway_id, event=CANCEL, message_id=message_id)
    return len(expired)


@shared_task(name="messaging.tasks.prune_old_rows")
def prune_old_rows() -> int:
    messages, inbound = message_prune()
    return messages + inbound
