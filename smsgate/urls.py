from __future__ import annotations

from django.urls import re_path

from .views import (
    DeviceApi,
    DevicesApi,
    HealthApi,
    InboxApi,
    InboxExportApi,
    InboxRefreshApi,
    LogsApi,
    MessageApi,
    MessagesApi,
    SettingsApi,
    TokenApi,
    TokenRefreshApi,
    TokensApi,
    WebhookApi,
    WebhooksApi,
)

# The libraries call both the plural and SMS Gate's legacy singular (JS 3.0.0 sends to /message).
urlpatterns = [
    re_path(r"^health(?:/(?P<probe>live|ready|startup))?/?$", HealthApi.as_view(), name="smsgate-health"),
    re_path(r"^messages?/?$", MessagesApi.as_view(), name="smsgate-messages"),
    # Before the message routes: "inbox" is no message id.
    re_path(r"^inbox/refresh/?$", InboxRefreshApi.as_view(), name="smsgate-inbox-refresh"),
    re_path(r"^(?:messages/inbox/(?:refresh|export)|inbox/export)/?$", InboxExportApi.as_view(), name="smsgate-export"),
    re_path(r"^inbox/?$", InboxApi.as_view(), name="smsgate-inbox"),
    re_path(r"^logs/?$", LogsApi.as_view(), name="smsgate-logs"),
    re_path(r"^messages?/(?P<message_id>[^/]+)/?$", MessageApi.as_view(), name="smsgate-message"),
    re_path(r"^devices?/?$", DevicesApi.as_view(), name="smsgate-devices"),
    re_path(r"^devices?/(?P<device>[^/]+)/?$", DeviceApi.as_view(), name="smsgate-device"),
    re_path(r"^webhooks/?$", WebhooksApi.as_view(), name="smsgate-webhooks"),
    re_path(r"^webhooks/(?P<webhook_id>[^/]+)/?$", WebhookApi.as_view(), name="smsgate-webhook"),
    re_path(r"^settings/?$", SettingsApi.as_view(), name="smsgate-settings"),
    re_path(r"^auth/token/?$", TokensApi.as_view(), name="smsgate-tokens"),
    re_path(r"^auth/token/refresh/?$", TokenRefreshApi.as_view(), name="smsgate-token-refresh"),
    re_path(r"^auth/token/(?P<jti>[^/]+)/?$", TokenApi.as_view(), name="smsgate-token"),
]
