"""Our events as SMS Gate's phones would have sent them, for the webhooks registered through
its client API (``POST /webhooks``): the name, the payload and the device, per
smsgate-3rdparty-api.md 5.4. Delivered by our outbox (webhooks/), not by the phones, so they
come for agent phones too, and the app is never asked to send them a second time."""

from __future__ import annotations

import hashlib
from typing import Any

from django.utils import timezone

from core.times import parse_zoned_time
from gateways.models import Gateway
from messaging.models import CANCELLED_ERRORS, Message
from webhooks.models import WebhookEventType
from webhooks.services import SmsGateEvent

from .states import device_id, wire_time

_MESSAGE_EVENTS = {
    WebhookEventType.MESSAGE_SENT: "sms:sent",
    WebhookEventType.MESSAGE_DELIVERED: "sms:delivered",
    WebhookEventType.MESSAGE_FAILED: "sms:failed",
}
_CANCELLED = set(CANCELLED_ERRORS)
# Ours that SMS Gate has a name for (a phone online, an OTP verified: none).
TRANSLATED_EVENTS = frozenset([*_MESSAGE_EVENTS, WebhookEventType.SMS_RECEIVED])


def _time(text: Any) -> str:
    parsed = parse_zoned_time(text) if isinstance(text, str) else None
    return wire_time(parsed or timezone.now())


def _device_of(gateway_id: int | None) -> str:
    gateway = Gateway.objects.filter(pk=gateway_id).only("pk", "device_id").first() if gateway_id else None
    return device_id(gateway) if gateway is not None else ""


def smsgate_translate(event: str, data: dict[str, Any]) -> SmsGateEvent | None:
    """SMS Gate's event for one of ours, or None where it has none (a phone online, an OTP)."""
    if event in _MESSAGE_EVENTS:
        message = (
            Message.objects.filter(pk=data.get("message_id"))
            .only("pk", "group_id", "to", "segments", "gateway_id", "error_message")
            .first()
        )
        if message is None:
            return None
        name = _MESSAGE_EVENTS[event]
        payload: dict[str, Any] = {
            "messageId": message.group_id or message.pk,
            "phoneNumber": message.to,
            "recipient": message.to,
            "sender": None,
            "simNumber": None,
        }
        if name == "sms:sent":
            payload.update(partsCount=message.segments, sentAt=_time(data.get("sent_at")))
        elif name == "sms:delivered":
            payload["deliveredAt"] = _time(data.get("delivered_at"))
        elif message.error_message in _CANCELLED:
            name = "sms:cancelled"
            payload["cancelledAt"] = _time(data.get("failed_at"))
        else:
            payload.update(failedAt=_time(data.get("failed_at")), reason=message.error_message or "")
        return SmsGateEvent(name, payload, _device_of(message.gateway_id))
    if event == WebhookEventType.SMS_RECEIVED:
        sender, text, received_at = data.get("from", ""), data.get("text", ""), _time(data.get("received_at"))
        slot = data.get("sim_slot")
        content = f"{sender}\n{text}\n{received_at}".encode("utf-8", "replace")
        payload = {
            "messageId": hashlib.sha256(content).hexdigest()[:16],  # content-derived, as the app's
            "message": text,
            "phoneNumber": sender,
            "sender": sender,
            "recipient": None,
            "simNumber": slot + 1 if isinstance(slot, int) else None,
            "receivedAt": received_at,
        }
        return SmsGateEvent("sms:received", payload, _device_of(data.get("gateway_id")))
    return None
