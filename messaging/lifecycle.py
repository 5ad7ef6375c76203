"""Every change of a message's state, in one place.

    pending --queue--> queued (phone chosen) --push--> queued (pushed_at set)
        --claim (the phone accepted, one conditional UPDATE)--> sent --> delivered | failed
    queued --release--> pending          (the phone did not accept: ack timeout, disconnect)
    pending | queued --expire | cancel--> failed
    failed --retry--> pending             (operators; never OTPs)

An app phone (the SMS Gateway for Android app, gateways/mobile.py) fetches its jobs instead of
claiming them one by one: the fetch is the hand-over (``handed_over_at``), after which the job
is that phone's alone, never released to another; its reports (Processed, Sent, Delivered,
Failed, Cancelled) move it on (``message_app_report``).

The database row is the job. Each transition is one conditional UPDATE on the current state
(``filter(status=X).update(...) == 1``), so two workers, or a worker and a phone, racing for
the same message settle in the database: exactly one wins. Each transition writes its
``MessageEvent`` in the same transaction. Phones are told through ``core.phone_signals`` (a leaf
module) only after commit: a phone is never woken for a row a rollback erased.

Which phone gets a message is ``gateways``' business (it knows the phones, ``gateways/choice.py``);
this module only records the choice: the caller that knows both (the client API's views, OTPs,
the periodic hand-out) chooses and passes the phone in. ``messaging`` never imports ``gateways``
(which depends on it).
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account, ApiKey
from core.crypto import seal
from core.db import execute_prepared
from core.phone_signals import CANCEL, gateway_signal, gateway_wake
from webhooks.models import WebhookEventType
from webhooks.services import webhook_emit, webhook_wanted

from . import queries
from .encoding import sms_encoding
from .jobs import Job
from .models import (
    CANCELLED_ERROR,
    CANCELLED_ON_PHONE_ERROR,
    AppState,
    Message,
    MessageEvent,
    MessageEventType,
    MessagePriority,
    MessageStatus,
    new_message_id,
)
from .phone import carrier_for_number
from .selectors import MessageState
from .testmode import (
    CARRIER_ERROR_NUMBER,
    CARRIER_ERROR_TEXT,
    NEVER_SENT_NUMBER,
    NO_DELIVERY_REPORT_NUMBER,
    SIMULATED,
)

EXPIRED_ERROR = "Expired: no gateway available"
NO_REPORT_ERROR = "Expired: the phone never reported it"
# A job an app phone fetched is the phone's to report: the app itself fails it past its
# validity. Only a phone silent this long after the expiry has it failed here.
HANDED_OVER_REPORT_GRACE = timedelta(hours=24)
WAITING = [MessageStatus.PENDING, MessageStatus.QUEUED]
FINISHED = [MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.SENT]


class MessageActionRefused(ValueError):
    """An operator action that the message's state does not allow; the text says why."""


def _event(message_id: str, event: str, *, gateway_id: int | None = None, detail: str = "", now=None) -> None:
    execute_prepared(queries.EVENT_INSERT, [message_id, gateway_id, now or timezone.now(), event, detail], fetch=False)


def _events(message_ids: list[str], event: str, *, gateway_id: int | None, now: datetime, detail: str = "") -> None:
    MessageEvent.objects.bulk_create(
        [
            MessageEvent(message_id=i, gateway_id=gateway_id, event=event, detail=detail, created_at=now)
            for i in message_ids
        ]
    )


def message_wake_after_commit(*, gateway_ids: set[int]) -> None:
    """Wake each phone once after the caller's transaction commits (a batch of new messages)."""
    for gateway_id in gateway_ids:
        _wake_after_commit(gateway_id)


def _wake_after_commit(gateway_id: int, message_id: str | None = None, job: Job | None = None) -> None:
    # A new message's wake carries its job: the phone's consumer can push it at once.
    wake = functools.partial(gateway_wake, gateway_id=gateway_id, message_id=message_id)
    transaction.on_commit(wake if job is None else functools.partial(wake, job=job.to_wake()))


# --- Telling the account's webhooks ----------------------------------------------------------

MESSAGE_EVENTS = {
    "sent": WebhookEventType.MESSAGE_SENT,
    "delivered": WebhookEventType.MESSAGE_DELIVERED,
    "failed": WebhookEventType.MESSAGE_FAILED,
}


