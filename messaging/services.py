from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Account, ApiKey
from core import ratelimit
from core.api import api_time
from core.errors import ApiError, Conflict, NotFound, ValidationFailed
from core.text import is_storable_text, storable_text
from core.times import parse_zoned_time
from webhooks.models import WebhookEventType
from webhooks.services import webhook_emit

from .lifecycle import (
    FINISHED,
    MessageActionRefused,
    message_cancel,
    message_create,
    message_wake_after_commit,
)
from .models import CANCELLED_BY_CLIENT_ERROR, InboundSms, Message, MessagePriority, is_message_id
from .phone import E164_PATTERN, carrier_for_number, normalize_phone_number
from .selectors import message_get_by_idempotency_key, message_group_exists, message_group_get

INVALID_PHONE = "Invalid phone number format"


MAX_SCHEDULE_AHEAD = timedelta(days=30)
MIN_VALIDITY_SECONDS, MAX_VALIDITY_SECONDS = 60, 30 * 24 * 3600
PRIORITIES = {"normal": MessagePriority.NORMAL, "high": MessagePriority.HIGH}

# The checks of one value each, with the guide's texts; the client API declares which of its
# inputs each one checks (clientapi/schemas.py).


def phone_number_hint(value: object) -> str:
    """What is wrong with a number that is not E.164, said so that a person can mend it."""
    example = "for example +959123456789"
    if not isinstance(value, str):
        return f"the number must be a string in E.164 form: +, the country code and the number, {example}"
    if not value.strip().startswith("+"):
        return f"write the number in E.164 form, with + and the country code: {example}"
    if not E164_PATTERN.match(value.strip()):
        return f"E.164: + and 8 to 15 digits, no spaces or other marks, {example}"
    return "no such number can exist for this country code: check its length"


def phone_number_check(value: object) -> str:
    """The E.164 form of a recipient as a client wrote it."""
    normalized = normalize_phone_number(value)
    if normalized is None:
        raise ValidationFailed(INVALID_PHONE, code="invalid_phone_number", hint=phone_number_hint(value))
    return normalized


def sms_text_check(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationFailed("Message must be a string", code="invalid_message")
    if not value.strip():
        raise ValidationFailed("Message must not be empty", code="invalid_message")
    if not is_storable_text(value):
        raise ValidationFailed(
            "Message must be Unicode text without NUL characters or unpaired surrogates", code="invalid_message"
        )
    if len(value) > settings.SMS_MAX_LENGTH:
        raise ValidationFailed(
            f"Message is too long (maximum {settings.SMS_MAX_LENGTH} characters)", code="message_too_long"
        )
    return value


def send_at_check(value: object) -> datetime:
    parsed = parse_zoned_time(value)
    if parsed is None or parsed > timezone.now() + MAX_SCHEDULE_AHEAD:
        raise ValidationFailed(
            "send_at must be an ISO 8601 time with a zone, at most 30 days ahead", code="invalid_send_at"
        )
    return parsed


@dataclass(frozen=True)
class ValidatedSms:
    """A message as a client asked for it, every value checked."""

    to: str
    text: str
    carrier: str  # the recipient's, for the choice of phone
    # Beyond the guide, all optional (docs/API_DOCUMENTATION.md).
    send_at: datetime | None = None
    validity: int | None = None
    priority: int = MessagePriority.NORMAL

    @classmethod
    def of(
        cls,
        *,
        to: str,
        message: str,
        send_at: datetime | None = None,
        validity: int | None = None,
        priority: str | None = None,
    ) -> ValidatedSms:
        """From checked values (``phone_number_check``, ``sms_text_check``...)."""
        level = PRIORITIES[priority] if priority else MessagePriority.NORMAL
        return cls(to, message, carrier_for_number(to), send_at, validity, level)


# 1 to 100 visible ASCII characters (the client API declares the same pattern).
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,100}$"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def idempotency_key_validate(value: str | None) -> str | None:
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY.match(value):
        raise ApiError("Idempotency-Key must be 1 to 100 visible ASCII characters", code="invalid_idempotency_key")
    return value


def sms_budget_take(*, api_key: ApiKey, cost: int = 1) -> ratelimit.RateLimitResult:
    """Count ``cost`` messages against the key's per-minute budget (shared by its roll
    lineage); the result says whether they fit (nothing is counted when they do not)."""
    limit = settings.SMS_RATE_LIMIT_PER_MINUTE
    if cost == 1:
        return ratelimit.hit(f"sms:{api_key.budget_id}", limit=limit, window_seconds=60)
    return ratelimit.take(f"sms:{api_key.budget_id}", cost=cost, limit=limit, window_seconds=60)


