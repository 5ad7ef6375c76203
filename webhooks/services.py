"""Webhooks: an account's endpoints told of its messages, inbound SMS and phones.

- **Outbox.** ``webhook_emit`` writes one ``WebhookEvent`` row per subscribed endpoint in the
  transaction of the change it reports: a rollback erases both, a commit keeps both. Delivery
  happens after, from the rows (``webhook_deliver``, run by Celery; by the embedded scheduler
  in embedded mode), so a node killed between the commit and the POST loses nothing.
- **At least once.** Every try of one event carries the same ``webhook-id``; a 2xx within
  ``WEBHOOK_TIMEOUT_SECONDS`` is success; anything else is retried with exponential backoff and
  jitter for ``WEBHOOK_RETRY_SECONDS`` (3 days), then the event fails. An endpoint whose every
  delivery failed for that long is disabled, with the reason in the admin. Receivers must
  de-duplicate by ``webhook-id`` and tolerate order (``delivered`` can arrive before ``sent``).
- **Signed** per Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature: v1,<base64 HMAC-SHA256>``) with the maintained ``standardwebhooks``
  package. After a rotation the previous secret signs too (a second ``v1,`` signature) for
  ``WEBHOOK_SECRET_ROTATION_GRACE_SECONDS``.
- **Safe to point anywhere.** No redirect is followed; addresses that are private, loopback,
  link-local or otherwise not public are refused unless ``WEBHOOK_ALLOW_PRIVATE_URLS``, and a
  delivery connects to the very address that was checked (no DNS rebinding); at most 4 KB of a
  response is read.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import random
import secrets
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import SplitResult, urlsplit

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from standardwebhooks import Webhook

from accounts.services import smsgate_signing_key
from core.api import api_time
from core.crypto import seal, unseal
from core.invalidation import Memo, invalidate

from .models import (
    SMSGATE_EVENTS,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventStatus,
    WebhookEventType,
    WebhookStyle,
)

logger = logging.getLogger(__name__)

ENDPOINTS_TOPIC = "webhook-endpoints"
RESPONSE_READ_LIMIT = 4096
SECRET_PREFIX = "whsec_"
MAX_BACKOFF = timedelta(hours=6)


class WebhookRefused(ValueError):
    """An endpoint URL we will not call; the text says why."""


# --- Endpoints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    raw_secret: str  # shown once


def _new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def webhook_check_url(url: str) -> None:
    """Refuse what we will not call: not http(s), or (unless allowed) a host that is not public."""
    parts = _http_parts(url)
    if not settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        _vetted_address(parts)


def _http_parts(url: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("The URL must be http:// or https:// with a host")
    return parts


# IPv6 forms that carry an IPv4 address a router may deliver to: NAT64 (64:ff9b::/96 and the
# local-use 64:ff9b:1::/48), 6to4 (2002::/16), and the deprecated IPv4-compatible ::a.b.c.d.
_NAT64 = [ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48")]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64) or (int(address) >> 32 == 0 and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(text: str) -> bool:
    """Whether a delivery may connect to this address: globally routable, and so is any IPv4
    address an IPv6 form carries (::ffff:10.0.0.1, ::10.0.0.1, 64:ff9b::a00:1, 2002:a00:1::)."""
    address = ipaddress.ip_address(text.split("%")[0])
    if not address.is_global:
        return False
    embedded = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    return embedded is None or embedded.is_global


def _vetted_address(parts: SplitResult) -> str:
    """The host resolved once, every address it has checked: the address a delivery connects
    to, so that a name cannot pass the check and then lead the connection elsewhere."""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [info[4][0] for info in socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)]
    except (socket.gaierror, UnicodeError, ValueError):
        raise WebhookRefused(f"{parts.hostname} does not resolve") from None
    if not settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        for address in addresses:
            if not is_public_address(address):
                raise WebhookRefused(
                    f"{parts.hostname} is a private, loopback or link-local address ({address}); "
                    "set WEBHOOK_ALLOW_PRIVATE_URLS=true to allow it"
                )
    return addresses[0]


def _events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(WebhookEventType.values))
    if unknown or not events:
        raise WebhookRefused(f"Events must be some of {', '.join(WebhookEventType.values)} (got {unknown or 'none'})")
    return sorted(set(events))


@transaction.atomic
def webhook_endpoint_create(
    *, account_id: int, url: str, events: list[str], receive_test_events: bool = False
) -> CreatedEndpoint:
    webhook_check_url(url)
    raw = _new_secret()
    endpoint = WebhookEndpoint.objects.create(
        account_id=account_id,
        url=url,
        events=_events(events),
        sealed_secret=seal(raw, context="webhook"),
        receive_test_events=receive_test_events,
    )  # every process forgets its subscriptions (post_save: webhook_endpoints_changed)
    return CreatedEndpoint(endpoint, raw)


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, now: datetime | None = None) -> str:
    """A new secret; the old one signs beside it for the grace period. Returns the new one."""
    now = now or timezone.now()
    raw = _new_secret()
    endpoint.sealed_previous_secret = endpoint.sealed_secret
    endpoint.previous_secret_until = now + timedelta(seconds=settings.WEBHOOK_SECRET_ROTATION_GRACE_SECONDS)
    endpoint.sealed_secret = seal(raw, context="webhook")
    endpoint.save(update_fields=["sealed_secret", "sealed_previous_secret", "previous_secret_until"])
    return raw


def webhook_endpoints_changed(sender: type = WebhookEndpoint, **kwargs: object) -> None:
    """Receiver of WebhookEndpoint's post_save and post_delete: every process forgets."""
    invalidate(ENDPOINTS_TOPIC)


