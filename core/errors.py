"""The API's one error shape: ``{"error": "<text>", "code": "<machine code>"}``.

Services raise ``ApiError`` subclasses; DRF's own exceptions and Django's 404/405/413/500 are
translated here and in ``mysmsapio.middleware`` so that nothing under ``/api/`` answers HTML.
The ``error`` texts written in the integration guide are exact and must not change.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, OperationalError, connections
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

logger = logging.getLogger(__name__)

INVALID_API_KEY = "Invalid or expired API key"
# An Authorization header that is there but is not "Bearer <key>": the same guide text as a
# wrong key, another machine code.
MALFORMED_AUTHORIZATION = "malformed_authorization"


class ApiError(Exception):
    """An answer other than success. A subclass names its status, machine code and default
    text in its class line: ``class Gone(ApiError, status=410, code="gone", message="Gone")``."""

    status_code = 400
    code = "bad_request"
    default_message = "Bad request"

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None, message: str | None = None):
        super().__init_subclass__()
        if status is not None:
            cls.status_code = status
        if code is not None:
            cls.code = code
        if message is not None:
            cls.default_message = message

    def __init__(self, message: str | None = None, *, code: str | None = None, hint: str = "") -> None:
        self.message = message or self.default_message
        if code:
            self.code = code
        # Beside a text the guide fixes, what exactly is wrong and how to mend it.
        self.hint = hint
        super().__init__(self.message)


class ValidationFailed(ApiError, status=422, code="invalid_request"):
    """Input that fails its declared checks (DRF's 400 is answered as this too)."""


class NotFound(ApiError, status=404, code="not_found", message="Not found"):
    """No such thing, or not the caller's: the two are never told apart."""


class Conflict(ApiError, status=409, code="conflict"):
    """The thing exists but is in no state for this (a duplicate id, a message already sent)."""


class RateLimited(ApiError, status=429, code="rate_limited"):
    """A budget is spent; ``retry_after`` seconds until it has room again."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


class NotOffered(ApiError, status=501, code="not_implemented"):
    """What a protocol we speak allows and this server deliberately does not do (said in docs/)."""


class ServiceUnavailable(ApiError, status=503, code="service_unavailable", message="Service temporarily unavailable"):
    """The database (or another part the answer needs) is out of reach: try again."""


def error_body(message: str, code: str, hint: str = "") -> dict[str, str]:
    return {"error": message, "code": code, "hint": hint} if hint else {"error": message, "code": code}


def json_error(message: str, code: str, status: int) -> JsonResponse:
    return JsonResponse(error_body(message, code), status=status)


def require_safe_json(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Django's ``require_safe`` (GET and HEAD only), answering a wrong method with the API's
    JSON 405 instead of an empty one: the app's own endpoints speak JSON like the API."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            response = json_error(f'Method "{request.method}" not allowed.', "method_not_allowed", 405)
            response["Allow"] = "GET, HEAD"
            return response
        return view(request, *args, **kwargs)

    return wrapped


def _drf_message(exc: drf_exceptions.APIException) -> str:
    detail = exc.detail
    if isinstance(detail, list) and detail:
        detail = detail[0]
    if isinstance(detail, dict) and detail:
        detail = next(iter(detail.values()))
        if isinstance(detail, list) and detail:
            detail = detail[0]
    return str(detail)


def _roll_back_atomic_requests() -> None:
    """What DRF's own handler does (``rest_framework.views.set_rollback``, which this module
    cannot import: DRF's views import our authentication, which imports us): an error answer
    must not commit the request's transaction under ``ATOMIC_REQUESTS``."""
    for db in connections.all():
        if db.settings_dict["ATOMIC_REQUESTS"] and db.in_atomic_block:
            db.set_rollback(True)


def api_error_answer(exc: Exception) -> tuple[int, dict[str, str], dict[str, str]] | None:
    """The contract's answer to one of our own failures (an ``ApiError``, the database being
    unavailable) as (status, body, headers), or None for anything else. Shared by DRF's
    exception handler and the API's lean edge (mysmsapio/edge.py)."""
    headers: dict[str, str] = {}
    hint = ""
    if isinstance(exc, ApiError):
        status, message, code, hint = exc.status_code, exc.message, exc.code, exc.hint
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, (OperationalError, InterfaceError)):
        # The database is down, or every pooled connection stayed busy past the pool's
        # timeout (overload): nothing was accepted, the client should retry.
        logger.warning("Database unavailable: %s", exc.__class__.__name__)
        status, message, code = 503, "Service temporarily unavailable", "database_unavailable"
        headers["Retry-After"] = "1"
    else:
        return None
    # Headers a service attached on the way out (the rate limit's, on a counted request).
    headers.update(getattr(exc, "response_headers", {}))
    return status, error_body(message, code, hint), headers


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler: every failure becomes the contract's JSON error."""
    answer = api_error_answer(exc)
    if answer is not None:
        status, body, headers = answer
        _roll_back_atomic_requests()
        return Response(body, status=status, headers=headers)
    headers: dict[str, str] = {}
    hint = ""
    if isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
        status, message, code = 401, INVALID_API_KEY, "invalid_api_key"
        if exc.get_codes() == MALFORMED_AUTHORIZATION:
            code, hint = MALFORMED_AUTHORIZATION, 'send the key as "Authorization: Bearer api_live_..."'
        headers["WWW-Authenticate"] = "Bearer"
    elif isinstance(exc, drf_exceptions.ParseError):
        status, message, code = 400, "Malformed JSON request body", "malformed_json"
    elif isinstance(exc, drf_exceptions.UnsupportedMediaType):
        status = 415
        message = "Unsupported content type: send a JSON body with Content-Type: application/json"
        code = "unsupported_media_type"
    elif isinstance(exc, drf_exceptions.MethodNotAllowed):
        status, message, code = 405, _drf_message(exc), "method_not_allowed"
    elif isinstance(exc, (Http404, drf_exceptions.NotFound)):
        status, message, code = 404, "Not found", "not_found"
    elif isinstance(exc, drf_exceptions.PermissionDenied):
        status, message, code = 403, _drf_message(exc), "permission_denied"
    elif isinstance(exc, drf_exceptions.APIException):
        status, message, code = exc.status_code, _drf_message(exc), exc.default_code
    else:
        # Unexpected: logged with its traceback by the middleware, answered without one.
        return None
    _roll_back_atomic_requests()
    return Response(error_body(message, code, hint), status=status, headers=headers)
