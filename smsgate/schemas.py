"""SMS Gate's client API as its libraries speak it: each input declared once (core/schema.py),
with the names and limits of ``smsgate-3rdparty-api.md``, and the state of a message as they
read it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from core.errors import ValidationFailed
from core.schema import Answer, Field, Schema, array_of, choice, integer, nested, text
from core.text import is_storable_text
from core.times import parse_time_assuming_utc
from messaging.services import phone_number_check, sms_text_check

from .services import SETTINGS_KEYS, WRITE_ONLY

MAX_RECIPIENTS = 100
# A client-chosen id travels in URL paths: letters, digits and a few marks, at most 36.
MESSAGE_ID_PATTERN = r"^[A-Za-z0-9._~-]{1,36}$"
_MESSAGE_ID = re.compile(MESSAGE_ID_PATTERN)


def is_message_id(value: str) -> bool:
    """Of the form a message id takes here (ours, ``msg_...``, and clients' alike)."""
    return _MESSAGE_ID.fullmatch(value) is not None


def _message_id(value: Any) -> str:
    if not isinstance(value, str) or not is_message_id(value):
        raise ValidationFailed("id must be 1 to 36 letters, digits, '.', '_', '~' or '-'", code="invalid_id")
    return value


def _time(label: str, **kwargs: Any) -> Field:
    """RFC 3339; one without an offset (Python's ``isoformat()`` of a naive datetime) is UTC."""

    def check(value: Any) -> datetime:
        parsed = parse_time_assuming_utc(value) if isinstance(value, str) else None
        if parsed is None:
            raise ValidationFailed(f"{label} must be an RFC 3339 time", code=f"invalid_{label}")
        return parsed

    return Field({"type": "string", "format": "date-time"}, check=check, **kwargs)


def _boolean(name: str) -> Field:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationFailed(f"{name} must be true or false", code=f"invalid_{name}")
        return value

    return Field({"type": "boolean"}, check=check)


class TextContent(Schema):
    text = text("text", required=True, non_empty=True)


class SendMessage(Schema):
    """``POST /messages``: a text to one or more numbers."""

    id = Field({"type": "string", "pattern": MESSAGE_ID_PATTERN}, check=_message_id)
    message = text("message", description="legacy: the text")
    textMessage = nested(TextContent, "textMessage", message="textMessage must be an object with a text")
    dataMessage = Field({"type": "object"}, description="data SMS: not offered (400)")
    phoneNumbers = array_of(
        text("phoneNumbers", non_empty=True, message="each phone number must be a non-empty string"),
        "phoneNumbers",
        max_items=MAX_RECIPIENTS,
        message=f"phoneNumbers must be a list of 1 to {MAX_RECIPIENTS} numbers",
        required=True,
    )
    isEncrypted = _boolean("isEncrypted")
    simNumber = integer("simNumber", 1, 3)
    withDeliveryReport = _boolean("withDeliveryReport")
    priority = integer("priority", -128, 127)
    ttl = integer("ttl", 5, 366 * 24 * 3600)
    validUntil = _time("validUntil")
    scheduleAt = _time("scheduleAt")
    deviceId = text("deviceId")


class SendQuery(Schema):
    skipPhoneValidation = choice("skipPhoneValidation", ["true", "false"])
    deviceActiveWithin = integer("deviceActiveWithin", 1, 10_000, query=True)


class ListQuery(Schema):
    """``GET /messages``: a page of the account's messages."""

    state = choice("state", ["Pending", "Processed", "Sent", "Delivered", "Failed", "Cancelling", "Cancelled"])
    limit = integer("limit", 1, 100, query=True)
    offset = integer("offset", 0, 1_000_000, query=True)
    sort = choice("sort", ["created_at", "-created_at"])
    deviceId = text("deviceId")
    includeContent = choice("includeContent", ["true", "false", "True", "False"])
    since = _time("from", name="from")  # "from" and "to" in the query
    until = _time("to", name="to")


def recipients_unique(numbers: list[str]) -> list[str]:
    if not numbers:
        raise ValidationFailed(f"phoneNumbers must be a list of 1 to {MAX_RECIPIENTS} numbers", code="invalid_request")
    if len(set(numbers)) != len(numbers):
        raise ValidationFailed("phone numbers must be unique", code="invalid_request")
    return numbers


# An encrypted text or number is ciphertext, longer than what it hides; past these, refused.
MAX_ENCRYPTED_TEXT = 65535
MAX_ENCRYPTED_NUMBER = 255


def content_text(body: dict[str, Any]) -> str:
    """The text of a send: exactly one of ``message``, ``textMessage`` and ``dataMessage``;
    checked as any SMS text, or, encrypted, as ciphertext (stored text, at most 65535)."""
    given = [name for name in ("message", "textMessage", "dataMessage") if name in body]
    if len(given) != 1:
        raise ValidationFailed("must specify exactly one of: textMessage or dataMessage", code="invalid_request")
    if given == ["dataMessage"]:
        raise ValidationFailed("data SMS are not offered by this server: send a textMessage", code="invalid_request")
    content = body["message"] if given == ["message"] else body["textMessage"]["text"]
    if not body.get("isEncrypted"):
        return sms_text_check(content)
    if not is_storable_text(content) or not 0 < len(content) <= MAX_ENCRYPTED_TEXT:
        raise ValidationFailed("an encrypted text must be 1 to 65535 characters", code="invalid_request")
    return content


def recipient_numbers(body: dict[str, Any]) -> list[str]:
    """The numbers, each E.164 (the guide's check), unique; encrypted ones as they came."""
    numbers = body["phoneNumbers"]
    if body.get("isEncrypted"):
        if any(len(number) > MAX_ENCRYPTED_NUMBER or not is_storable_text(number) for number in numbers):
            raise ValidationFailed("an encrypted phone number must be at most 255 characters", code="invalid_request")
    else:
        numbers = [phone_number_check(number) for number in numbers]
    return recipients_unique(numbers)


def _scopes(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValidationFailed("scopes must be a list of at least one scope name", code="invalid_scopes")
    if len(value) > 32 or any(len(v) > 64 or not is_storable_text(v) for v in value):
        raise ValidationFailed("scopes: at most 32 names of at most 64 characters", code="invalid_scopes")
    return value


class TokenRequest(Schema):
    """``POST /auth/token``: the scopes the token may use, and for how long (seconds; capped)."""

    scopes = Field(
        {
            "type": "array",
            "items": {"type": "string", "pattern": r"\S", "maxLength": 64},
            "minItems": 1,
            "maxItems": 32,
        },
        check=_scopes,
        required=True,
    )
    ttl = integer("ttl", 0, 10 * 366 * 24 * 3600)


class WebhookRegistration(Schema):
    """``POST /webhooks``: where to send which event (of which device; none: all)."""

    id = Field(
        {"anyOf": [{"type": "string", "pattern": MESSAGE_ID_PATTERN}, {"const": ""}]},
        check=lambda v: v if v == "" else _message_id(v),
    )
    url = text("url", required=True, non_empty=True)
    event = text("event", required=True, non_empty=True)
    deviceId = text("deviceId")


class InboxRefresh(Schema):
    """``POST /inbox/refresh`` (and the deprecated export paths): the phones send again what
    they received in that time, as received SMS."""

    since = _time("since", required=True)
    until = _time("until", required=True)
    deviceId = text("deviceId")


class InboxQuery(Schema):
    """``GET /inbox``: the SMS the account's phones received, newest first."""

    since = _time("from", name="from")
    until = _time("to", name="to")
    deviceId = text("deviceId")
    type = choice("type", ["SMS", "DATA_SMS", "MMS", "MMS_DOWNLOADED"])
    limit = integer("limit", 1, 500, query=True)
    offset = integer("offset", 0, 1_000_000, query=True)
    includeAttachments = choice("includeAttachments", ["true", "false", "True", "False"])


# What the API answers, declared for the OpenAPI document (mysmsapio/openapi.py); the
# Schemathesis run in tests/live/test_openapi_fuzz.py holds the answers to them.
_STATES = ["Pending", "Processed", "Sent", "Delivered", "Failed", "Cancelling", "Cancelled"]
_TIME = {"type": "string", "format": "date-time"}


class SmsGateError(Answer):
    """Every error, in SMS Gate's shape."""

    message = Field({"type": "string"})


class RecipientState(Schema):
    phoneNumber = Field({"type": "string"}, required=True)
    state = Field({"type": "string", "enum": _STATES}, required=True)
    error = Field({"type": "string"}, description="why this recipient failed")


class MessageState(Schema):
    """A message's state: each recipient's, and the message's by SMS Gate's rule."""

    id = Field({"type": "string"}, required=True)
    deviceId = Field({"type": "string"}, required=True, description="the phone's, where known; else empty")
    state = Field({"type": "string", "enum": _STATES}, required=True)
    isHashed = Field({"type": "boolean"}, required=True)
    isEncrypted = Field({"type": "boolean"}, required=True)
    recipients = Field({"type": "array", "items": RecipientState.json_schema()}, required=True)
    states = Field({"type": "object", "additionalProperties": _TIME}, required=True)
    createdAt = Field(_TIME, required=True)
    textMessage = Field(TextContent.json_schema(), description="left out of a list without includeContent=true")


class Device(Answer):
    """One of the account's phones (``agent-<n>`` for our agent, the app's own id otherwise)."""

    id = Field({"type": "string"})
    name = Field({"type": "string"})
    createdAt = Field(_TIME)
    updatedAt = Field(_TIME)
    lastSeen = Field(_TIME)
    online = Field({"type": "boolean"})


class HealthCheck(Answer):
    status = Field({"type": "string", "enum": ["pass", "fail"]})
    description = Field({"type": "string"})


class Health(Answer):
    """``pass``, ``warn`` (messages are taken and wait in the database) or ``fail`` (503)."""

    status = Field({"type": "string", "enum": ["pass", "warn", "fail"]})
    version = Field({"type": "string"})
    releaseId = Field({"type": "integer"})
    checks = Field({"type": "object", "additionalProperties": HealthCheck.json_schema()})


class TokenPair(Answer):
    """An access and a refresh token, spelt both ways (SMS Gate's server writes snake_case,
    its Python library reads camelCase)."""

    id = Field({"type": "string"})
    token_type = Field({"type": "string", "const": "Bearer"})
    access_token = Field({"type": "string"})
    refresh_token = Field({"type": "string"})
    expires_at = Field(_TIME)
    tokenType = Field({"type": "string", "const": "Bearer"})
    accessToken = Field({"type": "string"})
    refreshToken = Field({"type": "string"})
    expiresAt = Field(_TIME)


class Webhook(Answer):
    id = Field({"type": "string"})
    url = Field({"type": "string"})
    event = Field({"type": "string"})
    deviceId = Field({"type": ["string", "null"]})


class InboxMessage(Answer):
    id = Field({"type": "string"})
    type = Field({"type": "string", "const": "SMS"})
    sender = Field({"type": "string"})
    contentPreview = Field({"type": "string"})
    createdAt = Field(_TIME)
    simNumber = Field({"type": ["integer", "null"]})


class Accepted(Answer):
    """An empty object: the phones were asked."""

    extra_fields = False


def _setting_json(kind: Any) -> dict[str, Any]:
    if isinstance(kind, list):
        return {"type": "string", "enum": kind}
    return {"positive integer": {"type": "integer", "minimum": 1}, "boolean": {"type": "boolean"}}.get(
        kind, {"type": "string", "maxLength": 256}
    )


def _section(section: str, *, answered: bool) -> Field:
    """A section's keys; written, a null key is left as it is (PATCH) or unset (PUT)."""
    keys = {
        key: _setting_json(kind) if answered else {"anyOf": [_setting_json(kind), {"type": "null"}]}
        for key, kind in SETTINGS_KEYS[section].items()
        if not (answered and (section, key) in WRITE_ONLY)
    }
    return Field({"type": "object", "properties": keys})


# GET /settings answers what PUT and PATCH wrote, but for the write-only keys.
Settings = type(
    "Settings",
    (Schema,),
    {"__doc__": "An account's settings, by section (docs/smsgate-clients.md)."}
    | {section: _section(section, answered=False) for section in SETTINGS_KEYS},
)
SettingsAnswer = type(
    "SettingsAnswer",
    (Answer,),
    {"__doc__": "The settings as stored (no signing key, no passphrase)."}
    | {section: _section(section, answered=True) for section in SETTINGS_KEYS},
)
SettingsAnswer.answers_every_field = False  # a section never written is left out

ERRORS = {
    400: "A field is missing or invalid, or the body is not JSON; the message says which",
    401: "Missing or wrong Basic credentials, or an invalid, expired or revoked token",
    403: "The token lacks the scope named in the message",
    404: "No such message, device, webhook or token for this account",
    405: "Method not allowed",
    409: "A message with this id exists already",
    413: "Request body too large",
    415: "Not a JSON body",
    429: "Rate limited, or locked out after too many failed logins; retry after Retry-After seconds",
    501: "Not offered by this server (docs/smsgate-clients.md)",
    503: "The database is briefly unavailable; retry",
}