@dataclass(frozen=True)
class SmsGateHook:
    pk: int
    client_id: str
    event: str
    device_filter: str


@dataclass(frozen=True)
class Subscriptions:
    """Per account: its enabled Standard Webhooks endpoints (id, events asked for, whether
    test events too), and its SMS Gate-style registrations."""

    standard: dict[int, list[tuple[int, frozenset[str], bool]]]
    smsgate: dict[int, list[SmsGateHook]]


def _load_subscriptions(_key: object) -> Subscriptions:
    loaded = Subscriptions({}, {})
    columns = ["pk", "account_id", "events", "receive_test_events", "style", "client_id", "device_filter"]
    for pk, account_id, events, tests, style, client_id, device in WebhookEndpoint.objects.filter(
        enabled=True
    ).values_list(*columns):
        if style == WebhookStyle.SMSGATE:
            hook = SmsGateHook(pk, client_id, events[0] if events else "", device)
            loaded.smsgate.setdefault(account_id, []).append(hook)
        else:
            loaded.standard.setdefault(account_id, []).append((pk, frozenset(events), tests))
    return loaded


@dataclass(frozen=True)
class SmsGateEvent:
    """One of our events as SMS Gate's phones would have sent it: its name, payload and the
    device it is about."""

    name: str
    payload: dict[str, Any]
    device_id: str


# Turns one of our events into SMS Gate's, where it has one (SMS Gate's client API, smsgate/,
# the layer that knows both: set at start by the project's config, mysmsapio/apps.py).
SmsGateTranslator = Callable[[str, dict[str, Any]], SmsGateEvent | None]
_smsgate_translator: SmsGateTranslator | None = None
_smsgate_translated: frozenset[str] = frozenset()  # the events of ours it has words for


def webhook_smsgate_translator_set(translator: SmsGateTranslator, *, events: frozenset[str]) -> None:
    global _smsgate_translator, _smsgate_translated
    _smsgate_translator, _smsgate_translated = translator, events


# Which account wants what, from memory (the state changes that emit run on hot paths).
_subscriptions = Memo(ENDPOINTS_TOPIC, _load_subscriptions)


# --- Emitting -------------------------------------------------------------------------------


def webhook_wanted(event: str) -> bool:
    """Whether any endpoint asked for ``event`` (from memory): callers skip building it if not.
    SMS Gate-style registrations want every event of ours that SMS Gate has a name for."""
    subscriptions = _subscriptions.get()
    if subscriptions.smsgate and event in _smsgate_translated:
        return True
    return any(event in events for endpoints in subscriptions.standard.values() for _, events, _tests in endpoints)


def webhook_emit(*, account_id: int, event: str, data: dict[str, Any], test: bool = False) -> int:
    """Queue ``event`` for every enabled endpoint of the account that asked for it, in the
    caller's transaction. ``test``: caused by a test-mode key: only for endpoints that asked
    for test events, and as ``test.<event>`` (with ``"test": true``), so that no receiver
    takes it for a live one. Returns how many were queued."""
    subscriptions = _subscriptions.get()
    endpoints = [
        pk
        for pk, events, tests in subscriptions.standard.get(account_id, [])
        if event in events and (tests or not test)
    ]
    queued = _queue(endpoints, f"test.{event}" if test else event, data, test=test)
    if not test and subscriptions.smsgate.get(account_id) and _smsgate_translator is not None:
        translated = _smsgate_translator(event, data)
        if translated is not None:
            queued += webhook_emit_smsgate(account_id=account_id, translated=translated)
    return queued


