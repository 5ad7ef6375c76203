"""The API request log, written off the request path.

Each API response appends one small record to an in-process buffer; a daemon thread writes
the buffer in one statement per interval. A request pays for encoding its line and a deque
append, never for a database write. The price: a process killed with SIGKILL loses at most one
interval of log lines (never a message: messages are written by the send path itself), and a
buffer that outgrows ``REQUEST_LOG_BUFFER_MAX`` (the database is down, say) drops its oldest
lines and says how many in the server log.
"""

from __future__ import annotations

import atexit
import functools
import logging
import re
import threading
import time
from collections import deque
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.models import ApiKey
from adminpanel.models import ApiRequest
from core import metrics
from core.logs import new_request_id, request_id_var
from core.text import storable_text
from mysmsapio.middleware import HybridMiddleware

logger = logging.getLogger("mysmsapio.requestlog")
access_logger = logging.getLogger("mysmsapio.access")

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Latency histograms cover the API and the health checks (not /metrics itself, nor the admin).
METRIC_PATHS = ("/api/", "/up", "/ready")
# Lines as ``_encode`` leaves them: COPY text (bytes) on PostgreSQL, parameter tuples elsewhere.
_buffer: deque[bytes | tuple] = deque()
_lock = threading.Lock()
_dropped = 0
_flusher: threading.Thread | None = None


def request_log_record(entry: dict[str, Any]) -> None:
    """A line given as a dict of ``ApiRequest``'s columns (only ``created_at``, ``method``,
    ``path``, ``status`` and ``latency_ms`` required)."""
    key_columns = _key_columns(
        entry.get("account_id"), entry.get("api_key_id"), entry.get("key_name", ""), entry.get("key_prefix", "")
    )
    request_log_append(
        _encode(
            entry["created_at"],
            key_columns,
            entry["method"],
            entry["path"],
            entry["status"],
            entry["latency_ms"],
            entry.get("client_ip"),
        )
    )


def request_log_append(line: bytes | tuple) -> None:
    global _dropped
    with _lock:
        if len(_buffer) >= settings.REQUEST_LOG_BUFFER_MAX:
            _buffer.popleft()
            _dropped += 1
        _buffer.append(line)
    _ensure_flusher()


def request_log_flush() -> int:
    """Write what the buffer holds; returns how many lines were written."""
    global _dropped
    with _lock:
        lines = list(_buffer)
        _buffer.clear()
        dropped, _dropped = _dropped, 0
    if dropped:
        logger.warning("request log: %d line(s) dropped (buffer full)", dropped)
    if not lines:
        return 0
    try:
        _insert(lines)
    except (DataError, IntegrityError):
        # One row the database refuses must not cost the batch: write them one by one and
        # drop (and count) only the refused ones.
        return _insert_one_by_one(lines)
    except Exception:
        # Put them back (oldest first) for the next interval; the buffer bound caps memory.
        logger.exception("request log: could not write %d line(s); will retry", len(lines))
        with _lock:
            _buffer.extendleft(reversed(lines))
            while len(_buffer) > settings.REQUEST_LOG_BUFFER_MAX:
                _buffer.popleft()
                _dropped += 1
        return 0
    return len(lines)


_COLUMNS = [
    "created_at",
    "account_id",
    "api_key_id",
    "key_name",
    "key_prefix",
    "method",
    "path",
    "status",
    "latency_ms",
    "client_ip",
]


# COPY's text format: a tab between columns, \N for NULL, and these escaped in text.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


def _encode(
    created_at: datetime,
    key_columns: str | tuple,
    method: str,
    path: str,
    status: int,
    latency_ms: float,
    client_ip: str | None,
) -> bytes | tuple:
    """The line as the flush writes it, encoded here, by the request that made it: encoding a
    second's lines at once in the flush thread held the web process's GIL for milliseconds,
    and a request waiting for it was the API's p99 under load (bench/results.md)."""
    if not _copy_lines():
        at = connection.ops.adapt_datetimefield_value(created_at)
        return (at, *key_columns, method, path, status, latency_ms, client_ip)
    method, path = _copy_text(method), _copy_text(path)
    ip = "\\N" if client_ip is None else _copy_text(client_ip)
    return f"{created_at.isoformat()}\t{key_columns}\t{method}\t{path}\t{status}\t{latency_ms}\t{ip}\n".encode()


@functools.lru_cache(maxsize=1024)
def _key_columns(account_id: int | None, api_key_id: int | None, key_name: str, key_prefix: str) -> str | tuple:
    """The key's four columns, encoded once per key rather than once per request."""
    if not _copy_lines():
        return (account_id, api_key_id, key_name, key_prefix)
    numbers = ("\\N" if n is None else str(n) for n in (account_id, api_key_id))
    return "\t".join([*numbers, _copy_text(key_name), _copy_text(key_prefix)])


@functools.cache
def _copy_lines() -> bool:
    # Asked once: ``connection.vendor`` goes through the connection proxy, a third of the cost
    # of encoding a line.
    return connection.vendor == "postgresql"


def _copy_text(value: str) -> str:
    return value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(value) else value


