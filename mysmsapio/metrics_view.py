"""``GET /metrics`` (Prometheus): this process's instruments (core/metrics.py) and the
database figures (messages by status, queue depth, phones online), read at scrape time so
that every node reports the same truth.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily

from core.crypto import hashes_match
from core.errors import json_error, require_safe_json
from core.metrics import REGISTRY
from core.operations import plain_operation
from core.schema import Answer, Field
from gateways.selectors import gateway_list_online
from messaging.models import MessageStatus
from messaging.selectors import message_count_by_status


class DatabaseCollector:
    """Figures read from the database at each scrape."""

    def describe(self):
        # Without this, registering would call collect(): a query while the app loads.
        yield GaugeMetricFamily("mysmsapio_messages", "Messages stored, by status.", labels=["status"])
        yield GaugeMetricFamily("mysmsapio_queue_depth", "Messages not yet taken by a phone.", labels=["status"])
        yield GaugeMetricFamily("mysmsapio_phones_online", "Gateway phones online.")

    def collect(self):
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


class MetricsForbidden(Answer):
    """Neither the metrics token nor an allowed address."""

    error = Field({"type": "string"})
    code = Field({"type": "string", "const": "forbidden"})


@plain_operation("/metrics", "metrics", answers={200: "text/plain", 403: MetricsForbidden}, tag="metrics")
@require_safe_json
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, in its text format. Open to METRICS_ALLOWED_IPS, or from anywhere with
    ``Authorization: Bearer <METRICS_TOKEN>``."""
    if not _allowed(request):
        return json_error("Forbidden: metrics need the metrics token or an allowed address", "forbidden", 403)
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
