from __future__ import annotations

from celery import shared_task

from .lifecycle import message_expire_overdue, message_simulate_due
from .services import message_prune


@shared_task(name="messaging.tasks.expire_messages")
def expire_messages() -> int:
    return len(message_expire_overdue())


@shared_task(name="messaging.tasks.simulate_test_messages")
def simulate_test_messages() -> int:
    """Test-mode messages (api_test_ keys) move on as a phone would move them."""
    return message_simulate_due()


@shared_task(name="messaging.tasks.prune_old_rows")
def prune_old_rows() -> int:
    messages, inbound = message_prune()
    return messages + inbound
