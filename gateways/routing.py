from __future__ import annotations

from django.urls import path

from .app_events import AppEventsConsumer
from .consumers import GatewayConsumer
from .middleware import GatewayTokenAuthMiddleware

# No Origin check here: phones are native clients and send no Origin header.
websocket_urlpatterns = [
    path("ws/gateway/", GatewayTokenAuthMiddleware(GatewayConsumer.as_asgi())),
]

# The SMS Gateway for Android app's event stream (HTTP, held open): its URL as typed, + /events.
APP_EVENTS_PATHS = frozenset({"/api/mobile/v1/events", "/api/mobile/v1/events/"})
app_events_asgi = AppEventsConsumer.as_asgi()
