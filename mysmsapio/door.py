"""What every request and connection goes through first, in either server, before the edge,
Django or Channels see it:

- the client's address: set once from our own proxies' ``X-Forwarded-For``, so that the login
  limiter, the logs, the metrics allowlist and the phones' APIs all see the same client
  (core/clientaddr.py says whom to believe);
- with ``HTTPS=true``, the API and the phones' routes refuse plain HTTP with a JSON 403
  rather than serve it: a redirect would have the client send its key in clear again, and
  a client that is never refused never learns that its URL is wrong. The admin redirects
  (Django's SecurityMiddleware); the health checks answer either way.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest

from core.clientaddr import client_address, is_trusted_proxy

# The routes where a key or a phone's token travels: never over plain HTTP once HTTPS is on.
SECURE_ONLY_PREFIXES = ("/api/", "/3rdparty/", "/ws/")
HTTPS_REQUIRED = {"error": "HTTPS required: call this server at its https:// address", "code": "https_required"}
_HTTPS_REQUIRED_BODY = json.dumps(HTTPS_REQUIRED).encode()


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


class EnvironRequest(HttpRequest):
    """Django's own host and scheme rules (``get_host``, ``is_secure``) on the WSGI environ,
    without the rest of a WSGIRequest: that one decodes the path, parses the query string and
    writes PATH_INFO back into the environ, which the handler a request falls through to must
    get as it came (a non-ASCII path then crashed it: a 500)."""

    _get_scheme = WSGIRequest._get_scheme

    def __init__(self, environ: dict[str, Any]) -> None:  # no HttpRequest.__init__: nothing else is read
        self.environ = self.META = environ


class _ScopeRequest(HttpRequest):
    """Django's ``is_secure`` (SECURE_PROXY_SSL_HEADER, else the connection's scheme) on an
    ASGI scope, WebSockets included."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope, self.META = scope, {}
        if settings.SECURE_PROXY_SSL_HEADER:
            name = settings.SECURE_PROXY_SSL_HEADER[0]
            wanted = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
            values = [value for header, value in scope.get("headers", ()) if header == wanted]
            if values:
                self.META[name] = b",".join(values).decode("latin-1")

    def _get_scheme(self) -> str:
        return "https" if self.scope.get("scheme") in ("https", "wss") else "http"


def wsgi_plain_http_refused(environ: dict[str, Any], start_response) -> list[bytes] | None:
    """The 403 for an API or phone request over plain HTTP while HTTPS is on; else None."""
    if not settings.HTTPS or not environ.get("PATH_INFO", "").startswith(SECURE_ONLY_PREFIXES):
        return None
    if EnvironRequest(environ).is_secure():
        return None
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(_HTTPS_REQUIRED_BODY)))]
    start_response("403 Forbidden", headers)
    return [_HTTPS_REQUIRED_BODY]


async def asgi_plain_http_refused(scope: dict[str, Any], receive, send) -> bool:
    """The same under ASGI: a 403 answer, or a WebSocket handshake refused with 403. True if refused."""
    if not settings.HTTPS or scope["type"] not in ("http", "websocket"):
        return False
    if not scope.get("path", "").startswith(SECURE_ONLY_PREFIXES) or _ScopeRequest(scope).is_secure():
        return False
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})  # before the accept: daphne answers 403
        return True
    length = str(len(_HTTPS_REQUIRED_BODY)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", length)]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": _HTTPS_REQUIRED_BODY})
    return True
