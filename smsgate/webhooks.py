"""Our events as SMS Gate's phones would have sent them, for the webhooks registered through
its client API (``POST /webhooks``): the name, the payload and the device, per
smsgate-3rdparty-api.md 5.4. Delivered by our outbox (webhooks/), not by the phones, so they
come for agent phones too, and the app is never asked to send them a second time."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.services import smsgate_settings_public
from core.times import parse_zoned_time
from gateways.models import Gateway
from gateways.selectors import gateway_list_online
from messaging.models import CANCELLED_ERRORS, Message
from webhooks.models import WebhookEventType
from webhooks.services import SmsGateEvent, webhook_emit_smsgate, webhook_smsgate_hooks, webhook_smsgate_last_queued

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


PING = "system:ping"


def _health(phone: Gateway) -> dict[str, Any]:
    """The phone's health as the app reports it in a ping (smsgate-3rdparty-api.md 3.9), from
    what its last heartbeat told us."""
    checks: dict[str, dict[str, Any]] = {
        "connection:status": {"status": "pass", "description": "online", "observedValue": 1, "observedUnit": "boolean"}
    }
    if phone.battery is not None:
        checks["battery:level"] = {
            "status": "pass" if phone.battery >= 10 else "warn",
            "description": "battery level",
            "observedValue": phone.battery,
            "observedUnit": "percent",
        }
    if phone.charging is not None:
        checks["battery:charging"] = {
            "status": "pass",
            "description": "charging" if phone.charging else "not charging",
            "observedValue": int(phone.charging),
            "observedUnit": "boolean",
        }
    status = "warn" if any(check["status"] == "warn" for check in checks.values()) else "pass"
    return {"health": {"status": status, "checks": checks}}


def smsgate_pings_queue(*, now: datetime | None = None) -> int:
    """``system:ping`` for each online phone of an account that registered for it, every
    ``ping.interval_seconds`` of the account's settings (unset: no pings, as the app's default),
    as the app would send them. Our server sends them, for agent and app phones alike."""
    now = now or timezone.now()
    hooks_by_account = webhook_smsgate_hooks(event=PING)
    if not hooks_by_account:
        return 0
    endpoint_ids = [hook.pk for hooks in hooks_by_account.values() for hook in hooks]
    last = webhook_smsgate_last_queued(endpoint_ids=endpoint_ids, event=PING)
    intervals = {
        account_id: smsgate_settings_public(account_id=account_id).get("ping", {}).get("interval_seconds")
        for account_id in hooks_by_account
    }
    pinged = [account_id for account_id, interval in intervals.items() if interval]
    queued = 0
    # One query for every such account's online phones.
    for phone in gateway_list_online(now=now).filter(account_id__in=pinged):
        device = device_id(phone)
        not_since = now - timedelta(seconds=intervals[phone.account_id])
        hooks = hooks_by_account[phone.account_id]
        due = {hook.pk for hook in hooks if last.get((hook.pk, device), not_since) <= not_since}
        if due:
            with transaction.atomic():
                translated = SmsGateEvent(PING, _health(phone), device)
                queued += webhook_emit_smsgate(account_id=phone.account_id, translated=translated, endpoint_ids=due)
    return queued