def webhook_message_changed(*, message_id: str, status: str) -> int:
    """A message reached ``status`` (sent, delivered, failed): its account's endpoints hear of
    it, with the fields of ``GET /sms/status``. Free when no endpoint wants message events."""
    event = MESSAGE_EVENTS[status]
    if not webhook_wanted(event):
        return 0
    message = (
        Message.objects.filter(pk=message_id)
        .only("account_id", "to", "status", "sent_at", "delivered_at", "failed_at", "error_message", "is_test")
        .first()
    )
    if message is None:
        return 0
    # The status the event reports, even if a later one has landed since (the receiver orders).
    data = {**MessageState.of(message).body(), "to": message.to, "status": status}
    if status != "failed":
        data["error_message"] = None
    return webhook_emit(account_id=message.account_id, event=event, data=data, test=message.is_test)


# --- Birth ------------------------------------------------------------------------------

# The saved row as the ORM would load it (see message_create): each field's name, and its value
# when the INSERT does not name it (the database's default, or NULL).
_MESSAGE_LOADED = [
    (field.attname, queries.MESSAGE_INSERT_DEFAULTS.get(field.attname)) for field in Message._meta.concrete_fields
]


def message_wants_phone(*, send_at: datetime | None, is_test: bool, now: datetime | None = None) -> bool:
    """Whether a new message goes to a phone now: not a test key's (never a phone), nor one
    scheduled later (``dispatch_assign_pending`` hands it out when due). Callers that choose
    the phone ask first, so that no choice is spent on it."""
    return not is_test and (send_at is None or send_at <= (now or timezone.now()))


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
    wake: bool = True,
    send_at: datetime | None = None,
    validity: int | None = None,
    is_test: bool = False,
    carrier: str | None = None,
    message_id: str | None = None,
    group_id: str | None = None,
    group_position: int | None = None,
    is_encrypted: bool = False,
    pinned: bool = False,
    sim_number: int | None = None,
) -> Message:
    """Store a message, queued on the phone the caller chose (else pending), and wake that
    phone once the row is committed.

    ``to`` and ``text`` must already be validated. ``display_text`` marks a secret-bearing
    text (an OTP): the row keeps ``display_text`` in the clear and ``text`` sealed.
    ``gateway_id``: the phone the caller chose (``gateways.choice``), or None to wait as
    pending for the periodic hand-out; ``carrier``: the recipient's, if known; ``wake``
    False leaves waking the phone to the caller (a batch wakes each phone once). ``send_at``
    (future) keeps it pending, for no phone, until then (``dispatch_assign_pending`` hands it
    out); ``validity`` (seconds, from ``send_at`` or now) replaces the default validity.
    ``is_test`` (a test-mode key's): no phone, ever; ``message_simulate_due`` moves it on.
    ``message_id`` (a new one from ``new_message_id``) when the caller needs it in advance;
    ``group_id``, ``group_position``: the SMS Gate client API's message this row is one
    recipient of, and which.
    """
    now = timezone.now()
    carrier = carrier_for_number(to) if carrier is None else carrier
    scheduled = send_at is not None and send_at > now
    if not scheduled:
        send_at = None
    on_phone = gateway_id is not None and message_wants_phone(send_at=send_at, is_test=is_test, now=now)
    if not on_phone and not (pinned and scheduled):
        gateway_id = None
    # A test message is queued at once, as if a phone had taken it (messaging/testmode.py). A
    # pinned one scheduled later waits as pending with its phone named (dispatch_assign_pending
    # queues it there, and nowhere else, when due).
    queued = on_phone or (is_test and not scheduled)
    validity = validity if validity is not None else settings.MESSAGE_VALIDITY_SECONDS
    encoding = sms_encoding(text)
    message_id = message_id or new_message_id()
    row = {
        "id": message_id,
        "account_id": account.pk,
        "api_key_id": api_key.pk if api_key else None,
        "to": to,
        "body": text if display_text is None else display_text,
        "sealed_body": None if display_text is None else seal(text, context=message_id),
        "encoding": encoding.encoding,
        "segments": encoding.segments,
        "priority": priority,
        "status": MessageStatus.QUEUED if queued else MessageStatus.PENDING,
        "gateway_id": gateway_id,
        "carrier": carrier,
        "created_at": now,
        "queued_at": now if queued else None,
        "expires_at": expires_at or (send_at or now) + timedelta(seconds=validity),
        "idempotency_key": idempotency_key,
        "idempotency_scope": api_key.budget_id if api_key and idempotency_key else None,
        "group_id": group_id,
        "group_position": group_position,
        "send_at": send_at,
        "is_test": is_test,
        "is_encrypted": is_encrypted,
        "pinned": pinned,
        "sim_number": sim_number,
    }
    execute_prepared(queries.MESSAGE_INSERT, [row[column] for column in queries.MESSAGE_INSERT_COLUMNS], fetch=False)
    # The saved row as the ORM would load it: positional construction skips Model.__init__'s
    # keyword handling, a tenth of a send's CPU.
    values = [row.get(attname, default) for attname, default in _MESSAGE_LOADED]
    message = Message.from_db(None, None, values)
    if on_phone and wake:
        _wake_after_commit(gateway_id, message_id, Job.of(message))
    return message


