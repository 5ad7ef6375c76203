"""Keeps every answer under ``/api/`` JSON, even where DRF never gets control."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .errors import json_error

logger = logging.getLogger("mysmsapio.api")


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


class ApiErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_path(request.path) and self._body_too_large(request):
            return json_error(
                f"Request body too large (maximum {settings.API_MAX_BODY_BYTES} bytes)",
                "payload_too_large",
                413,
            )
        return self.get_response(request)

    @staticmethod
    def _body_too_large(request: HttpRequest) -> bool:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return False
        return length > settings.API_MAX_BODY_BYTES

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path):
            return None
        # The traceback goes to the log (which never holds request bodies or headers); the
        # client gets a plain JSON 500.
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return json_error("Internal server error", "internal_error", 500)
