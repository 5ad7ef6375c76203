from __future__ import annotations

from django.urls import path

from .consumers import GatewayConsumer
from .middleware import GatewayTokenAuthMiddleware

# No Origin check here: phones are native clients and send no Origin header.
websocket_urlpatterns = [
    path("ws/gateway/", GatewayTokenAuthMiddleware(GatewayConsumer.as_asgi())),
]