def _insert(lines: list[bytes | tuple]) -> None:
    table = connection.ops.quote_name(ApiRequest._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        if _copy_lines():  # the lines are COPY text (see _encode)
            # psycopg's own COPY: its errors are translated into Django's as a query's are.
            with connection.wrap_database_errors, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(b"".join(lines))
            return
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
        cursor.executemany(sql, lines)


def _insert_one_by_one(lines: list[bytes | tuple]) -> int:
    written = refused = 0
    for line in lines:
        try:
            _insert([line])
            written += 1
        except (DataError, IntegrityError):
            refused += 1
    if refused:
        logger.warning("request log: %d line(s) refused by the database, dropped", refused)
        metrics.REQUEST_LOG_REFUSED.inc(refused)
    return written


def request_log_discard() -> None:
    """Forget the buffer (tests start each case with an empty one)."""
    global _dropped
    with _lock:
        _buffer.clear()
        _dropped = 0


def _flush_forever(interval: float) -> None:
    while True:
        time.sleep(interval)
        try:
            request_log_flush()
        finally:
            # This thread owns its connection: back to the pool after each flush, or kept open
            # where connections are persistent (WSGI workers), as Django does at a request's end.
            connection.close_if_unusable_or_obsolete()


def _ensure_flusher() -> None:
    global _flusher
    if _flusher is not None:
        return
    interval = settings.REQUEST_LOG_FLUSH_SECONDS
    if interval <= 0:  # 0: flushed by the caller (tests)
        return
    with _lock:
        if _flusher is None:
            _flusher = threading.Thread(target=_flush_forever, args=(interval,), name="request-log", daemon=True)
            _flusher.start()
            atexit.register(request_log_flush)


@functools.lru_cache(maxsize=1024)
def _latency_series(method: str, route: str, status: int):
    # One histogram child per endpoint and answer: the client library's label lookup (checks
    # and a lock) on every request cost more than the observation itself.
    return metrics.API_LATENCY.labels(method, route, str(status))


class RequestLogMiddleware(HybridMiddleware):
    """Outermost middleware, so the latency covers the whole answer. For every request: a
    request id (the client's ``X-Request-ID`` if sane, else a new one) on each log line and in
    the response headers, the access log line, the latency histogram; for API requests, a line
    in the operators' request log."""

    # The id is set, never reset: Django logs 4xx/5xx answers after the middleware returns, and
    # those lines must carry it too. The next request on the thread (WSGI) or its own task
    # (ASGI) sets its own.
    # META, not request.headers: building the headers mapping parses every header, per request.
    def _call(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id_var.set(new_request_id(request.META.get("HTTP_X_REQUEST_ID")))
        response = self.get_response(request)
        self._record(request, response, started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id_var.set(new_request_id(request.META.get("HTTP_X_REQUEST_ID")))
        response = await self.get_response(request)
        self._record(request, response, started)
        return response

    @staticmethod
    def _record(request: HttpRequest, response: HttpResponse, started: float) -> None:
        response["X-Request-ID"] = request_id_var.get()
        # DRF puts the authenticated key on the Django request too. ``type`` rather than
        # ``isinstance``: the latter would evaluate the admin's lazy user (a session lookup).
        api_key = getattr(request, "user", None)
        # The URL's name, not its path: one series per endpoint, whatever the message id.
        match = getattr(request, "resolver_match", None)
        request_observe(
            method=request.method,
            path=request.path,
            route=(match.view_name or match.route) if match else "unmatched",
            status=response.status_code,
            elapsed=time.perf_counter() - started,
            api_key=api_key if type(api_key) is ApiKey else None,
            client_ip=request.META.get("REMOTE_ADDR"),
        )


def request_observe(
    *, method: str, path: str, route: str, status: int, elapsed: float, api_key: ApiKey | None, client_ip: str | None
) -> None:
    """What every answered request leaves behind: the access log line, the latency histogram
    and, for the API, a line in the operators' request log. Called by the middleware and by
    the API's lean edge (mysmsapio/edge.py)."""
    latency_ms = round(elapsed * 1000, 2)
    # A client chooses the method: made-up ones (any length, any number of them) share one
    # label and one short form, so that they cannot grow the metrics or the log lines.
    method = method if method in HTTP_METHODS else "other"
    if settings.ACCESS_LOG:
        access_logger.info(
            "%s %s %s %.1fms",
            method,
            path,
            status,
            latency_ms,
            extra={
                "http": {
                    "method": method,
                    "path": path,
                    "status": status,
                    "latency_ms": latency_ms,
                    "client_ip": client_ip,
                }
            },
        )
    if path.startswith(METRIC_PATHS):
        _latency_series(method, route, status).observe(elapsed)
    if settings.REQUEST_LOG_ENABLED and path.startswith("/api/"):
        key_columns = (
            _key_columns(api_key.account_id, api_key.pk, api_key.name[:100], api_key.display_prefix)
            if api_key is not None
            else _key_columns(None, None, "", "")
        )
        # No query string: nothing a client sends beyond the route.
        path = storable_text(path[:200])
        request_log_append(
            _encode(timezone.now(), key_columns, method[:8], path, status, latency_ms, client_ip or None)
        )
