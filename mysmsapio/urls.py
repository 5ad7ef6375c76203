from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from gateways.views import agent_download

from . import views
from .metrics import metrics_view

urlpatterns = [
    path("up", views.up, name="up"),
    path("ready", views.ready, name="ready"),
    path("metrics", metrics_view, name="metrics"),
    path("gateway/agent.py", agent_download, name="gateway-agent"),
    path("api/v1/", include("mysmsapio.api_urls")),
    # Anything else under /api/ is a JSON 404, never Django's HTML page or a slash redirect.
    re_path(r"^api/", views.api_not_found),
    # The integration guide sends operators to /admin/api_keys.
    re_path(r"^admin/api_keys/?$", RedirectView.as_view(pattern_name="admin:accounts_apikey_changelist")),
    path("admin/", admin.site.urls),
]
