"""Gateway-token authentication for the phones' WebSocket.

The token comes in ``Authorization: Bearer gw_live_...``, or ``?token=`` for clients that
cannot set headers (query strings reach access logs: prefer the header). The gateway, or
None, goes on ``scope["gateway"]``; the consumer refuses None with close code 4401.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from .db import phone_db
from .models import GatewayKind
from .services import gateway_get_by_token


def bearer_from_scope(scope) -> str:
    """The token of an ``Authorization: Bearer ...`` header of an ASGI scope, or ""."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""


def _token_from_scope(scope) -> str:
    if token := bearer_from_scope(scope):
        return token
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values else ""


class GatewayTokenAuthMiddleware:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        token = _token_from_scope(scope)
        gateway = await phone_db(gateway_get_by_token)(raw_token=token) if token else None
        if gateway is not None and gateway.kind != GatewayKind.AGENT:
            gateway = None  # an app gateway's token registers the app (/api/mobile/v1), nothing else
        return await self.app({**scope, "gateway": gateway}, receive, send)