# --- Hand-over to a phone -----------------------------------------------------------------


@transaction.atomic
def message_queue(*, gateway_id: int, message_ids: list[str], now: datetime | None = None) -> int:
    """Pending messages go to the phone ``gateway_id`` chose for them; returns how many did
    (the caller locked them)."""
    now = now or timezone.now()
    # The caller holds these rows locked (select_for_update): they are all still pending.
    done = Message.objects.filter(pk__in=message_ids, status=MessageStatus.PENDING).update(
        status=MessageStatus.QUEUED, gateway_id=gateway_id, queued_at=now, pushed_at=None
    )
    _events(message_ids, MessageEventType.QUEUED, gateway_id=gateway_id, now=now)
    _wake_after_commit(gateway_id)
    return done


@transaction.atomic
def message_push(
    *, gateway_id: int, message_ids: list[str], now: datetime | None = None, hand_over: bool = False
) -> bool:
    """The jobs are on their way to the phone's connection (an agent must still accept them);
    ``hand_over``: an app phone fetched them, and they are its own from now on. For one
    agent's job, False when it was no longer waiting to be pushed (pushed by another path,
    cancelled or expired meanwhile): nothing is recorded then."""
    now = now or timezone.now()
    event = MessageEventType.HANDED_OVER if hand_over else MessageEventType.PUSHED
    if len(message_ids) == 1:
        # A wake for one new message, the common case: prepared statements, as for claims; one
        # commit for the row and its event (no savepoint inside a caller's transaction).
        with transaction.atomic(savepoint=False):
            if hand_over:
                execute_prepared(queries.HANDED_OVER, [now, now, message_ids[0], gateway_id], fetch=False)
            elif not execute_prepared(queries.PUSHED, [now, message_ids[0], gateway_id]):
                return False
            _event(message_ids[0], event, gateway_id=gateway_id, now=now)
        return True
    Message.objects.filter(pk__in=message_ids, gateway_id=gateway_id, status=MessageStatus.QUEUED).update(
        pushed_at=now, **({"handed_over_at": now} if hand_over else {})
    )
    _events(message_ids, event, gateway_id=gateway_id, now=now)
    return True


def message_forget_pushes(*, gateway_id: int) -> int:
    """A phone (re)connected: jobs pushed to an earlier connection and not accepted are
    pushed again."""
    return Message.objects.filter(
        gateway_id=gateway_id, status=MessageStatus.QUEUED, pushed_at__isnull=False, handed_over_at__isnull=True
    ).update(pushed_at=None)


@transaction.atomic
def message_claim(*, gateway_id: int, message_id: str, now: datetime | None = None) -> bool:
    """The phone asks to send ``message_id``: True exactly when it may (and only one phone
    ever may). Asking again after a lost answer gets True again: the phone's journal, not
    the server, knows whether its radio already sent it."""
    now = now or timezone.now()
    if execute_prepared(queries.CLAIM, [now, message_id, gateway_id, now]):
        _event(message_id, MessageEventType.SENT, gateway_id=gateway_id, now=now)
        webhook_message_changed(message_id=message_id, status=MessageStatus.SENT)
        return True
    return bool(execute_prepared(queries.CLAIMED_BEFORE, [message_id, gateway_id]))


