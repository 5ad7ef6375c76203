from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account, ApiKey
from gateways.dispatch import CANCEL, dispatch_assign_pending, gateway_notify_job, gateway_signal
from gateways.selectors import gateway_pick_for_message
from mysmsapio.crypto import seal, unseal
from mysmsapio.errors import ApiError, ValidationFailed

from .encoding import sms_encoding
from .models import InboundSms, Message, MessageEvent, MessagePriority, MessageStatus, new_message_id
from .phone import carrier_for_number, normalize_phone_number
from .selectors import message_get_by_idempotency_key

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
    gateway_id: int | None = None,
    idempotency_key: str | None = None,
) -> Message:
    """Store a message and hand it to a gateway once the row is committed.

    ``to`` and ``text`` must already be validated. ``display_text`` marks a secret-bearing
    text (an OTP): the row keeps ``display_text`` in the clear and ``text`` sealed.
    ``gateway_id`` lets a caller that already chose the phone skip choosing again.
    """
    now = timezone.now()
    carrier = carrier_for_number(to)
    gateway_id = gateway_id or gateway_pick_for_message(carrier=carrier, now=now)
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
        status=MessageStatus.QUEUED if gateway_id else MessageStatus.PENDING,
        gateway_id=gateway_id,
        carrier=carrier,
        created_at=now,
        queued_at=now if gateway_id else None,
        expires_at=expires_at or now + timedelta(seconds=settings.MESSAGE_VALIDITY_SECONDS),
        idempotency_key=idempotency_key,
    )
    if gateway_id is not None:
        # Only a committed row may be announced: a phone must never be woken for a job that
        # a rollback erased.
        transaction.on_commit(partial(gateway_notify_job, gateway_id=gateway_id, message_id=message.pk))
    return message


_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,100}$")


def idempotency_key_validate(value: str | None) -> str | None:
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY.match(value):
        raise ApiError("Idempotency-Key must be 1 to 100 visible ASCII characters", code="invalid_idempotency_key")
    return value


def message_replay(*, message: Message, to: str, text: str) -> Message:
    """The message an earlier request with the same Idempotency-Key created, if this request
    asks for the same thing."""
    if (message.to, message.body) != (to, text):
        raise ValidationFailed(
            "Idempotency-Key was already used for a different request", code="idempotency_key_reused"
        )
    return message


def message_create_once(*, api_key: ApiKey, to: str, text: str, idempotency_key: str) -> tuple[Message, bool]:
    """``message_create`` for a request with an Idempotency-Key whose key was not found (the
    caller looked, see ``message_get_by_idempotency_key``): (message, created). A concurrent
    twin that got there first meets this one at the unique constraint, and its message is
    returned instead, so a retry never sends the SMS twice."""
    try:
        with transaction.atomic():
            message = message_create(
                account=api_key.account, api_key=api_key, to=to, text=text, idempotency_key=idempotency_key
            )
    except IntegrityError:
        existing = message_get_by_idempotency_key(api_key_id=api_key.pk, idempotency_key=idempotency_key)
        if existing is None:
            raise
        return message_replay(message=existing, to=to, text=text), False
    return message, True


def message_delivery_text(*, message: Message) -> str:
    """The text a phone must send: sealed OTP texts are opened only here."""
    if message.sealed_body:
        return unseal(message.sealed_body, context=message.pk)
    return message.body


EXPIRED_ERROR = "Expired: no gateway available"


def _event(message_id: str, event: str, *, gateway_id: int | None = None, detail: str = "", now=None) -> None:
    MessageEvent.objects.create(
        message_id=message_id, gateway_id=gateway_id, event=event, detail=detail, created_at=now or timezone.now()
    )


def message_report_radio_sent(*, gateway_id: int, message_id: str) -> None:
    """The phone's radio accepted the SMS (status is already ``sent`` since the claim)."""
    if Message.objects.filter(pk=message_id, gateway_id=gateway_id).exists():
        _event(message_id, "radio_sent", gateway_id=gateway_id)


@transaction.atomic
def message_mark_delivered(*, gateway_id: int, message_id: str, at: datetime | None = None) -> bool:
    now = timezone.now()
    done = Message.objects.filter(pk=message_id, gateway_id=gateway_id, status=MessageStatus.SENT).update(
        status=MessageStatus.DELIVERED, delivered_at=at or now
    )
    if done:
        _event(message_id, "delivered", gateway_id=gateway_id, now=now)
    return bool(done)


@transaction.atomic
def message_mark_failed(*, gateway_id: int, message_id: str, error: str, error_code: object = None) -> bool:
    """A send the phone tried and Android refused. Not retried elsewhere: a failure report
    cannot prove the SMS did not leave, and a message must never be sent twice."""
    now = timezone.now()
    text = (error or "Send failed")[:500]
    if error_code is not None:
        text = f"{text} (code {error_code})"
    done = Message.objects.filter(pk=message_id, gateway_id=gateway_id, status=MessageStatus.SENT).update(
        status=MessageStatus.FAILED, failed_at=now, error_message=text
    )
    if done:
        _event(message_id, "failed", gateway_id=gateway_id, detail=text, now=now)
    return bool(done)


