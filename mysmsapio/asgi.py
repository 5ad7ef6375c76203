"""ASGI entry point: HTTP through Django, gateway WebSockets through Channels."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysmsapio.settings")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from gateways.routing import websocket_urlpatterns  # noqa: E402
from mysmsapio.daphne_limits import tune_daphne  # noqa: E402
from mysmsapio.handlers import API_PATH_PREFIXES, ApiASGIHandler  # noqa: E402

tune_daphne()

api_asgi_app = ApiASGIHandler()


async def http_application(scope, receive, send) -> None:
    """The API gets the lean handler; the admin and static files the full Django stack."""
    app = api_asgi_app if scope["path"].startswith(API_PATH_PREFIXES) else django_asgi_app
    await app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_application,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

if settings.EMBEDDED_SCHEDULER:
    from mysmsapio.scheduler import start_embedded_scheduler

    start_embedded_scheduler()