@transaction.atomic
def message_release(
    *, gateway_id: int, reason: str, message_ids: list[str] | None = None, now: datetime | None = None
) -> list[str]:
    """Take back jobs a phone has not accepted: pending again, for any phone. Accepted jobs
    stay with their phone, which reports them when it comes back; so do jobs an app phone
    fetched (they are its own from the fetch on). A pinned job (its client chose the phone)
    stays queued on it, to be pushed again when it can take it."""
    now = now or timezone.now()
    candidates = Message.objects.filter(gateway_id=gateway_id, status=MessageStatus.QUEUED, handed_over_at__isnull=True)
    if message_ids is not None:
        candidates = candidates.filter(pk__in=message_ids)
    candidates.filter(pinned=True).update(pushed_at=None)
    candidates = candidates.filter(pinned=False)
    released = []
    for message_id in candidates.values_list("pk", flat=True):
        # One conditional update each: a claim that lands meanwhile wins, and stays.
        if Message.objects.filter(
            pk=message_id, gateway_id=gateway_id, status=MessageStatus.QUEUED, handed_over_at__isnull=True
        ).update(status=MessageStatus.PENDING, gateway=None, pushed_at=None, queued_at=None):
            released.append(message_id)
    _events(released, MessageEventType.RELEASED, gateway_id=gateway_id, now=now, detail=reason)
    return released


# --- Reports from the phone ------------------------------------------------------------


def message_mark_radio_sent(*, gateway_id: int, message_id: str) -> None:
    """The phone's radio accepted the SMS (the status is already ``sent`` since the claim)."""
    params = [timezone.now(), MessageEventType.RADIO_SENT, message_id, gateway_id]
    execute_prepared(queries.EVENT_INSERT_IF_PHONES, params, fetch=False)


@transaction.atomic
def message_mark_delivered(*, gateway_id: int, message_id: str, at: datetime | None = None) -> bool:
    now = timezone.now()
    done = bool(execute_prepared(queries.DELIVERED_UPDATE, [at or now, message_id, gateway_id]))
    if done:
        _event(message_id, MessageEventType.DELIVERED, gateway_id=gateway_id, now=now)
        webhook_message_changed(message_id=message_id, status=MessageStatus.DELIVERED)
    return done


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
        _event(message_id, MessageEventType.FAILED, gateway_id=gateway_id, detail=text, now=now)
        webhook_message_changed(message_id=message_id, status=MessageStatus.FAILED)
    return bool(done)


# --- Endings and second chances ---------------------------------------------------------


def message_expire_overdue(*, now: datetime | None = None, limit: int = 1000) -> list[tuple[str, int | None]]:
    """Messages no phone took before their validity ended: failed, with the reason; the phone
    a job had been pushed to is told to drop it. Returns (message, its phone or None)."""
    now = now or timezone.now()
    # A job an app phone fetched is the phone's to end (the app fails it past its validity).
    due = Q(status__in=WAITING) & (
        Q(expires_at__lte=now, handed_over_at__isnull=True) | Q(expires_at__lte=now - HANDED_OVER_REPORT_GRACE)
    )
    overdue = list(Message.objects.filter(due).values_list("pk", "gateway_id", "handed_over_at")[:limit])
    expired = []
    for message_id, gateway_id, handed_over_at in overdue:
        # The state change and its event commit together: a worker killed between the two
        # must not leave a failed message without its "expired" event (tests/topology).
        error = EXPIRED_ERROR if handed_over_at is None else NO_REPORT_ERROR
        with transaction.atomic():
            if Message.objects.filter(due, pk=message_id).update(
                status=MessageStatus.FAILED, failed_at=now, error_message=error, sealed_body=None
            ):
                _event(message_id, MessageEventType.EXPIRED, gateway_id=gateway_id, now=now)
                webhook_message_changed(message_id=message_id, status=MessageStatus.FAILED)
                if gateway_id is not None:
                    transaction.on_commit(
                        functools.partial(gateway_signal, gateway_id=gateway_id, event=CANCEL, message_id=message_id)
                    )
                expired.append((message_id, gateway_id))
    return expired


