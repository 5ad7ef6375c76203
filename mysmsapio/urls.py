from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from gateways.views import agent_download

urlpatterns = [
    path("", include("mysmsapio.api_root_urls")),
    path("gateway/agent.py", agent_download, name="gateway-agent"),
    # The integration guide sends operators to /admin/api_keys.
    re_path(r"^admin/api_keys/?$", RedirectView.as_view(pattern_name="admin:accounts_apikey_changelist")),
    # The webhook models moved from messaging to their own app: operators' bookmarks follow.
    re_path(
        r"^admin/messaging/(?P<rest>webhook(?:endpoint|event|attempt)/.*)$",
        RedirectView.as_view(url="/admin/webhooks/%(rest)s", query_string=True),
    ),
    path("admin/", admin.site.urls),
]
