from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, ApiKey
from gateways.dispatch import gateway_notify_job
from gateways.models import Gateway
from gateways.selectors import gateway_pick_for_message
from mysmsapio.crypto import seal, unseal
from mysmsapio.errors import ValidationFailed

from .encoding import sms_encoding
from .models import Message, MessagePriority, MessageStatus, new_message_id
from .phone import normalize_phone_number

INVALID_PHONE = "Invalid phone number format"


@dataclass(frozen=True)
class ValidatedSms:
    to: str
    text: str


def sms_validate(*, to: object, text: object, to_field: str = "to") -> ValidatedSms:
    """Check a recipient and a text as the API receives them; raises ``ValidationFailed``."""
    if to is None:
        raise ValidationFailed(f"Missing required field: {to_field}", code="missing_field")
    normalized = normalize_phone_number(to)
    if normalized is None:
        raise ValidationFailed(INVALID_PHONE, code="invalid_phone_number")
    if text is None:
        raise ValidationFailed("Missing required field: message", code="missing_field")
    if not isinstance(text, str):
        raise ValidationFailed("Message must be a string", code="invalid_message")
    if not text.strip():
        raise ValidationFailed("Message must not be empty", code="invalid_message")
    if len(text) > settings.SMS_MAX_LENGTH:
        raise ValidationFailed(
            f"Message is too long (maximum {settings.SMS_MAX_LENGTH} characters)",
            code="message_too_long",
        )
    return ValidatedSms(to=normalized, text=text)


def message_create(
    *,
    account: Account,
    to: str,
    text: str,
    api_key: ApiKey | None = None,
    priority: int = MessagePriority.NORMAL,
    display_text: str | None = None,
    expires_at: datetime | None = None,
    gateway: Gateway | None = None,
) -> Message:
    """Store a message and hand it to a gateway once the row is committed.

    ``to`` and ``text`` must already be validated. ``display_text`` marks a secret-bearing
    text (an OTP): the row keeps ``display_text`` in the clear and ``text`` sealed.
    ``gateway`` lets a caller that already chose the phone skip choosing again.
    """
    now = timezone.now()
    gateway = gateway or gateway_pick_for_message(now=now)
    encoding = sms_encoding(text)
    message_id = new_message_id()
    message = Message.objects.create(
        id=message_id,
        account=account,
        api_key=api_key,
        to=to,
        body=text if display_text is None else display_text,
        sealed_body=None if display_text is None else seal(text, context=message_id),
        encoding=encoding.encoding,
        segments=encoding.segments,
        priority=priority,
        status=MessageStatus.QUEUED if gateway else MessageStatus.PENDING,
        gateway=gateway,
        created_at=now,
        queued_at=now if gateway else None,
        expires_at=expires_at or now + timedelta(seconds=settings.MESSAGE_VALIDITY_SECONDS),
    )
    if gateway is not None:
        # Only a committed row may be announced: a phone must never be woken for a job that
        # a rollback erased.
        transaction.on_commit(partial(gateway_notify_job, gateway_id=gateway.pk, message_id=message.pk))
    return message


def message_delivery_text(*, message: Message) -> str:
    """The text a phone must send: sealed OTP texts are opened only here."""
    if message.sealed_body:
        return unseal(message.sealed_body, context=message.pk)
    return message.body
