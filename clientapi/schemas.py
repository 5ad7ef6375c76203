"""Every input and output of the client API, declared once: the views check requests and build
answers with these classes, and the OpenAPI document is generated from them (core/schema.py,
mysmsapio/openapi.py). The guide's error texts come from the checks in ``messaging``/``otp``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings

from core.errors import ValidationFailed
from core.pagination import InvalidCursor, cursor_decode
from core.schema import Answer, Field, Schema, choice, integer, json_integer, zoned_time
from core.text import is_storable_text
from messaging.models import MessageStatus, is_message_id
from messaging.services import (
    MAX_BULK_ITEMS,
    MAX_VALIDITY_SECONDS,
    MIN_VALIDITY_SECONDS,
    PRIORITIES,
    phone_number_check,
    send_at_check,
    sms_text_check,
)
from otp.services import CODE_DIGITS

INVALID_OTP = "Invalid or expired OTP"

# A number as ``phone_number_check`` accepts it: "+", then 8 to 15 digits, that libphonenumber
# finds possible for its country (which no pattern can say: hence the format's name).
PHONE = {"type": "string", "format": "e164", "pattern": r"^\s*\+[1-9][0-9]{7,14}\s*$", "maxLength": 64}
# Unicode text with something besides spaces, and no NUL or unpaired surrogate.
_STORABLE = r"[^\u0000\ud800-\udfff]"
TEXT = {"type": "string", "pattern": rf"^{_STORABLE}*[^\s\u0000\ud800-\udfff]{_STORABLE}*$", "minLength": 1}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}


# --- Inputs --------------------------------------------------------------------------------


class SmsSendInput(Schema):
    """``POST sms/send``: the guide's two fields, and three beyond it."""

    to = Field(PHONE, check=phone_number_check, required=True, description="The recipient, E.164")
    message = Field({**TEXT, "maxLength": settings.SMS_MAX_LENGTH}, check=sms_text_check, required=True)
    send_at = Field(
        {"type": "string", "format": "date-time"},
        check=send_at_check,
        description="Beyond the guide: not before this time, at most 30 days ahead",
    )
    validity = integer(
        "validity",
        MIN_VALIDITY_SECONDS,
        MAX_VALIDITY_SECONDS,
        message=f"validity must be a number of seconds from {MIN_VALIDITY_SECONDS} to {MAX_VALIDITY_SECONDS}",
        description="Beyond the guide: seconds a phone may still send it",
    )
    priority = choice("priority", list(PRIORITIES), description="Beyond the guide")


def _bulk_items(value: Any) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ValidationFailed("messages must be a non-empty list of {to, message} objects", code="invalid_messages")
    if len(value) > MAX_BULK_ITEMS:
        raise ValidationFailed(f"At most {MAX_BULK_ITEMS} messages per request", code="too_many_messages")
    return value


class SmsBulkInput(Schema):
    """``POST sms/bulk``. Each item is checked as ``sms/send`` checks a body; a bad item gets
    its own error in the answer while the others go on, so an item may be anything here."""

    messages = Field(
        {"type": "array", "minItems": 1, "maxItems": MAX_BULK_ITEMS, "items": {}},
        check=_bulk_items,
        required=True,
        missing=("messages must be a non-empty list of {to, message} objects", "invalid_messages"),
        description="Items as sms/send's body",
    )


class OtpSendInput(Schema):
    phone_number = Field(PHONE, check=phone_number_check, required=True)


def otp_code_check(value: Any) -> str:
    """A code as the client sent it; a JSON number has lost its leading zeros: put back."""
    value = json_integer(value)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValidationFailed(INVALID_OTP, code="invalid_otp")
    if isinstance(value, str) and not is_storable_text(value):  # it is hashed: it must encode
        raise ValidationFailed(INVALID_OTP, code="invalid_otp")
    return f"{value:0{CODE_DIGITS}d}" if isinstance(value, int) and value >= 0 else str(value).strip()


class OtpVerifyInput(Schema):
    phone_number = Field(PHONE, check=phone_number_check, required=True)
    code = Field(
        {
            "oneOf": [
                {"type": "string", "format": "otp-code", "pattern": rf"^\s*[0-9]{{{CODE_DIGITS}}}\s*$"},
                {"type": "integer", "minimum": 0, "maximum": 10**CODE_DIGITS - 1},
            ]
        },
        check=otp_code_check,
        required=True,
        description=f"The {CODE_DIGITS} digits sent (a JSON number keeps its leading zeros)",
    )


