"""Logging: JSON lines in production, a request id on every line of a request, secrets
redacted from whatever a log line says."""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str] = ContextVar("request_id", default="")

# A client may pass its own id (to correlate with its logs) if it looks like one.
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,100}$")
# Raw API keys, gateway tokens and Authorization values, wherever they appear in a message.
# (API keys live and test, gateway and app-device tokens, webhook signing secrets.)
_SECRETS = re.compile(
    r"\b(api_live_|api_test_|gw_live_|gwd_live_|whsec_)[A-Za-z0-9+/=]+|\b(Bearer\s+)[^\s\"']+", re.IGNORECASE
)


def new_request_id(incoming: str | None) -> str:
    if incoming and _CLIENT_REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def redact(text: str) -> str:
    return _SECRETS.sub(lambda m: f"{m.group(1) or m.group(2)}[redacted]", text)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RedactSecretsFilter(logging.Filter):
    """Last line of defence: code never logs secrets on purpose, and this catches accidents
    (an exception message quoting a header, a third-party library's debug line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, and any ``http``
    fields passed as ``extra`` (the access log)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or None,
        }
        if http := getattr(record, "http", None):
            line["http"] = http
        if record.exc_info:
            line["exc"] = record.exc_text or redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)