def message_expire_overdue(*, now: datetime | None = None, limit: int = 1000) -> list[tuple[str, int | None]]:
    """Messages no phone took before their validity ended: failed, with the reason. Returns
    (message, phone it had been pushed to) so that phone can drop the job."""
    now = now or timezone.now()
    overdue = list(
        Message.objects.filter(
            status__in=[MessageStatus.PENDING, MessageStatus.QUEUED], expires_at__lte=now
        ).values_list("pk", "gateway_id")[:limit]
    )
    expired = []
    for message_id, gateway_id in overdue:
        # The state change and its event commit together: a worker killed between the two
        # must not leave a failed message without its "expired" event (tests/topology).
        with transaction.atomic():
            if Message.objects.filter(
                pk=message_id, status__in=[MessageStatus.PENDING, MessageStatus.QUEUED], expires_at__lte=now
            ).update(status=MessageStatus.FAILED, failed_at=now, error_message=EXPIRED_ERROR, sealed_body=None):
                _event(message_id, "expired", gateway_id=gateway_id, now=now)
                expired.append((message_id, gateway_id))
    return expired


CANCELLED_ERROR = "Cancelled by an operator"


class MessageActionRefused(ValueError):
    """An operator action that the message's state does not allow; the text says why."""


@transaction.atomic
def message_cancel(*, message_id: str, now: datetime | None = None) -> None:
    """Stop a message no phone has accepted yet: it ends ``failed`` with the reason. Races
    with a phone's claim are settled by the conditional update: exactly one of them wins."""
    now = now or timezone.now()
    gateway_id = Message.objects.filter(pk=message_id).values_list("gateway_id", flat=True).first()
    cancelled = Message.objects.filter(pk=message_id, status__in=[MessageStatus.PENDING, MessageStatus.QUEUED]).update(
        status=MessageStatus.FAILED, failed_at=now, error_message=CANCELLED_ERROR, sealed_body=None
    )
    if not cancelled:
        raise MessageActionRefused("Only a pending or queued message can be cancelled (a phone already took it).")
    _event(message_id, "cancelled", gateway_id=gateway_id, now=now)
    if gateway_id is not None:
        # The phone may hold the pushed job: tell it to drop it.
        transaction.on_commit(partial(gateway_signal, gateway_id=gateway_id, event=CANCEL, message_id=message_id))


@transaction.atomic
def message_retry(*, message_id: str, now: datetime | None = None, dispatch: bool = True) -> None:
    """Send a failed message again, as a new attempt on any phone. OTP messages are refused:
    their text is gone once sent or expired, and a client asks for a new code instead.
    ``dispatch=False`` leaves it pending for the caller (a batch) to hand out once."""
    now = now or timezone.now()
    message = Message.objects.filter(pk=message_id).only("status", "priority").first()
    if message is None or message.status != MessageStatus.FAILED:
        raise MessageActionRefused("Only a failed message can be retried.")
    if message.priority == MessagePriority.OTP:
        raise MessageActionRefused("OTP messages cannot be retried: the client sends a new code.")
    retried = Message.objects.filter(pk=message_id, status=MessageStatus.FAILED).update(
        status=MessageStatus.PENDING,
        gateway=None,
        queued_at=None,
        pushed_at=None,
        sent_at=None,
        failed_at=None,
        error_message=None,
        expires_at=now + timedelta(seconds=settings.MESSAGE_VALIDITY_SECONDS),
    )
    if not retried:
        raise MessageActionRefused("Only a failed message can be retried.")
    _event(message_id, "retried", now=now, detail="by an operator")
    if dispatch:
        dispatch_assign_pending(now=now)


def message_prune(*, now: datetime | None = None, older_than: timedelta | None = None) -> tuple[int, int]:
    """Delete finished messages (and their events) and inbound SMS past the retention period
    (``older_than``, or ``MESSAGE_RETENTION_SECONDS``). Unfinished messages are never deleted.
    Returns (messages, inbound SMS) deleted."""
    now = now or timezone.now()
    cutoff = now - (older_than or timedelta(seconds=settings.MESSAGE_RETENTION_SECONDS))
    _, per_model = Message.objects.filter(
        created_at__lt=cutoff, status__in=[MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.SENT]
    ).delete()
    inbound, _ = InboundSms.objects.filter(received_at__lt=cutoff).delete()
    # delete()'s total counts the cascaded events too: the messages alone are wanted here.
    return per_model.get(Message._meta.label, 0), inbound


def inbound_sms_store(
    *,
    gateway_id: int,
    device_sms_id: str,
    sender: str,
    text: str,
    sim_slot: int | None = None,
    received_at: datetime | None = None,
) -> None:
    """Store an SMS a phone received; the same report twice is stored once."""
    from accounts.services import account_get_or_create
    from gateways.models import Gateway

    gateway = Gateway.objects.select_related("account").get(pk=gateway_id)
    InboundSms.objects.bulk_create(
        [
            InboundSms(
                account=gateway.account or account_get_or_create(),
                gateway=gateway,
                device_sms_id=device_sms_id[:64],
                sim_slot=sim_slot,
                sender=sender[:32],
                body=text,
                received_at=received_at or timezone.now(),
            )
        ],
        ignore_conflicts=True,
    )
