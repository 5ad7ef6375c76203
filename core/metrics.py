"""Prometheus instruments, per process (each web node is its own scrape target).

Counters and histograms are kept in memory by the process that observes them. This module is
a leaf that the apps import to observe; the ``/metrics`` view and the figures read from the
database at scrape time live in mysmsapio/metrics_view.py.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

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
REQUEST_LOG_REFUSED = Counter(
    "mysmsapio_request_log_refused_total",
    "Request log lines the database refused, dropped one by one.",
    registry=REGISTRY,
)
OTP_SENDS = Counter("mysmsapio_otp_sends_total", "OTP codes sent.", registry=REGISTRY)
OTP_VERIFICATIONS = Counter(
    "mysmsapio_otp_verifications_total", "OTP verifications by result.", ["result"], registry=REGISTRY
)
