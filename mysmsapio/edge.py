"""The public API's lean edge: its hottest calls answered without Django's request cycle.

Why: ``sms/status`` and ``otp/verify`` do one indexed read, and ``sms/send`` one Redis counter
and one INSERT, yet through Django's handler, the API middleware and DRF a status request
cost twice the server CPU of the bare reference app measured in the same run (0.79 against
0.40 ms per request at 16 clients, bench/results.md, commit 5f589be), which capped these
reads at about half the reference's rate. Through the edge, in a later run, 0.26 against
the reference's 0.31 ms. The edge keeps every part that
decides an answer (the same key lookup, permission check, answer functions shared with the
DRF views, error answers and JSON renderer) and leaves out the machinery around them.

It answers only a request it is sure of: a route of ``EDGE_ROUTES``, a usable key with the
route's permission (for SMS Gate's client API's send: right Basic credentials, not locked
out), and for a POST a small UTF-8 JSON object. Anything else (no key, a
revoked one, a missing permission, a body that is not such an object, an unknown route or
method) falls through to Django unchanged, so every error about the request itself keeps
its one implementation there. Errors raised by the answer itself (404 message not found,
422 invalid OTP, 503 database unavailable) are the contract's, through
``core.errors.api_error_answer``, the function DRF's exception handler uses. What a
request leaves behind (request id, access log, latency histogram, request log, headers) is
what the middleware leaves; tests/test_edge.py compares the two paths answer for answer.
Host validation, the scheme and the security headers are Django's own (``WSGIRequest.get_host``
and ``is_secure``, ``SecurityMiddleware.process_response``): 3.5 us a request for host and
scheme, against 6.1 us through a whole WSGIRequest, in one microbenchmark (2026-12-06); so
their answers are remembered where only a header and the settings decide them.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.signals import setting_changed
from django.db import close_old_connections
from django.dispatch import receiver
from rest_framework.renderers import JSONRenderer

from accounts.authentication import api_key_from_authorization
from accounts.models import ApiKey, Permission
from clientapi.otp import otp_verify_answer
from clientapi.sms import sms_send_answer, sms_status_answer
from core.api import ApiAnswer
from core.errors import api_error_answer, error_body
from core.logs import new_request_id, request_id_var
from mysmsapio.requestlog import request_observe
from smsgate.auth import Caller, basic_caller
from smsgate.views import smsgate_error, smsgate_send_answer

from .door import EnvironRequest
from .middleware import security_headers

logger = logging.getLogger("core.api")
request_logger = logging.getLogger("django.request")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8", "application/json;charset=utf-8"})
_renderer = JSONRenderer()


def _api_key_caller(route: EdgeRoute, environ: dict[str, Any]) -> ApiKey | None:
    """Our API's caller: a usable key with the route's permission (else Django answers)."""
    api_key = api_key_from_authorization(environ.get("HTTP_AUTHORIZATION", "").encode("iso-8859-1"))
    return api_key if api_key is not None and api_key.has_permission(route.permission) else None


def _same_error(status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return status, body


@dataclass(frozen=True)
class EdgeRoute:
    method: str
    pattern: re.Pattern[str]
    name: str  # the URL's name in clientapi/urls.py: the latency histogram's label
    permission: str
    # (caller, JSON body or None for a GET, the path's groups, the WSGI environ): the answer.
    answer: Callable[[Any, dict[str, Any] | None, dict[str, str], dict[str, Any]], ApiAnswer]
    allow: str  # the Allow header DRF's view sends
    # Who calls (an API key; SMS Gate's client API: its Basic login), or None: Django answers.
    caller: Callable[[EdgeRoute, dict[str, Any]], Any] = _api_key_caller
    # An error answer in the route's API's own shape (SMS Gate's is {"message": ...}).
    error: Callable[[int, dict[str, Any]], tuple[int, dict[str, Any]]] = _same_error


def _sms_send(api_key: ApiKey, data: dict | None, path: dict[str, str], environ: dict[str, Any]) -> ApiAnswer:
    return sms_send_answer(api_key, lambda: data, idempotency_key=environ.get("HTTP_IDEMPOTENCY_KEY"))


def _sms_status(api_key: ApiKey, data: dict | None, path: dict[str, str], environ: dict[str, Any]) -> ApiAnswer:
    return ApiAnswer(sms_status_answer(api_key, message_id=path["message_id"]))


def _otp_verify(api_key: ApiKey, data: dict | None, path: dict[str, str], environ: dict[str, Any]) -> ApiAnswer:
    return ApiAnswer(otp_verify_answer(api_key, data))


def _smsgate_caller(route: EdgeRoute, environ: dict[str, Any]) -> Caller | None:
    caller = basic_caller(environ.get("HTTP_AUTHORIZATION", "").encode("iso-8859-1"), environ.get("REMOTE_ADDR", ""))
    return caller if caller is not None and caller.may(route.permission) else None


def _smsgate_send(caller: Caller, data: dict | None, path: dict[str, str], environ: dict[str, Any]) -> ApiAnswer:
    request = EnvironRequest(environ)
    query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    base = environ["PATH_INFO"].rstrip("/")
    return smsgate_send_answer(
        caller, data, query, lambda message_id: request.build_absolute_uri(f"{base}/{message_id}")
    )


# The patterns match those of clientapi/urls.py and smsgate/urls.py (a trailing slash optional).
EDGE_ROUTES = [
    EdgeRoute("POST", re.compile(r"^/api/v1/sms/send/?$"), "sms-send", Permission.SEND_SMS, _sms_send, "POST, OPTIONS"),
    EdgeRoute(
        "GET",
        re.compile(r"^/api/v1/sms/status/(?P<message_id>[^/]+)/?$"),
        "sms-status",
        Permission.SEND_SMS,
        _sms_status,
        "GET, HEAD, OPTIONS",
    ),
    EdgeRoute(
        "POST", re.compile(r"^/api/v1/otp/verify/?$"), "otp-verify", Permission.VERIFY_OTP, _otp_verify, "POST, OPTIONS"
    ),
    # SMS Gate's client libraries' send, with Basic credentials (tokens go Django's way).
    EdgeRoute(
        "POST",
        re.compile(r"^(?:/api)?/3rdparty/v1/messages?/?$"),
        "smsgate-messages",
        "messages:send",
        _smsgate_send,
        "GET, POST, HEAD, OPTIONS",
        caller=_smsgate_caller,
        error=smsgate_error,
    ),
]


class _FallThrough(Exception):
    """Not a request the edge is sure of: Django answers it."""


def _route(environ: dict[str, Any]) -> tuple[EdgeRoute, dict[str, str]] | None:
    method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
    for route in EDGE_ROUTES:
        if route.method == method and (match := route.pattern.match(path)):
            return route, match.groupdict()
    return None


def _json_object(environ: dict[str, Any]) -> dict[str, Any]:
    """The body as a JSON object, or ``_FallThrough``. A body that was read is put back for
    Django to read again."""
    if environ.get("CONTENT_TYPE", "").strip().lower() not in _JSON_TYPES:
        raise _FallThrough
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        raise _FallThrough from None
    if not 0 < length <= settings.API_MAX_BODY_BYTES:
        raise _FallThrough
    raw = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        raise _FallThrough from None
    if not isinstance(data, dict):
        raise _FallThrough
    return data


def _no_constant(name: str) -> None:
    # DRF's strict JSON parser refuses NaN and Infinity (not JSON): so does the edge.
    raise ValueError(name)


def _answer(route: EdgeRoute, caller: Any, data: dict | None, path: dict[str, str], environ: dict) -> tuple:
    try:
        body, status, headers = route.answer(caller, data, path, environ)
        return status, body, headers
    except Exception as exc:
        answer = api_error_answer(exc)
        if answer is not None:
            status, body, headers = answer
            return (*route.error(status, body), headers)
        # As the API middleware does: the traceback to the log, a plain JSON 500 to the client.
        logger.exception("Unhandled error on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
        return 500, error_body("Internal server error", "internal_error"), {}


def _host_allowed(environ: dict[str, Any]) -> bool:
    """Django's ``get_host`` check. Its answer for a plain ``Host`` header (no forwarded host)
    depends on that header and the settings alone: remembered per header."""
    host = environ.get("HTTP_HOST")
    if host is not None and "HTTP_X_FORWARDED_HOST" not in environ:
        return _host_header_allowed(host)
    return _django_host_allowed(EnvironRequest(environ))


@functools.lru_cache(maxsize=256)  # bounded: made-up hosts only push out older entries
def _host_header_allowed(host: str) -> bool:
    return _django_host_allowed(EnvironRequest({"HTTP_HOST": host}))


def _django_host_allowed(request: EnvironRequest) -> bool:
    try:
        request.get_host()
    except DisallowedHost:
        return False
    return True


@receiver(setting_changed)
def _host_settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting in ("ALLOWED_HOSTS", "DEBUG", "USE_X_FORWARDED_HOST"):
        _host_header_allowed.cache_clear()


def _security_headers(environ: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Django's security headers; the scheme is asked only where they depend on it (HSTS)."""
    plain = security_headers(False)
    if plain == security_headers(True):
        return plain
    return security_headers(EnvironRequest(environ).is_secure())


