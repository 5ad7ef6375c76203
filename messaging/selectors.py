from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from accounts.models import Account
from mysmsapio.db import execute_prepared

from .models import InboundSms, Message, MessageStatus


@dataclass(frozen=True)
class MessageState:
    """What ``GET /sms/status`` reports of a message."""

    message_id: str
    status: str
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    error_message: str | None


# Prepared (mysmsapio/db.py): the status poll is the API's most frequent read.
_STATE_SQL = """
SELECT id, status, sent_at, delivered_at, failed_at, error_message FROM messaging_message
WHERE id = %s AND account_id = %s
"""


def message_state_get(*, account_id: int, message_id: str) -> MessageState | None:
    """The account's message's state, or None: another account's message does not exist for you."""
    rows = execute_prepared(_STATE_SQL, [message_id, account_id])
    return MessageState(*rows[0]) if rows else None


def message_count_by_status(*, statuses: list[str] | None = None) -> dict[str, int]:
    """How many messages are in each of ``statuses`` (default: every status), zeros included."""
    statuses = statuses or list(MessageStatus.values)
    counts = dict(Message.objects.filter(status__in=statuses).values_list("status").annotate(n=Count("pk")).order_by())
    return {status: counts.get(status, 0) for status in statuses}


def message_get_by_idempotency_key(*, api_key_id: int, idempotency_key: str) -> Message | None:
    return Message.objects.filter(api_key_id=api_key_id, idempotency_key=idempotency_key).first()


def inbound_sms_page(
    *, account: Account, limit: int, since: datetime | None = None, before: tuple[datetime, int] | None = None
) -> list[InboundSms]:
    """Newest first; ``before`` is the (received_at, id) of the last item of the previous page."""
    rows = InboundSms.objects.filter(account=account).select_related("gateway")
    if since is not None:
        rows = rows.filter(received_at__gte=since)
    if before is not None:
        at, pk = before
        rows = rows.filter(Q(received_at__lt=at) | Q(received_at=at, pk__lt=pk))
    return list(rows.order_by("-received_at", "-pk")[:limit])
