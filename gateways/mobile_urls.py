"""/api/mobile/v1: the SMS Gateway for Android app's private-server API (gateways/mobile_views.py).

The app appends these paths to the URL typed into it, with no trailing slash; the Go server
also answers ``/messages``. ``/events`` lives on the phone nodes (mysmsapio/asgi.py); a web
node that receives it says where it belongs.
"""

from __future__ import annotations

from django.urls import re_path

from . import mobile_views as views

urlpatterns = [
    re_path(r"^device/?$", views.DeviceApi.as_view(), name="mobile-device"),
    re_path(r"^messages?/?$", views.MessagesApi.as_view(), name="mobile-messages"),
    re_path(r"^settings/?$", views.SettingsApi.as_view(), name="mobile-settings"),
    re_path(r"^webhooks/?$", views.WebhooksApi.as_view(), name="mobile-webhooks"),
    re_path(r"^user/code/?$", views.UserCodeApi.as_view(), name="mobile-user-code"),
    re_path(r"^user/password/?$", views.UserPasswordApi.as_view(), name="mobile-user-password"),
    re_path(r"^events/?$", views.EventsElsewhereApi.as_view(), name="mobile-events"),
    re_path(r"^inbound/(?P<device_id>[^/]+)/?$", views.InboundWebhookApi.as_view(), name="mobile-inbound"),
]
