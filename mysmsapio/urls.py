from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path

from gateways.views import agent_download

from . import views

urlpatterns = [
    path("up", views.up, name="up"),
    path("gateway/agent.py", agent_download, name="gateway-agent"),
    path("api/v1/", include("mysmsapio.api_urls")),
    # Anything else under /api/ is a JSON 404, never Django's HTML page or a slash redirect.
    re_path(r"^api/", views.api_not_found),
    path("admin/", admin.site.urls),
]