def edge_serve(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes] | None:
    """The answer to a request the edge is sure of, or None: let Django answer it."""
    found = _route(environ)
    if found is None or (settings.API_CORS_ALLOWED_ORIGINS and "HTTP_ORIGIN" in environ):
        return None  # browsers' cross-origin calls get their CORS headers from Django's path
    if not _host_allowed(environ):
        return None  # Django's answer: 400 invalid_host
    route, kwargs = found
    started = time.perf_counter()
    request_id_var.set(new_request_id(environ.get("HTTP_X_REQUEST_ID")))
    # What Django's request signals do for a request, without the signals' dispatch (a sixth
    # of the edge's CPU): the database connection is checked, and replaced if broken or too
    # old, before and after. No receiver of ours listens to those signals.
    close_old_connections()
    try:
        try:
            data = _json_object(environ) if route.method == "POST" else None
            caller = route.caller(route, environ)
            if caller is None:
                raise _FallThrough
        except _FallThrough:
            return None
        except Exception:
            # The key lookup failed (the database is down, say): Django's path gives the
            # contract's answer to that (503, or a JSON 500 with the traceback logged).
            return None
        status, body, headers = _answer(route, caller, data, kwargs, environ)
    finally:
        close_old_connections()

    content = _renderer.render(body)
    header_list = [
        ("Content-Type", "application/json"),
        ("Allow", route.allow),
        *headers.items(),
        ("Content-Length", str(len(content))),
        *_security_headers(environ),
        ("X-Request-ID", request_id_var.get()),
    ]
    path = environ["PATH_INFO"]
    if status >= 400 and not settings.ACCESS_LOG:
        # Django's own line for an error answer (with the access log on, the access log says it).
        level = logging.ERROR if status >= 500 else logging.WARNING
        request_logger.log(level, "%s: %s", HTTPStatus(status).phrase, path)
    request_observe(
        method=route.method,
        path=path,
        route=route.name,
        status=status,
        elapsed=time.perf_counter() - started,
        api_key=caller if type(caller) is ApiKey else None,
        client_ip=environ.get("REMOTE_ADDR"),
    )
    start_response(f"{status} {HTTPStatus(status).phrase}", header_list)
    return [content]
