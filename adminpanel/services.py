"""Operators' housekeeping: log retention, the ops commands (purge, retry_failed) and the
admin login's brute-force guard."""

from __future__ import annotations

import hashlib
import math
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from accounts.services import smsgate_tokens_prune
from core import ratelimit
from gateways.dispatch import dispatch_assign_pending
from gateways.services import gateway_events_prune
from messaging.lifecycle import MessageActionRefused, message_retry
from messaging.models import Message, MessagePriority, MessageStatus
from messaging.services import message_prune
from otp.services import otp_prune

from .models import ApiRequest


def request_log_prune(*, now: datetime | None = None) -> int:
    """Delete request log lines and gateway events past their retention."""
    now = now or timezone.now()
    deleted, _ = ApiRequest.objects.filter(
        created_at__lt=now - timedelta(seconds=settings.REQUEST_LOG_RETENTION_SECONDS)
    ).delete()
    gateway_events_prune(older_than=timedelta(seconds=settings.MESSAGE_RETENTION_SECONDS), now=now)
    return deleted


def rows_purge(*, older_than: timedelta, now: datetime | None = None) -> dict[str, int]:
    """Delete everything finished and older than ``older_than``: messages with their events,
    inbound SMS, OTPs that are no longer active, request log lines, gateway events and
    expired SMS Gate tokens.
    Pending, queued and active rows are kept whatever their age."""
    now = now or timezone.now()
    cutoff = now - older_than
    messages, inbound = message_prune(now=now, older_than=older_than)
    otps = otp_prune(older_than=older_than, now=now)
    requests, _ = ApiRequest.objects.filter(created_at__lt=cutoff).delete()
    events = gateway_events_prune(older_than=older_than, now=now)
    tokens = smsgate_tokens_prune(older_than=older_than, now=now)
    return {
        "messages": messages,
        "inbound_sms": inbound,
        "otps": otps,
        "api_requests": requests,
        "gateway_events": events,
        "smsgate_tokens": tokens,
    }


def messages_retry_failed(*, since: datetime, limit: int = 10_000) -> tuple[int, int]:
    """Retry the failed messages that failed since ``since`` (OTP messages are left: their
    clients ask for new codes). Returns (retried, refused)."""
    ids = list(
        Message.objects.filter(status=MessageStatus.FAILED, failed_at__gte=since, is_test=False)
        .exclude(priority=MessagePriority.OTP)
        .order_by("failed_at")
        .values_list("pk", flat=True)[:limit]
    )
    retried, refusals = messages_retry(message_ids=ids)
    return retried, len(refusals)  # a refusal here: retried by someone else meanwhile


def messages_retry(*, message_ids: list[str]) -> tuple[int, list[str]]:
    """Retry each failed message, then hand the retried ones to online phones at once.
    Returns (retried, one text per message refused, saying why)."""
    retried, refusals = 0, []
    for message_id in message_ids:
        try:
            message_retry(message_id=message_id)
            retried += 1
        except MessageActionRefused as exc:
            refusals.append(f"Not done for {message_id}: {exc}")
    if retried:
        dispatch_assign_pending()
    return retried, refusals


# How long a key keeps its record of past lock-outs: a day without one and it starts afresh.
_STRIKES_TTL_SECONDS = 24 * 3600


def admin_login_throttle(*, username: str, address: str, now: float | None = None) -> int:
    """Count one login try; answer 0 if it may go on, else the seconds to wait.

    Counted per client address (the real one, behind our proxy: mysmsapio/door.py) and per
    user name tried from anywhere, each with its own limit per ADMIN_LOGIN_WINDOW_SECONDS. A key
    over its limit is locked for a window, then for twice as long each time it comes back over
    it, up to ADMIN_LOGIN_MAX_LOCK_SECONDS. So one address can lock out only itself, and
    guessing one operator's password from many addresses is slowed for that name alone, not
    for the other operators. The user name is hashed: the counter's key is no place for a
    password typed into the wrong field.
    """
    now = time.time() if now is None else now
    name = hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    limits = {
        f"admin-login:{address}": settings.ADMIN_LOGIN_ATTEMPTS,
        f"admin-login-user:{name}": settings.ADMIN_LOGIN_ATTEMPTS_PER_USERNAME,
    }
    locked = [until for until in cache.get_many([f"{key}:locked" for key in limits]).values() if until > now]
    if locked:
        return math.ceil(max(locked) - now)
    window = settings.ADMIN_LOGIN_WINDOW_SECONDS
    wait = 0
    for key, limit in limits.items():
        if not ratelimit.hit(key, limit=limit, window_seconds=window, now=now).allowed:
            strikes = cache.get(f"{key}:strikes", 0) + 1
            cache.set(f"{key}:strikes", strikes, timeout=_STRIKES_TTL_SECONDS)
            lock = min(window * 2 ** (strikes - 1), settings.ADMIN_LOGIN_MAX_LOCK_SECONDS)
            cache.set(f"{key}:locked", now + lock, timeout=math.ceil(lock))
            wait = max(wait, math.ceil(lock))
    return wait
