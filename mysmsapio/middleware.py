"""The public API's middleware: every answer under ``/api/`` is JSON, even where DRF never
gets control, and carries the headers Django's (admin-only) middleware would have set.

Native async as well as sync: under ASGI a sync-only middleware costs a thread hop per
request, and this one sits on the send path.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware.security import SecurityMiddleware

from core.errors import json_error

logger = logging.getLogger("core.api")


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


def _body_too_large(request: HttpRequest) -> HttpResponse | None:
    if not is_api_path(request.path):
        return None
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    maximum = settings.API_BULK_MAX_BODY_BYTES if _BULK_PATH.match(request.path) else settings.API_MAX_BODY_BYTES
    if length <= maximum:
        return None
    return json_error(f"Request body too large (maximum {maximum} bytes)", "payload_too_large", 413)


# 1,000 messages of up to SMS_MAX_LENGTH characters need more than one message's cap.
_BULK_PATH = re.compile(r"^/api/v1/sms/bulk/?$")


def _finish(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    # A length lets clients reuse the connection without chunked decoding.
    if not response.streaming and not response.has_header("Content-Length"):
        response["Content-Length"] = str(len(response.content))
    if settings.API_CORS_ALLOWED_ORIGINS and is_api_path(request.path):
        _cors(request, response)
    # What SecurityMiddleware sends for the admin (the API's chain runs without it): HSTS over
    # https, nosniff, Referrer-Policy, Cross-Origin-Opener-Policy.
    return django_security().process_response(request, response)


# What a browser may send and read across origins, when API_CORS_ALLOWED_ORIGINS allows it.
CORS_REQUEST_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-ID"
CORS_EXPOSED_HEADERS = (
    "X-Request-ID, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, Idempotent-Replayed"
)


def _cors(request: HttpRequest, response: HttpResponse) -> None:
    origin = request.META.get("HTTP_ORIGIN")
    allowed = settings.API_CORS_ALLOWED_ORIGINS
    if not origin or ("*" not in allowed and origin not in allowed):
        return
    response["Access-Control-Allow-Origin"] = "*" if "*" in allowed else origin
    response["Vary"] = "Origin"
    response["Access-Control-Expose-Headers"] = CORS_EXPOSED_HEADERS
    if request.method == "OPTIONS" and response.status_code == 204:
        response["Access-Control-Allow-Methods"] = response.get("Allow", "")
        response["Access-Control-Allow-Headers"] = CORS_REQUEST_HEADERS
        response["Access-Control-Max-Age"] = "600"


@functools.cache
def django_security() -> SecurityMiddleware:
    """Django's own security middleware, for its ``process_response`` (it reads the SECURE_*
    settings when made: made again when a test changes one)."""
    return SecurityMiddleware(lambda request: None)


class _SchemeProbe(HttpRequest):
    def __init__(self, secure: bool) -> None:
        super().__init__()
        self._secure = secure

    def is_secure(self) -> bool:
        return self._secure


@functools.cache
def security_headers(secure: bool) -> tuple[tuple[str, str], ...]:
    """The headers ``django_security`` adds to an answer, over https or not: for the lean edge,
    which writes its headers itself."""
    response = HttpResponse()
    django_security().process_response(_SchemeProbe(secure), response)
    return tuple((name, value) for name, value in response.items() if name != "Content-Type")


@receiver(setting_changed)
def _security_settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("SECURE_"):
        django_security.cache_clear()
        security_headers.cache_clear()


class HybridMiddleware:
    """A middleware that runs natively in both modes: ``_call`` under WSGI (and the test
    client), ``_acall`` under ASGI, where a sync-only middleware would cost thread hops."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        return self._acall(request) if self.is_async else self._call(request)

    def _call(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError


def _host_refused(request: HttpRequest) -> HttpResponse | None:
    # What CommonMiddleware does for the admin (the API's chain has no CommonMiddleware).
    try:
        request.get_host()
    except DisallowedHost:
        return json_error("Invalid Host header", "invalid_host", 400)
    return None


class ApiMiddleware(HybridMiddleware):
    def _call(self, request: HttpRequest) -> HttpResponse:
        refused = _host_refused(request) or _body_too_large(request)
        return _finish(request, refused or self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        refused = _host_refused(request) or _body_too_large(request)
        return _finish(request, refused or await self.get_response(request))

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path):
            return None
        # The traceback goes to the log (which never holds request bodies or headers); the
        # client gets a plain JSON 500.
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return json_error("Internal server error", "internal_error", 500)
