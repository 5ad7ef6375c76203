"""A message's state as SMS Gate's clients read it (``MessageState``), from our rows: one row
per recipient (messaging.Message), the message's state worked out from theirs by SMS Gate's
own rule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from messaging.models import CANCELLED_ERRORS, Message, MessageStatus

_CANCELLED = set(CANCELLED_ERRORS)


def device_id(gateway) -> str:
    """The id SMS Gate's clients see for a phone: an app phone's own device id; our agent
    phones have none: ``agent-<id>``."""
    return gateway.device_id or f"agent-{gateway.pk}"


def wire_time(value: datetime) -> str:
    """RFC 3339 with exactly three fractional digits (the libraries parse no other)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def recipient_state(message: Message) -> str:
    if message.status in (MessageStatus.PENDING, MessageStatus.QUEUED):
        if message.cancel_requested_at is not None:
            return "Cancelling"
        # A phone took it (an agent's claim, an app's fetch): handed to Android, not yet sent.
        taken = message.handed_over_at is not None or message.phone_state not in ("", "Pending")
        return "Processed" if taken else "Pending"
    if message.status == MessageStatus.FAILED:
        return "Cancelled" if message.error_message in _CANCELLED else "Failed"
    return "Delivered" if message.status == MessageStatus.DELIVERED else "Sent"


def message_state(states: list[str]) -> str:
    """SMS Gate's rule, first match: any Pending, any Cancelling, any Cancelled, any
    Processed, all Failed, all Delivered, else Sent."""
    for state in ("Pending", "Cancelling", "Cancelled", "Processed"):
        if state in states:
            return state
    if all(state == "Failed" for state in states):
        return "Failed"
    return "Delivered" if all(state == "Delivered" for state in states) else "Sent"


def _reached(message: Message, state: str) -> dict[str, str]:
    times = {"Pending": message.created_at}
    if state in ("Processed", "Sent", "Delivered") or message.sent_at:
        times["Processed"] = message.handed_over_at or message.pushed_at or message.sent_at or message.created_at
    if message.sent_at:
        times["Sent"] = message.sent_at
    if message.delivered_at:
        times["Delivered"] = message.delivered_at
    if message.failed_at:
        times["Cancelled" if state == "Cancelled" else "Failed"] = message.failed_at
    return {name: wire_time(at) for name, at in times.items() if at is not None}


def state_body(
    message_id: str, rows: list[Message], *, with_content: bool = True, device_id: str = ""
) -> dict[str, Any]:
    """The ``MessageState`` of the message ``message_id`` whose rows (one per recipient) are
    ``rows``; ``device_id``: the phone's, where the caller knows it (a state read)."""
    recipients, times = [], {}
    for row in rows:
        state = recipient_state(row)
        recipient = {"phoneNumber": row.to, "state": state}
        if state == "Failed" and row.error_message:
            recipient["error"] = row.error_message
        recipients.append(recipient)
        for name, at in _reached(row, state).items():
            times[name] = min(times.get(name, at), at)
    first = rows[0]
    body: dict[str, Any] = {
        "id": message_id,
        "deviceId": device_id,
        "state": message_state([recipient["state"] for recipient in recipients]),
        "isHashed": False,
        "isEncrypted": first.is_encrypted,
        "recipients": recipients,
        "states": times,
        "createdAt": wire_time(first.created_at),
    }
    if with_content:
        body["textMessage"] = {"text": first.body}
    return body
