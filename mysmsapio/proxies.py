"""The client's address at the server's door: set once, before the edge, Django or Channels
read it, so that the login limiter, the logs, the metrics allowlist and the phones' APIs all
see the same client (core/clientaddr.py says whom to believe)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from core.clientaddr import client_address, is_trusted_proxy


def wsgi_client(environ: dict[str, Any]) -> None:
    """Put the client's address in ``REMOTE_ADDR``; drop a forwarded scheme no proxy of ours set."""
    trusted = settings.TRUSTED_PROXY_NETWORKS
    if not trusted:
        return
    peer = environ.get("REMOTE_ADDR", "")
    if not is_trusted_proxy(peer, trusted):
        environ.pop("HTTP_X_FORWARDED_PROTO", None)
        return
    environ["REMOTE_ADDR"] = client_address(peer, environ.get("HTTP_X_FORWARDED_FOR"), trusted)


def asgi_client(scope: dict[str, Any]) -> dict[str, Any]:
    """The same for an ASGI connection (HTTP or WebSocket): a new scope with the client's address."""
    trusted = settings.TRUSTED_PROXY_NETWORKS
    if not trusted or scope["type"] not in ("http", "websocket") or not scope.get("client"):
        return scope
    (peer, port), headers = scope["client"], scope.get("headers", [])
    if not is_trusted_proxy(peer, trusted):
        return {**scope, "headers": [(name, value) for name, value in headers if name != b"x-forwarded-proto"]}
    forwarded = b",".join(value for name, value in headers if name == b"x-forwarded-for").decode("latin-1")
    return {**scope, "client": (client_address(peer, forwarded, trusted), port)}
