"""The handlers of the public API: Django's, with a short middleware chain.

Django's own middleware (sessions, CSRF, auth, messages, ...) serve the admin; the API needs
none of them, and each costs time on every request (under ASGI, thread hops too): with them,
one ASGI process served about a quarter of the requests per second it serves without them
(measured on ``/up``; see bench/). Everything else (URLs, views, exception handling) is
Django's. ``ApiWSGIHandler`` serves the API in production (granian's WSGI interface, see
mysmsapio/wsgi.py); ``ApiASGIHandler`` in embedded mode's single ASGI process.
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.utils.module_loading import import_string

# Served by the API handlers: JSON in, JSON out, no session, no CSRF; resolved against
# API_URLCONF alone (the admin's URLs are never tried first).
API_PATH_PREFIXES = ("/api/", "/3rdparty/", "/up", "/ready", "/metrics")
API_URLCONF = "mysmsapio.api_root_urls"


class ApiMiddlewareLoader:
    """Django's ``BaseHandler.load_middleware`` for ``API_MIDDLEWARE`` instead of ``MIDDLEWARE``,
    in either mode (the one loader of both handlers below)."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response_async if is_async else self._get_response)
        for path in reversed(settings.API_MIDDLEWARE):
            middleware = import_string(path)
            if is_async and not getattr(middleware, "async_capable", False):
                raise RuntimeError(f"API middleware {path} must be async-capable")
            instance = middleware(handler)
            if hasattr(instance, "process_exception"):
                # Django runs exception middleware synchronously, as in BaseHandler.
                self._exception_middleware.append(self.adapt_method_mode(False, instance.process_exception))
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler


class ApiASGIHandler(ApiMiddlewareLoader, ASGIHandler):
    async def get_response_async(self, request):
        request.urlconf = API_URLCONF
        return await super().get_response_async(request)


class ApiWSGIHandler(ApiMiddlewareLoader, WSGIHandler):
    def get_response(self, request):
        request.urlconf = API_URLCONF
        return super().get_response(request)