def message_send(
    *, api_key: ApiKey, sms: ValidatedSms, gateway_id: int | None, idempotency_key: str | None = None
) -> tuple[Message, bool]:
    """Store a checked message for the key, queued on ``gateway_id`` (the caller's choice) or
    pending: (message, created). With an ``idempotency_key`` that a concurrent twin used
    first, the twin's message instead (created False)."""
    if idempotency_key:
        return _message_create_once(api_key=api_key, sms=sms, idempotency_key=idempotency_key, gateway_id=gateway_id)
    return _message_create_from(api_key, sms, gateway_id=gateway_id), True


def _message_create_from(api_key: ApiKey, sms: ValidatedSms, **kwargs: Any) -> Message:
    # ValidatedSms's fields are named as message_create's parameters: each goes through as checked.
    return message_create(account=api_key.account, api_key=api_key, is_test=api_key.is_test, **vars(sms), **kwargs)


def message_replay(*, message: Message, to: str, text: str) -> Message:
    """The message an earlier request with the same Idempotency-Key created, if this request
    asks for the same thing."""
    if (message.to, message.body) != (to, text):
        raise ValidationFailed(
            "Idempotency-Key was already used for a different request", code="idempotency_key_reused"
        )
    return message


def _message_create_once(
    *, api_key: ApiKey, sms: ValidatedSms, idempotency_key: str, gateway_id: int | None
) -> tuple[Message, bool]:
    """``message_create`` for a request with an Idempotency-Key whose key was not found (the
    caller looked, see ``message_get_by_idempotency_key``): (message, created). A concurrent
    twin that got there first meets this one at the unique constraint, and its message is
    returned instead, so a retry never sends the SMS twice."""
    try:
        with transaction.atomic():
            message = _message_create_from(api_key, sms, idempotency_key=idempotency_key, gateway_id=gateway_id)
    except IntegrityError:
        existing = message_get_by_idempotency_key(api_key=api_key, idempotency_key=idempotency_key)
        if existing is None:
            raise
        return message_replay(message=existing, to=sms.to, text=sms.text), False
    return message, True


def message_prune(*, now: datetime | None = None, older_than: timedelta | None = None) -> tuple[int, int]:
    """Delete finished messages (and their events) and inbound SMS past the retention period
    (``older_than``, or ``MESSAGE_RETENTION_SECONDS``). Unfinished messages are never deleted.
    Returns (messages, inbound SMS) deleted."""
    now = now or timezone.now()
    cutoff = now - (older_than or timedelta(seconds=settings.MESSAGE_RETENTION_SECONDS))
    _, per_model = Message.objects.filter(created_at__lt=cutoff, status__in=FINISHED).delete()
    inbound, _ = InboundSms.objects.filter(received_at__lt=cutoff).delete()
    # delete()'s total counts the cascaded events too: the messages alone are wanted here.
    return per_model.get(Message._meta.label, 0), inbound


@dataclass(frozen=True)
class ReceivedSms:
    """An SMS a phone received, as the phone reported it."""

    device_sms_id: str  # the phone's own id of it: a report sent twice is stored once
    sender: str
    text: str
    sim_slot: int | None = None
    received_at: datetime | None = None


def inbound_sms_store(*, account_id: int | None, gateway_id: int | None, received: ReceivedSms) -> None:
    """Store an SMS a phone received; the same report twice is stored once (and told to the
    account's webhooks once, but for a race of two copies of one report). With no account it
    is the operators' alone (the admin): no tenant's inbox or webhook."""
    sim_slot = received.sim_slot
    sms = InboundSms(
        account_id=account_id,
        gateway_id=gateway_id,
        device_sms_id=storable_text(received.device_sms_id[:64]),
        sim_slot=sim_slot,
        sender=storable_text(received.sender[:32]),
        body=storable_text(received.text),
        received_at=received.received_at or timezone.now(),
    )
    with transaction.atomic():
        if InboundSms.objects.filter(gateway_id=gateway_id, device_sms_id=sms.device_sms_id).exists():
            return
        InboundSms.objects.bulk_create([sms], ignore_conflicts=True)
        at = api_time(sms.received_at)
        data = {"from": sms.sender, "text": sms.body, "received_at": at, "gateway_id": gateway_id, "sim_slot": sim_slot}
        if account_id is not None:
            webhook_emit(account_id=account_id, event=WebhookEventType.SMS_RECEIVED, data=data)


