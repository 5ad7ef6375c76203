"""WebSocket routes. The gateway consumer (``/ws/gateway/``) is added with the phone protocol."""

from __future__ import annotations

websocket_urlpatterns: list = []