def webhook_smsgate_hooks(*, event: str) -> dict[int, list[SmsGateHook]]:
    """Per account, its enabled SMS Gate-style registrations for ``event`` (from memory)."""
    registered = _subscriptions.get().smsgate.items()
    wanted = {account: [hook for hook in hooks if hook.event == event] for account, hooks in registered}
    return {account: hooks for account, hooks in wanted.items() if hooks}


def webhook_smsgate_last_queued(*, endpoint_ids: list[int], event: str) -> dict[tuple[int, str], datetime]:
    """When ``event`` was last queued for each (endpoint, device) of SMS Gate-style endpoints."""
    rows = (
        WebhookEvent.objects.filter(endpoint_id__in=endpoint_ids, event=event)
        .values_list("endpoint_id", "payload__deviceId")
        .annotate(last=Max("created_at"))
        .order_by()
    )
    return {(endpoint_id, device): last for endpoint_id, device, last in rows}


def webhook_emit_smsgate(*, account_id: int, translated: SmsGateEvent, endpoint_ids: set[int] | None = None) -> int:
    """Queue an event in SMS Gate's shape for the account's registrations of its name and
    device (of ``endpoint_ids`` alone, if given)."""
    hooks = [
        hook
        for hook in _subscriptions.get().smsgate.get(account_id, [])
        if hook.event == translated.name
        and hook.device_filter in ("", translated.device_id)
        and (endpoint_ids is None or hook.pk in endpoint_ids)
    ]
    if not hooks:
        return 0
    now = timezone.now()
    rows = []
    for hook in hooks:
        event_id = secrets.token_hex(11)[:21]
        envelope = {
            "id": event_id,
            "webhookId": hook.client_id,
            "event": translated.name,
            "deviceId": translated.device_id,
            "payload": translated.payload,
        }
        rows.append(
            WebhookEvent(
                id=f"sg_{event_id}",
                endpoint_id=hook.pk,
                event=translated.name,
                payload=envelope,
                created_at=now,
                next_attempt_at=now,
            )
        )
    WebhookEvent.objects.bulk_create(rows)
    transaction.on_commit(functools.partial(_deliver_soon, [row.id for row in rows]))
    return len(rows)


def _queue(endpoint_ids: list[int], event: str, data: dict[str, Any], *, test: bool = False) -> int:
    """The outbox rows, and a kick to the workers once they are committed."""
    if not endpoint_ids:
        return 0
    now = timezone.now()
    payload = {"type": event, "timestamp": api_time(now), "test": test, "data": data}
    rows = [
        WebhookEvent(
            id=f"evt_{uuid.uuid4().hex}",
            endpoint_id=pk,
            event=event,
            payload=payload,
            created_at=now,
            next_attempt_at=now,
        )
        for pk in endpoint_ids
    ]
    WebhookEvent.objects.bulk_create(rows)
    transaction.on_commit(functools.partial(_deliver_soon, [row.id for row in rows]))
    return len(rows)


def webhook_gateway_changed(*, gateway_id: int, name: str, account_id: int | None, online: bool) -> int:
    """A phone came online or went offline: its account hears (a shared-pool phone's: every
    account that asked)."""
    event = WebhookEventType.GATEWAY_ONLINE if online else WebhookEventType.GATEWAY_OFFLINE
    subscribed = _subscriptions.get().standard
    accounts = [account_id] if account_id is not None else list(subscribed)
    data = {"gateway_id": gateway_id, "gateway": name, "online": online}
    return sum(webhook_emit(account_id=account, event=event, data=data) for account in accounts)


