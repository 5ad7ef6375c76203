from __future__ import annotations

from accounts.models import Account

from .models import Message


def message_get(*, account: Account, message_id: str) -> Message | None:
    """The account's message, or None: another account's message does not exist for you."""
    return Message.objects.filter(account=account, pk=message_id).first()