def _message_id(text: str) -> str:
    if not is_message_id(text):
        raise ValueError(text)
    return text


MAX_ROW_ID = 2**63 - 1  # a bigint: a larger number is no row's, and SQLite overflows on it


def _row_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ROW_ID:
        raise ValueError(text)
    return int(text)


def _cursor(parse_id: Callable[[str], Any]) -> Callable[[Any], tuple[datetime, Any]]:
    """The (time, id) of the last item of the page before, from its ``next_cursor``."""

    def check(value: Any) -> tuple[datetime, Any]:
        try:
            return cursor_decode(value if isinstance(value, str) else "", parse_id=parse_id)
        except InvalidCursor:
            raise ValidationFailed("Invalid cursor", code="invalid_cursor") from None

    return check


# A page's ``next_cursor``, given back as it came: opaque, and only the server's are valid.
CURSOR = {"type": "string", "pattern": r"^[A-Za-z0-9_-]+$", "description": "a next_cursor of this list"}


class SmsListQuery(Schema):
    limit = integer("limit", 1, 200, query=True, empty_is_absent=True)
    status = choice("status", list(MessageStatus.values), empty_is_absent=True)
    to = Field({"type": "string"}, empty_is_absent=True, description="Only messages to this number, E.164")
    since = zoned_time("since", empty_is_absent=True)
    until = zoned_time("until", empty_is_absent=True)
    cursor = Field({**CURSOR, "format": "message-cursor"}, check=_cursor(_message_id), empty_is_absent=True)


class SmsInboxQuery(Schema):
    limit = integer("limit", 1, 200, query=True, empty_is_absent=True)
    since = zoned_time("since", empty_is_absent=True)
    cursor = Field({**CURSOR, "format": "inbox-cursor"}, check=_cursor(_row_id), empty_is_absent=True)


# --- Outputs -------------------------------------------------------------------------------


class Error(Schema):
    """Every error: the guide's text, and a stable machine code beside it; for some (a number
    not in E.164, an Authorization header not of the form ``Bearer <key>``) a hint too."""

    error = Field({"type": "string"}, required=True)
    code = Field({"type": "string"}, required=True)
    hint = Field({"type": "string"}, description="what exactly is wrong, and how to mend it")


class SmsAccepted(Answer):
    success = Field({"type": "boolean", "const": True})
    message_id = Field({"type": "string"})
    status = Field({"type": "string", "enum": [MessageStatus.QUEUED.value, MessageStatus.PENDING.value]})


class SmsStatus(Answer):
    message_id = Field({"type": "string"})
    status = Field({"type": "string", "enum": list(MessageStatus.values)})
    sent_at = Field(NULLABLE_TIME)
    delivered_at = Field(NULLABLE_TIME)
    failed_at = Field(NULLABLE_TIME)
    error_message = Field({"type": ["string", "null"]})


class SmsListItem(SmsStatus):
    to = Field({"type": "string"})
    created_at = Field({"type": "string", "format": "date-time"})


class SmsPage(Answer):
    messages = Field({"type": "array", "items": SmsListItem.json_schema()})
    next_cursor = Field({"type": ["string", "null"]})


class InboxItem(Answer):
    id = Field({"type": "integer"})
    sender = Field({"type": "string"}, name="from")
    text = Field({"type": "string"})
    received_at = Field({"type": "string", "format": "date-time"})
    gateway = Field({"type": ["string", "null"]})
    sim_slot = Field({"type": ["integer", "null"]})


class InboxPage(Answer):
    messages = Field({"type": "array", "items": InboxItem.json_schema()})
    next_cursor = Field({"type": ["string", "null"]})


class BulkResult(Schema):
    """One item's outcome: its message (``message_id``, ``status``) or its error."""

    index = Field({"type": "integer"})
    message_id = Field({"type": "string"})
    status = Field({"type": "string"})
    error = Field({"type": "string"})
    code = Field({"type": "string"})


class SmsBulkAccepted(Answer):
    success = Field({"type": "boolean"})
    accepted = Field({"type": "integer"})
    rejected = Field({"type": "integer"})
    results = Field({"type": "array", "items": BulkResult.json_schema()})


class OtpSent(Answer):
    success = Field({"type": "boolean", "const": True})
    message = Field({"type": "string"})
    expires_in = Field({"type": "integer", "description": "seconds"})


class OtpVerified(Answer):
    success = Field({"type": "boolean", "const": True})
    message = Field({"type": "string"})