def _deliver_soon(event_ids: list[str]) -> None:
    """Right after the commit, where Celery workers run (production); elsewhere the embedded
    scheduler finds the rows within seconds. A lost kick delays, never loses: the rows stay."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    for event_id in event_ids:
        try:
            current_app.send_task("webhooks.tasks.deliver_webhook", args=[event_id])
        except Exception:
            logger.warning("Could not queue webhook %s; the periodic scan will", event_id, exc_info=True)


# --- Delivering ----------------------------------------------------------------------------


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was vetted, whatever the name resolves to by then; the
    Host header keeps the name. http.client follows no redirect: a 3xx is the answer."""

    def __init__(self, host: str, port: int | None, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The same over TLS: the certificate is checked against the name (SNI too)."""

    def __init__(self, host: str, port: int | None, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _signature(endpoint: WebhookEndpoint, event_id: str, body: str, now: datetime) -> str:
    secrets_in_use = [unseal(endpoint.sealed_secret, context="webhook")]
    if endpoint.sealed_previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
        secrets_in_use.append(unseal(endpoint.sealed_previous_secret, context="webhook"))
    return " ".join(Webhook(secret).sign(msg_id=event_id, timestamp=now, data=body) for secret in secrets_in_use)


def _smsgate_headers(endpoint: WebhookEndpoint, body: str, now: datetime) -> dict[str, str]:
    """SMS Gate's signature, when the account set a signing key (its settings): X-Timestamp,
    and X-Signature = hex HMAC-SHA256 of the body followed by that timestamp."""
    key = smsgate_signing_key(account_id=endpoint.account_id)
    if not key:
        return {}
    timestamp = str(int(now.timestamp()))
    signature = hmac.new(key.encode(), (body + timestamp).encode(), hashlib.sha256).hexdigest()
    return {"X-Timestamp": timestamp, "X-Signature": signature}


def _post(endpoint: WebhookEndpoint, delivery: WebhookEvent, now: datetime) -> tuple[int | None, str, str]:
    """(status or None, response excerpt, error)."""
    body = json.dumps(delivery.payload, separators=(",", ":"))
    headers = {"Content-Type": "application/json", "User-Agent": "MySMSAPio-Webhooks/1"}
    if endpoint.style == WebhookStyle.SMSGATE:
        headers.update(_smsgate_headers(endpoint, body, now))
    else:
        headers["webhook-id"] = delivery.id
        headers["webhook-timestamp"] = str(int(now.timestamp()))
        headers["webhook-signature"] = _signature(endpoint, delivery.id, body, now)
    connection = None
    deadline = _Deadline(settings.WEBHOOK_TIMEOUT_SECONDS)
    try:
        parts = _http_parts(endpoint.url)  # resolved and checked once, below, for this very try
        connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
        connection = connection_class(
            parts.hostname, parts.port, address=_vetted_address(parts), timeout=settings.WEBHOOK_TIMEOUT_SECONDS
        )
        deadline.watch(connection)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", target, body=body.encode(), headers=headers)
        response = connection.getresponse()
        excerpt = response.read(RESPONSE_READ_LIMIT).decode("utf-8", "replace")
        if deadline.passed:
            return None, "", deadline.error()
        return response.status, excerpt, ""
    except WebhookRefused as exc:
        return None, "", str(exc)
    except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, reset, timed out, TLS, bad answer
        # A read that timed out waited the whole deadline too (its timeout is the same).
        timed_out = deadline.passed or isinstance(exc, TimeoutError)
        return None, "", deadline.error() if timed_out else f"{type(exc).__name__}: {exc}"[:300]
    finally:
        deadline.cancel()
        if connection is not None:
            connection.close()


class _Deadline:
    """One try's whole time, connect to last byte: a socket timeout bounds each read only, so a
    receiver sending a byte every few seconds held a try (and the worker running it) for
    minutes. At the deadline the socket is shut down, which ends any read under way."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.passed = False
        self._timer: threading.Timer | None = None

    def watch(self, connection: http.client.HTTPConnection) -> None:
        def cut() -> None:
            self.passed = True
            sock = connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        self._timer = threading.Timer(self.seconds, cut)
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def error(self) -> str:
        return f"Timeout: no complete answer within {self.seconds:g} s"


def _backoff(attempts: int) -> timedelta:
    """Exponential, from 5 s, capped at 6 h, with full jitter on the upper half."""
    ceiling = min(MAX_BACKOFF.total_seconds(), 5 * 2 ** min(attempts, 20))
    return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))


def webhook_deliver(*, event_id: str, now: datetime | None = None) -> bool | None:
    """One try at one event, unless it is no longer due (delivered, given up, or leased by
    another worker). True: delivered; False: failed this time; None: nothing to do."""
    now = now or timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + 30)
    # Take the event for this try (a conditional UPDATE: two workers never post it at once).
    taken = WebhookEvent.objects.filter(
        pk=event_id, status=WebhookEventStatus.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=lease, attempts=F("attempts") + 1)
    if not taken:
        return None
    delivery = WebhookEvent.objects.select_related("endpoint").get(pk=event_id)
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        WebhookEvent.objects.filter(pk=event_id).update(status=WebhookEventStatus.FAILED)
        return False
    started = time.monotonic()
    status, excerpt, error = _post(endpoint, delivery, now)
    latency = int((time.monotonic() - started) * 1000)
    ok = status is not None and 200 <= status < 300
    done_at = timezone.now()
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery_id=event_id,
            at=done_at,
            status_code=status,
            latency_ms=latency,
            response_excerpt=excerpt[:500],
            error=error,
        )
        if ok:
            WebhookEvent.objects.filter(pk=event_id).update(status=WebhookEventStatus.DELIVERED, delivered_at=done_at)
            WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(failing_since=None)
            return True
        gave_up = done_at - delivery.created_at >= timedelta(seconds=settings.WEBHOOK_RETRY_SECONDS)
        WebhookEvent.objects.filter(pk=event_id).update(
            status=WebhookEventStatus.FAILED if gave_up else WebhookEventStatus.PENDING,
            next_attempt_at=done_at + _backoff(delivery.attempts - 1),
        )
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=done_at)
        retry_window = timedelta(seconds=settings.WEBHOOK_RETRY_SECONDS)
        reason = f"Every delivery failed for {retry_window.days} days (last: {status or error})"[:200]
        too_long = WebhookEndpoint.objects.filter(
            pk=endpoint.pk, enabled=True, failing_since__lte=done_at - retry_window
        )
        if too_long.update(enabled=False, disabled_reason=reason):
            logger.warning("Webhook endpoint %s disabled: failing for %s", endpoint.pk, retry_window)
            transaction.on_commit(lambda: invalidate(ENDPOINTS_TOPIC))
    return False


