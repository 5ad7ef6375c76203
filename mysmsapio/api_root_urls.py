"""The URLs behind ``API_PATH_PREFIXES``: the public API and the health checks.

The API handlers (mysmsapio/handlers.py) resolve requests against this list alone, not the
admin's; the root URLconf includes it first, so both see the same routes.
"""

from __future__ import annotations

from django.urls import include, path, re_path

from . import views
from .metrics_view import metrics_view

urlpatterns = [
    path("up", views.up, name="up"),
    path("ready", views.ready, name="ready"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/openapi.json", views.openapi_json, name="openapi"),
    path("api/docs/", views.api_docs, name="api-docs"),
    path("api/v1/", include("clientapi.urls")),
    path("api/mobile/v1/", include("gateways.mobile_urls")),
    # SMS Gate's client API (smsgate/), where its libraries expect it on a private server, and
    # where they reach its public cloud (docs/smsgate-clients.md).
    path("api/3rdparty/v1/", include("smsgate.urls")),
    path("3rdparty/v1/", include(("smsgate.urls", "smsgate"), namespace="smsgate-short")),
    # Anything else under /api/ is a JSON 404, never Django's HTML page or a slash redirect.
    re_path(r"^api/", views.api_not_found),
]
