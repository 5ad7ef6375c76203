"""Read-only figures for the dashboard and the logs page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncHour
from django.utils import timezone

from gateways.models import GatewayEvent
from gateways.selectors import gateway_count_online
from messaging.models import Message, MessageEvent, MessageStatus
from messaging.selectors import message_count_by_status, message_count_scheduled
from otp.models import Otp, OtpStatus

from .models import ApiRequest

HOURS = 24
# Messages no phone has taken yet: the queue depth.
QUEUE = [MessageStatus.PENDING, MessageStatus.QUEUED]


@dataclass(frozen=True)
class PhoneDelivery:
    name: str
    handed: int  # messages the phone accepted (sent, delivered or failed)
    delivered: int
    failed: int

    @property
    def rate(self) -> float:
        return self.delivered / self.handed if self.handed else 0.0


@dataclass
class Dashboard:
    phones_online: int
    phones_total: int
    pending: int
    queued: int
    # Of ``pending``, those waiting for their time (send_at), not for a phone.
    scheduled: int
    # One dict per hour, oldest first: {"hour": datetime, "queued": n, "pending": n, ...}
    hourly: list[dict]
    delivery: list[PhoneDelivery] = field(default_factory=list)
    otp_sent: int = 0
    otp_verified: int = 0

    @property
    def otp_conversion(self) -> float | None:
        return self.otp_verified / self.otp_sent if self.otp_sent else None


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def dashboard_get(*, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    since = _hour(now) - timedelta(hours=HOURS - 1)
    queue = message_count_by_status(statuses=QUEUE)
    hourly = {since + timedelta(hours=i): {s: 0 for s in MessageStatus.values} for i in range(HOURS)}
    rows = (
        Message.objects.filter(created_at__gte=since, is_test=False)
        .annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values_list("hour", "status")
        .annotate(n=Count("pk"))
    )
    for hour, status, n in rows:
        if hour in hourly:
            hourly[hour][status] = n
    handed = Q(status__in=[MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED], sent_at__isnull=False)
    per_phone = (
        Message.objects.filter(handed, created_at__gte=since, gateway__isnull=False, is_test=False)
        .values_list("gateway__name")
        .annotate(
            total=Count("pk"),
            delivered=Count("pk", filter=Q(status=MessageStatus.DELIVERED)),
            failed=Count("pk", filter=Q(status=MessageStatus.FAILED)),
        )
        .order_by("gateway__name")
    )
    delivery = [
        PhoneDelivery(name=name, handed=total, delivered=delivered, failed=failed)
        for name, total, delivered, failed in per_phone
    ]
    otps = Otp.objects.filter(created_at__gte=since, is_test=False).aggregate(
        sent=Count("pk"), verified=Count("pk", filter=Q(status=OtpStatus.VERIFIED))
    )
    phones_online, phones_total = gateway_count_online(now=now)
    return Dashboard(
        phones_online=phones_online,
        phones_total=phones_total,
        pending=queue[MessageStatus.PENDING],
        queued=queue[MessageStatus.QUEUED],
        scheduled=message_count_scheduled(now=now),
        hourly=[{"hour": hour, **counts} for hour, counts in hourly.items()],
        delivery=delivery,
        otp_sent=otps["sent"],
        otp_verified=otps["verified"],
    )


# --- The logs page ---------------------------------------------------------------------------

STATUS_CLASSES = {"2xx": (200, 300), "4xx": (400, 500), "5xx": (500, 600)}
# Message events that tell an operator a phone or a send went wrong.
MESSAGE_TROUBLE_EVENTS = ["failed", "released", "expired", "cancelled"]


def api_request_list(
    *, status_class: str = "", account_id: str = "", path: str = "", key: str = "", limit: int = 100
) -> QuerySet[ApiRequest]:
    requests = ApiRequest.objects.select_related("account").order_by("-created_at")
    if status_class in STATUS_CLASSES:
        low, high = STATUS_CLASSES[status_class]
        requests = requests.filter(status__gte=low, status__lt=high)
    if account_id.isdigit():
        requests = requests.filter(account_id=int(account_id))
    if path:
        requests = requests.filter(path__icontains=path)
    if key:
        requests = requests.filter(Q(key_name__icontains=key) | Q(key_prefix__icontains=key))
    return requests[:limit]


@dataclass(frozen=True)
class LogEvent:
    created_at: datetime
    gateway: str
    event: str
    detail: str
    message_id: str = ""


def gateway_event_list(*, gateway_id: str = "", event: str = "", limit: int = 100) -> list[LogEvent]:
    """Gateway events (connect, disconnect, offline, ...) merged with the message events that
    mean trouble (failed sends, jobs taken back from a phone, expiries), newest first."""
    gateway_events = GatewayEvent.objects.select_related("gateway").order_by("-created_at")
    message_events = (
        MessageEvent.objects.filter(event__in=MESSAGE_TROUBLE_EVENTS).select_related("gateway").order_by("-created_at")
    )
    if gateway_id.isdigit():
        gateway_events = gateway_events.filter(gateway_id=int(gateway_id))
        message_events = message_events.filter(gateway_id=int(gateway_id))
    if event:
        gateway_events = gateway_events.filter(event=event)
        message_events = message_events.filter(event=event)
    merged = chain(
        (LogEvent(e.created_at, e.gateway.name, e.event, e.detail) for e in gateway_events[:limit]),
        (
            LogEvent(e.created_at, e.gateway.name if e.gateway else "", e.event, e.detail, e.message_id)
            for e in message_events[:limit]
        ),
    )
    return sorted(merged, key=lambda e: e.created_at, reverse=True)[:limit]


def log_event_names() -> list[str]:
    names = set(GatewayEvent.objects.values_list("event", flat=True).distinct()) | set(MESSAGE_TROUBLE_EVENTS)
    return sorted(names)


# --- manage.py stats -------------------------------------------------------------------------


def ops_stats(*, now: datetime | None = None) -> dict[str, int]:
    """Queue depth, phones and throughput, for ``manage.py stats``."""
    now = now or timezone.now()
    minute, hour = now - timedelta(minutes=1), now - timedelta(hours=1)
    recent = Message.objects.filter(is_test=False).aggregate(
        accepted_last_hour=Count("pk", filter=Q(created_at__gte=hour)),
        sent_last_minute=Count("pk", filter=Q(sent_at__gte=minute)),
        sent_last_hour=Count("pk", filter=Q(sent_at__gte=hour)),
        delivered_last_hour=Count("pk", filter=Q(delivered_at__gte=hour)),
        failed_last_hour=Count("pk", filter=Q(failed_at__gte=hour)),
    )
    phones_online, phones_total = gateway_count_online(now=now)
    return {
        **message_count_by_status(statuses=QUEUE),
        "phones_online": phones_online,
        "phones_total": phones_total,
        **recent,
    }
