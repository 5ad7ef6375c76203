"""Prometheus metrics at /metrics, per process (each web node is its own scrape target).

Counters and histograms are kept in memory by the process that observes them; the database
figures (messages by status, queue depth, phones online) are read at scrape time, so every
node reports the same truth.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from .crypto import hashes_match
from .errors import json_error

REGISTRY = CollectorRegistry(auto_describe=True)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

API_LATENCY = Histogram(
    "mysmsapio_api_request_duration_seconds",
    "API requests by route and status, from first byte in to response out.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
DISPATCH_LATENCY = Histogram(
    "mysmsapio_dispatch_latency_seconds",
    "From a message's acceptance to its push to a phone.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
    registry=REGISTRY,
)
OTP_SENDS = Counter("mysmsapio_otp_sends_total", "OTP codes sent.", registry=REGISTRY)
OTP_VERIFICATIONS = Counter(
    "mysmsapio_otp_verifications_total", "OTP verifications by result.", ["result"], registry=REGISTRY
)


class DatabaseCollector:
    """Figures read from the database at each scrape."""

    def describe(self):
        # Without this, registering would call collect(): a query while the app loads.
        yield GaugeMetricFamily("mysmsapio_messages", "Messages stored, by status.", labels=["status"])
        yield GaugeMetricFamily("mysmsapio_queue_depth", "Messages not yet taken by a phone.", labels=["status"])
        yield GaugeMetricFamily("mysmsapio_phones_online", "Gateway phones online.")

    def collect(self):
        from gateways.selectors import gateway_list_online
        from messaging.models import MessageStatus
        from messaging.selectors import message_count_by_status

        by_status = message_count_by_status()
        messages = GaugeMetricFamily("mysmsapio_messages", "Messages stored, by status.", labels=["status"])
        for status, count in by_status.items():
            messages.add_metric([status], count)
        yield messages
        queue = GaugeMetricFamily("mysmsapio_queue_depth", "Messages not yet taken by a phone.", labels=["status"])
        for status in (MessageStatus.PENDING, MessageStatus.QUEUED):
            queue.add_metric([status], by_status[status])
        yield queue
        online = gateway_list_online().count()
        yield GaugeMetricFamily("mysmsapio_phones_online", "Gateway phones online.", value=online)


REGISTRY.register(DatabaseCollector())


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hashes_match(header[7:].strip(), token):
        return True
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(client in network for network in settings.METRICS_ALLOWED_NETWORKS)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return json_error("Forbidden: metrics need the metrics token or an allowed address", "forbidden", 403)
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