def message_forget_expired_texts(*, now: datetime | None = None) -> int:
    """Past its expiry a sealed text (an OTP's code) is useless: drop the last copy of it.
    Returns how many were dropped."""
    now = now or timezone.now()
    return Message.objects.filter(sealed_body__isnull=False, expires_at__lte=now).update(sealed_body=None)


@transaction.atomic
def message_cancel(
    *, message_id: str, now: datetime | None = None, reason: str = CANCELLED_ERROR, ask_app_phone: bool = True
) -> bool:
    """Stop a message no phone has accepted yet: it ends ``failed`` with the reason (True).
    Races with a phone's claim are settled by the conditional update: exactly one of them
    wins. A job an app phone already fetched is the phone's: it is asked to drop it (False),
    and its answer (Cancelled, or Sent if it was too late) settles the message; unless
    ``ask_app_phone`` is False (a client's cancel, which wants a yes or a no now): refused."""
    now = now or timezone.now()
    gateway_id = Message.objects.filter(pk=message_id).values_list("gateway_id", flat=True).first()
    if ask_app_phone and Message.objects.filter(
        pk=message_id, status=MessageStatus.QUEUED, handed_over_at__isnull=False, cancel_requested_at__isnull=True
    ).update(cancel_requested_at=now):
        _event(message_id, MessageEventType.CANCEL_REQUESTED, gateway_id=gateway_id, now=now)
        transaction.on_commit(
            functools.partial(gateway_signal, gateway_id=gateway_id, event=CANCEL, message_id=message_id)
        )
        return False
    cancelled = Message.objects.filter(pk=message_id, status__in=WAITING, handed_over_at__isnull=True).update(
        status=MessageStatus.FAILED, failed_at=now, error_message=reason, sealed_body=None
    )
    if not cancelled:
        raise MessageActionRefused("Only a pending or queued message can be cancelled (a phone already took it).")
    _event(message_id, MessageEventType.CANCELLED, gateway_id=gateway_id, now=now)
    webhook_message_changed(message_id=message_id, status=MessageStatus.FAILED)
    if gateway_id is not None:
        # The phone may hold the pushed job: tell it to drop it.
        transaction.on_commit(
            functools.partial(gateway_signal, gateway_id=gateway_id, event=CANCEL, message_id=message_id)
        )
    return True


@transaction.atomic
def message_retry(*, message_id: str, now: datetime | None = None) -> None:
    """Send a failed message again, as a new attempt: it waits as pending for any phone (the
    caller hands pending messages out, see ``gateways.dispatch.dispatch_assign_pending``).
    OTP messages are refused: their text is gone once sent or expired, and a client asks for
    a new code instead."""
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
    _event(message_id, MessageEventType.RETRIED, now=now, detail="by an operator")


# --- Reports from an app phone ------------------------------------------------------------