def message_cancel_by_client(*, api_key: ApiKey, message_id: str) -> None:
    """``POST /sms/<id>/cancel``: a message of the key's account (and mode, live or test) that
    no phone has taken yet ends ``failed`` ("Cancelled by the client"); a phone that pushed job
    is told to drop it. One a phone already claimed (or an app phone fetched) wins the race: 409."""
    owned = is_message_id(message_id) and (
        Message.objects.filter(pk=message_id, account_id=api_key.account_id, is_test=api_key.is_test).exists()
    )
    if not owned:
        raise NotFound("Message not found", code="message_not_found")
    try:
        cancelled = message_cancel(message_id=message_id, reason=CANCELLED_BY_CLIENT_ERROR, ask_app_phone=False)
    except MessageActionRefused:
        cancelled = False
    if not cancelled:
        raise Conflict("The message can no longer be cancelled: a phone already took it", code="not_cancellable")


MAX_BULK_ITEMS = 1000


def message_send_bulk(
    *, api_key: ApiKey, items: list[tuple[ValidatedSms, int | None] | ValidationFailed]
) -> list[dict[str, Any]]:
    """A batch in one transaction: each checked item (with the phone chosen for it) stored,
    each refused one answered with its error; each phone woken once after commit. One result
    per item, in order."""
    results: list[dict[str, Any]] = []
    phones: set[int] = set()
    with transaction.atomic():
        for index, item in enumerate(items):
            if isinstance(item, ValidationFailed):
                results.append({"index": index, "error": item.message, "code": item.code})
                continue
            sms, gateway_id = item
            message = _message_create_from(api_key, sms, gateway_id=gateway_id, wake=False)
            if message.gateway_id is not None:
                phones.add(message.gateway_id)
            results.append({"index": index, "message_id": message.pk, "status": message.status})
        message_wake_after_commit(gateway_ids=phones)
    return results


# --- SMS Gate's client API (smsgate/): one message to several recipients -----------------------


@dataclass(frozen=True)
class GroupRecipient:
    to: str  # E.164, checked
    carrier: str
    gateway_id: int | None  # the phone the caller chose, else pending


def message_group_send(
    *,
    account: Account,
    group_id: str,
    recipients: list[GroupRecipient],
    text: str,
    priority: int = MessagePriority.NORMAL,
    send_at: datetime | None = None,
    expires_at: datetime | None = None,
    id_from_server: bool = False,
    encrypted: bool = False,
    pinned: bool = False,
    sim_number: int | None = None,
) -> list[Message]:
    """One message to several recipients, as SMS Gate's client API sends it: a row each,
    stored together or not at all, under ``group_id``. An id already used by the account is a
    ``Conflict`` (the database says so, whichever node took the other). ``id_from_server``:
    ``group_id`` is a ``new_message_id``, and a single recipient's row takes it as its own
    id, so that ``/api/v1/sms/status`` finds it by the same id."""

    def create(position: int, recipient: GroupRecipient) -> Message:
        return message_create(
            account=account,
            to=recipient.to,
            text=text,
            priority=priority,
            send_at=send_at,
            expires_at=expires_at,
            gateway_id=recipient.gateway_id,
            carrier=recipient.carrier,
            message_id=group_id if id_from_server and len(recipients) == 1 else None,
            group_id=group_id,
            group_position=position,
            is_encrypted=encrypted,
            pinned=pinned,
            sim_number=sim_number,
        )

    try:
        if len(recipients) == 1 and not connection.in_atomic_block:
            # One INSERT is atomic by itself: no transaction's two more round trips (the usual
            # send, as on /api/v1).
            return [create(0, recipients[0])]
        with transaction.atomic():
            return [create(position, recipient) for position, recipient in enumerate(recipients)]
    except IntegrityError:
        if message_group_exists(account_id=account.pk, message_id=group_id):
            raise Conflict("message with the same ID already exists", code="duplicate_id") from None
        raise


def message_group_cancel(*, account_id: int, message_id: str) -> list[Message]:
    """Cancel what no phone has taken yet of a message (every recipient's row); ``NotFound``
    for no such message, ``Conflict`` when nothing of it could still be cancelled."""
    rows = message_group_get(account_id=account_id, message_id=message_id)
    if not rows:
        raise NotFound("message not found", code="message_not_found")
    cancelled = 0
    for row in rows:
        with contextlib.suppress(MessageActionRefused):  # a phone took it: that row stays
            cancelled += message_cancel(message_id=row.pk, reason=CANCELLED_BY_CLIENT_ERROR, ask_app_phone=False)
    if not cancelled:
        raise Conflict("message is not pending", code="not_cancellable")
    return message_group_get(account_id=account_id, message_id=message_id)
