"""WSGI entry point: every HTTP request in production (the public API, the admin, health).

Served by granian's WSGI interface (``granian --interface wsgi mysmsapio.wsgi:application``):
a request runs on one of the worker's blocking threads from start to end, with no event loop,
no thread created per request and no hop between threads, which under Django's ASGI handler
cost several times the CPU of our own work (bench/api_send.py). The phones' long-lived
connections (WebSockets) need ASGI: the proxy routes ``/ws/`` to the ASGI processes
(mysmsapio/asgi.py) and everything else here.
"""

from __future__ import annotations

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysmsapio.settings")
# A fixed set of worker threads: a persistent database connection each (see settings).
os.environ.setdefault("DB_CONNECTIONS", "persistent")

django_wsgi_app = get_wsgi_application()

from mysmsapio.door import wsgi_client, wsgi_plain_http_refused  # noqa: E402
from mysmsapio.edge import edge_serve  # noqa: E402
from mysmsapio.handlers import API_PATH_PREFIXES, ApiWSGIHandler  # noqa: E402

api_wsgi_app = ApiWSGIHandler()

# Everything loaded so far (Django, the apps, their modules) lives as long as the process: out
# of the collector's way, so that its full passes stop pausing requests (p99 under load).
gc.freeze()


def application(environ, start_response):
    """The API's hottest calls get the edge (mysmsapio/edge.py), the rest of the API the lean
    handler; the admin and static files the full Django stack."""
    wsgi_client(environ)
    refused = wsgi_plain_http_refused(environ, start_response)
    if refused is not None:
        return refused
    answered = edge_serve(environ, start_response)
    if answered is not None:
        return answered
    app = api_wsgi_app if environ.get("PATH_INFO", "").startswith(API_PATH_PREFIXES) else django_wsgi_app
    return app(environ, start_response)
