"""ASGI entry point: HTTP through Django; the phones' WebSockets and event streams through Channels."""

from __future__ import annotations

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysmsapio.settings")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from gateways.routing import APP_EVENTS_PATHS, app_events_asgi, websocket_urlpatterns  # noqa: E402
from mysmsapio.daphne_limits import tune_daphne  # noqa: E402
from mysmsapio.door import asgi_client, asgi_plain_http_refused  # noqa: E402
from mysmsapio.handlers import API_PATH_PREFIXES, ApiASGIHandler  # noqa: E402

tune_daphne()

api_asgi_app = ApiASGIHandler()


async def http_application(scope, receive, send) -> None:
    """The app phones' event streams are held here (Channels); the API gets the lean handler;
    the admin and static files the full Django stack."""
    if scope["path"] in APP_EVENTS_PATHS:
        app = app_events_asgi
    elif scope["path"].startswith(API_PATH_PREFIXES):
        app = api_asgi_app
    else:
        app = django_asgi_app
    await app(scope, receive, send)


protocol_router = ProtocolTypeRouter(
    {
        "http": http_application,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)


async def application(scope, receive, send) -> None:
    """Every connection, HTTP or WebSocket, through the door first (mysmsapio/door.py)."""
    scope = asgi_client(scope)
    if not await asgi_plain_http_refused(scope, receive, send):
        await protocol_router(scope, receive, send)


if settings.EMBEDDED_SCHEDULER:
    from mysmsapio.scheduler import start_embedded_scheduler

    start_embedded_scheduler()

# Everything loaded so far (Django, Channels, the apps) lives as long as the process: out of
# the collector's way. Unfrozen, a full collection of the phone server walked all of it, a
# 77 ms pause of every phone's frames in the middle of a bench/dispatch.py run (as wsgi.py).
gc.freeze()