@transaction.atomic
def message_app_report(
    *, gateway_id: int, message_id: str, state: str, error: str | None = None, at: datetime | None = None
) -> bool:
    """What an app phone reports about a job it fetched. Each state moves the message only
    forward (one conditional UPDATE each), so repeats and reports out of order change nothing;
    a message that is not this phone's is ignored. True when something changed.

    Pending and Processed: the app holds it (still ``queued``). Sent: ``sent``. Delivered and
    Failed: final, from ``queued`` as well (a lost Sent report must not strand it). Cancelled:
    ``failed``, with why."""
    now = timezone.now()
    mine = Message.objects.filter(pk=message_id, gateway_id=gateway_id, handed_over_at__isnull=False)
    if state in (AppState.PENDING, AppState.PROCESSED):
        if mine.filter(status=MessageStatus.QUEUED, phone_state="").update(phone_state=AppState.PROCESSED):
            _event(message_id, MessageEventType.PROCESSED, gateway_id=gateway_id, now=now)
            return True
        return False
    if state == AppState.SENT:
        done = mine.filter(status=MessageStatus.QUEUED).update(
            status=MessageStatus.SENT, sent_at=at or now, sealed_body=None, phone_state=state
        )
        if done:
            _event(message_id, MessageEventType.SENT, gateway_id=gateway_id, now=now, detail="sent by the app")
            webhook_message_changed(message_id=message_id, status=MessageStatus.SENT)
        return bool(done)
    if state == AppState.DELIVERED:
        done = mine.filter(status__in=[MessageStatus.QUEUED, MessageStatus.SENT]).update(
            status=MessageStatus.DELIVERED,
            delivered_at=at or now,
            sent_at=Coalesce("sent_at", Value(at or now)),
            sealed_body=None,
            phone_state=state,
        )
        if done:
            _event(message_id, MessageEventType.DELIVERED, gateway_id=gateway_id, now=now)
            webhook_message_changed(message_id=message_id, status=MessageStatus.DELIVERED)
        return bool(done)
    if state in (AppState.FAILED, AppState.CANCELLED):
        if state == AppState.FAILED:
            text = (error or "Send failed")[:500]
            waiting = [MessageStatus.QUEUED, MessageStatus.SENT]
        else:
            # Cancelled only before it left the phone; the operator asked, or the phone's user.
            requested = mine.filter(cancel_requested_at__isnull=False).exists()
            text = CANCELLED_ERROR if requested else CANCELLED_ON_PHONE_ERROR
            waiting = [MessageStatus.QUEUED]
        done = mine.filter(status__in=waiting).update(
            status=MessageStatus.FAILED, failed_at=at or now, error_message=text, sealed_body=None, phone_state=state
        )
        if done:
            event = MessageEventType.FAILED if state == AppState.FAILED else MessageEventType.CANCELLED
            _event(message_id, event, gateway_id=gateway_id, detail=text, now=now)
            webhook_message_changed(message_id=message_id, status=MessageStatus.FAILED)
        return bool(done)
    return False  # Cancelling: the app echoing our own request


# --- Test mode: no phone (messaging/testmode.py) ------------------------------------------------


def message_simulate_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Move test-mode messages on as a phone would, one state per ``TEST_MESSAGE_STEP_SECONDS``:
    due pending ones are queued, queued ones sent, sent ones delivered, except for the magic
    numbers' other outcomes. Each move is a conditional UPDATE with its event and webhook, so a
    client's cancel racing it settles as against a phone. Returns how many moved."""
    now = now or timezone.now()
    step = timedelta(seconds=settings.TEST_MESSAGE_STEP_SECONDS)
    tests = Message.objects.filter(is_test=True)
    # Every second, mostly with nothing to move: one read of the partial index, then done.
    if not tests.filter(status__in=[MessageStatus.PENDING, MessageStatus.QUEUED, MessageStatus.SENT]).exists():
        return 0
    moves = [
        # (which rows, the new values, the event, the webhook's status)
        (
            tests.filter(
                Q(send_at__isnull=True) | Q(send_at__lte=now), status=MessageStatus.PENDING, expires_at__gt=now
            ),
            {"status": MessageStatus.QUEUED, "queued_at": now},
            MessageEventType.QUEUED,
            None,
        ),
        (
            tests.filter(status=MessageStatus.QUEUED, queued_at__lte=now - step, expires_at__gt=now).exclude(
                to=NEVER_SENT_NUMBER
            ),
            {"status": MessageStatus.SENT, "sent_at": now, "sealed_body": None},
            MessageEventType.SENT,
            MessageStatus.SENT,
        ),
        (
            tests.filter(status=MessageStatus.SENT, sent_at__lte=now - step).exclude(
                to__in=[NO_DELIVERY_REPORT_NUMBER, CARRIER_ERROR_NUMBER]
            ),
            {"status": MessageStatus.DELIVERED, "delivered_at": now},
            MessageEventType.DELIVERED,
            MessageStatus.DELIVERED,
        ),
        (
            tests.filter(status=MessageStatus.SENT, sent_at__lte=now - step, to=CARRIER_ERROR_NUMBER),
            {"status": MessageStatus.FAILED, "failed_at": now, "error_message": CARRIER_ERROR_TEXT},
            MessageEventType.FAILED,
            MessageStatus.FAILED,
        ),
    ]
    moved = 0
    for due, values, event, webhook_status in moves:
        for message_id in due.values_list("pk", flat=True)[:limit]:
            with transaction.atomic():
                if due.filter(pk=message_id).update(**values):
                    _event(message_id, event, now=now, detail=SIMULATED)
                    if webhook_status is not None:
                        webhook_message_changed(message_id=message_id, status=webhook_status)
                    moved += 1
    return moved