def webhook_due(*, now: datetime | None = None, limit: int = 200) -> list[str]:
    """Events due for a try: new ones whose kick was lost, and retries."""
    now = now or timezone.now()
    due = WebhookEvent.objects.filter(status=WebhookEventStatus.PENDING, next_attempt_at__lte=now)
    return list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def webhook_replay(*, event_id: str) -> bool:
    """Send an event again (an operator's replay): pending, due now, same id."""
    again = WebhookEvent.objects.filter(pk=event_id)
    return bool(again.update(status=WebhookEventStatus.PENDING, next_attempt_at=timezone.now()))


def webhook_send_test(*, endpoint: WebhookEndpoint) -> None:
    """A ``webhook.test`` event for one endpoint (the admin's "send test event")."""
    _queue([endpoint.pk], "webhook.test", {"endpoint_id": endpoint.pk}, test=True)


def webhook_events_prune(*, now: datetime | None = None, older_than: timedelta | None = None) -> int:
    """Delete finished events (delivered, or given up) and their attempts past the retention
    of messages (``MESSAGE_RETENTION_SECONDS``): they hold phone numbers and received texts.
    Returns how many events were deleted."""
    now = now or timezone.now()
    cutoff = now - (older_than or timedelta(seconds=settings.MESSAGE_RETENTION_SECONDS))
    finished = [WebhookEventStatus.DELIVERED, WebhookEventStatus.FAILED]
    _, per_model = WebhookEvent.objects.filter(created_at__lt=cutoff, status__in=finished).delete()
    return per_model.get(WebhookEvent._meta.label, 0)


# --- SMS Gate-style registrations (its client API's /webhooks) ------------------------------


def smsgate_webhooks(*, account_id: int) -> list[WebhookEndpoint]:
    return list(
        WebhookEndpoint.objects.filter(account_id=account_id, style=WebhookStyle.SMSGATE).order_by("created_at", "pk")
    )


@transaction.atomic
def smsgate_webhook_register(
    *, account_id: int, client_id: str, url: str, event: str, device_filter: str = ""
) -> WebhookEndpoint:
    """Register (or, the same id again, replace) an SMS Gate-style webhook. SMS Gate wants an
    https:// receiver; plain http only where private URLs are allowed (a loopback receiver in
    tests). Refused: ``WebhookRefused``."""
    if event not in SMSGATE_EVENTS:
        raise WebhookRefused(f"event must be one of {', '.join(SMSGATE_EVENTS)}")
    if not url.lower().startswith("https://") and not (
        settings.WEBHOOK_ALLOW_PRIVATE_URLS and url.lower().startswith("http://")
    ):
        raise WebhookRefused("url must start with https://")
    webhook_check_url(url)
    existing = WebhookEndpoint.objects.select_for_update().filter(
        account_id=account_id, style=WebhookStyle.SMSGATE, client_id=client_id
    )
    endpoint = existing.first() or WebhookEndpoint(
        account_id=account_id, style=WebhookStyle.SMSGATE, client_id=client_id, sealed_secret=""
    )
    endpoint.url, endpoint.events, endpoint.device_filter = url, [event], device_filter
    endpoint.enabled, endpoint.failing_since, endpoint.disabled_reason = True, None, ""
    endpoint.save()  # every process forgets its registrations (post_save)
    return endpoint


def smsgate_webhook_delete(*, account_id: int, client_id: str) -> None:
    for endpoint in WebhookEndpoint.objects.filter(
        account_id=account_id, style=WebhookStyle.SMSGATE, client_id=client_id
    ):
        endpoint.delete()  # post_delete: every process forgets it
