from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, F, Min, Q, QuerySet
from django.db.models.functions import Coalesce

from accounts.models import ApiKey
from core.api import api_time
from core.db import as_datetime, execute_prepared, model_from_row

from . import queries
from .jobs import Job
from .models import CANCELLED_ERRORS, AppState, InboundSms, Message, MessageStatus


@dataclass(frozen=True)
class MessageState:
    """What ``GET /sms/status`` reports of a message."""

    message_id: str
    status: str
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    error_message: str | None

    @classmethod
    def of(cls, message: Message) -> MessageState:
        return cls(
            message.pk, message.status, message.sent_at, message.delivered_at, message.failed_at, message.error_message
        )

    def body(self) -> dict[str, Any]:
        """The status's JSON, as ``GET /sms/status`` answers it (the list and webhooks too)."""
        return {
            "message_id": self.message_id,
            "status": self.status,
            "sent_at": api_time(self.sent_at),
            "delivered_at": api_time(self.delivered_at),
            "failed_at": api_time(self.failed_at),
            "error_message": self.error_message,
        }


def message_state_get(*, account_id: int, message_id: str, is_test: bool = False) -> MessageState | None:
    """The account's message's state, or None: another account's message does not exist for
    you, and neither does a test message for a live key, or a live one for a test key."""
    rows = execute_prepared(queries.STATE, [message_id, account_id, is_test])
    return MessageState(*rows[0]) if rows else None


def message_count_by_status(*, statuses: list[str] | None = None) -> dict[str, int]:
    """How many live messages are in each of ``statuses`` (default: every status), zeros
    included. Test-mode messages are not traffic: dashboards and metrics leave them out."""
    statuses = statuses or list(MessageStatus.values)
    live = Message.objects.filter(status__in=statuses, is_test=False)
    counts = dict(live.values_list("status").annotate(n=Count("pk")).order_by())
    return {status: counts.get(status, 0) for status in statuses}


def message_count_scheduled(*, now: datetime) -> int:
    """Live pending messages that wait for their ``send_at``, not for a phone."""
    return Message.objects.filter(status=MessageStatus.PENDING, is_test=False, send_at__gt=now).count()


def message_last_sender_account(*, gateway_id: int, to: str) -> int | None:
    """The account whose message to ``to`` went out last through this phone, if any."""
    return (
        Message.objects.filter(gateway_id=gateway_id, to=to)
        .order_by("-created_at")
        .values_list("account_id", flat=True)
        .first()
    )


def message_get_by_idempotency_key(*, api_key: ApiKey, idempotency_key: str) -> Message | None:
    """The message sent with ``idempotency_key`` by this key or another of its line of rolls."""
    return Message.objects.filter(idempotency_scope=api_key.budget_id, idempotency_key=idempotency_key).first()


@dataclass(frozen=True)
class InboxItem:
    """What ``GET /sms/inbox`` reports of a received SMS."""

    id: int
    sender: str
    body: str
    received_at: datetime
    gateway_id: int | None
    sim_slot: int | None


def inbound_sms_page(
    *, account_id: int, limit: int, since: datetime | None = None, cursor: tuple[datetime, int] | None = None
) -> list[InboxItem]:
    """Newest first; ``cursor`` is the (received_at, id) of the last item of the previous page."""
    params: list = [account_id]
    if since is not None:
        params.append(since)
    if cursor is not None:
        at, pk = cursor
        params += [at, at, pk]
    params.append(limit)
    rows = execute_prepared(queries.INBOX_PAGES[since is not None, cursor is not None], params)
    return [InboxItem(*row) for row in rows]


def message_page(
    *,
    account_id: int,
    limit: int,
    status: str | None = None,
    to: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: tuple[datetime, str] | None = None,
    is_test: bool = False,
) -> list[Message]:
    """The account's messages (live ones, or ``is_test`` ones), newest first, filtered;
    ``cursor`` is the (created_at, id) of the last item of the previous page. Walks the
    (account, created_at DESC) index."""
    messages = Message.objects.filter(account_id=account_id, is_test=is_test)
    if status:
        messages = messages.filter(status=status)
    if to:
        messages = messages.filter(to=to)
    if since:
        messages = messages.filter(created_at__gte=since)
    if until:
        messages = messages.filter(created_at__lt=until)
    if cursor:
        at, pk = cursor
        messages = messages.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    fields = ["id", "to", "status", "created_at", "sent_at", "delivered_at", "failed_at", "error_message"]
    return list(messages.order_by("-created_at", "-pk").only(*fields)[:limit])


def inbound_sms_for_client(
    *, account_id: int, since: datetime | None, until: datetime | None, gateway: int | None
) -> QuerySet[InboundSms]:
    """The account's received SMS, newest first, for SMS Gate's client API's inbox."""
    rows = InboundSms.objects.filter(account_id=account_id).order_by("-received_at", "-pk")
    if since is not None:
        rows = rows.filter(received_at__gte=since)
    if until is not None:
        rows = rows.filter(received_at__lt=until)
    return rows if gateway is None else rows.filter(gateway_id=gateway)


def message_group_get(*, account_id: int, message_id: str) -> list[Message]:
    """The rows of one message as SMS Gate's client API names it: those of its group (one per
    recipient), else the single message of that id (sent through ``/api/v1``), else none."""
    live = Message.objects.filter(account_id=account_id, is_test=False).select_related("gateway")
    rows = list(live.filter(group_id=message_id).order_by("group_position"))
    return rows or list(live.filter(pk=message_id, group_id__isnull=True))


def message_group_exists(*, account_id: int, message_id: str) -> bool:
    return Message.objects.filter(account_id=account_id, group_id=message_id).exists()


_WAITING = Q(status__in=[MessageStatus.PENDING, MessageStatus.QUEUED])
# Each recipient's state in SMS Gate's words (the app's, AppState), as one condition on its row.
APP_STATE_OF_ROW = {
    AppState.CANCELLING: _WAITING & Q(cancel_requested_at__isnull=False),
    AppState.PENDING: _WAITING
    & Q(cancel_requested_at__isnull=True, handed_over_at__isnull=True, phone_state__in=["", AppState.PENDING]),
    AppState.PROCESSED: _WAITING
    & Q(cancel_requested_at__isnull=True)
    & (Q(handed_over_at__isnull=False) | ~Q(phone_state__in=["", AppState.PENDING])),
    AppState.SENT: Q(status=MessageStatus.SENT),
    AppState.DELIVERED: Q(status=MessageStatus.DELIVERED),
    AppState.CANCELLED: Q(status=MessageStatus.FAILED, error_message__in=CANCELLED_ERRORS),
    AppState.FAILED: Q(status=MessageStatus.FAILED) & ~Q(error_message__in=CANCELLED_ERRORS),
}


def _groups_in_state(groups: QuerySet, state: str) -> QuerySet:
    """Groups whose state, by SMS Gate's rule (first match: any Pending, any Cancelling, any
    Cancelled, any Processed, all Failed, all Delivered, else Sent), is ``state``."""
    counts = {name: Count("pk", filter=condition) for name, condition in APP_STATE_OF_ROW.items()}
    groups = groups.annotate(rows=Count("pk"), **{f"n_{name}": count for name, count in counts.items()})
    before = Q()
    for name in (AppState.PENDING, AppState.CANCELLING, AppState.CANCELLED, AppState.PROCESSED):
        if name == state:
            return groups.filter(before, **{f"n_{name}__gt": 0})
        before &= Q(**{f"n_{name}": 0})
    all_failed, all_delivered = Q(n_Failed=F("rows")), Q(n_Delivered=F("rows"))
    if state == AppState.FAILED:
        return groups.filter(before & all_failed)
    if state == AppState.DELIVERED:
        return groups.filter(before & all_delivered & ~all_failed)
    return groups.filter(before & ~all_failed & ~all_delivered)


def message_group_page(
    *,
    account_id: int,
    limit: int,
    offset: int,
    since: datetime | None = None,
    until: datetime | None = None,
    oldest_first: bool = False,
    state: str | None = None,
    gateway_id: int | None = None,
) -> tuple[list[list[Message]], int]:
    """A page of the account's messages as SMS Gate's client API lists them (a message to
    several recipients is one item; one sent through ``/api/v1`` is its own), and how many
    there are in all; ``state``: only those in that state (SMS Gate's name); ``gateway_id``:
    only those one of whose recipients went to that phone."""
    everything = Message.objects.filter(account_id=account_id, is_test=False).annotate(key=Coalesce("group_id", "id"))
    rows = everything
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    groups = rows.values("key").annotate(first=Min("created_at"))
    if gateway_id is not None:
        groups = groups.filter(key__in=everything.filter(gateway_id=gateway_id).values("key"))
    if state is not None:
        groups = _groups_in_state(groups, state)
    total = groups.count()
    ordered = groups.order_by("first" if oldest_first else "-first", "key")[offset : offset + limit]
    keys = [group["key"] for group in ordered]
    members: dict[str, list[Message]] = {key: [] for key in keys}
    chosen = everything.filter(key__in=keys)
    for message in chosen.order_by("group_position", "created_at"):
        members[message.key].append(message)
    return [members[key] for key in keys], total


def message_count_toward_quota(*, gateway_ids: list[int], day_start: datetime) -> dict[int, int]:
    """Per phone: messages pushed to it since ``day_start``, and those waiting for it (queued,
    not yet pushed). What a daily quota counts."""
    return dict(
        Message.objects.filter(gateway_id__in=gateway_ids)
        .filter(Q(pushed_at__gte=day_start) | Q(status=MessageStatus.QUEUED, pushed_at__isnull=True))
        .values_list("gateway_id")
        .annotate(n=Count("pk"))
    )


def message_count_queued(*, gateway_ids: list[int]) -> dict[int, int]:
    """Per phone: its queue (queued messages, pushed or not)."""
    return dict(
        Message.objects.filter(gateway_id__in=gateway_ids, status=MessageStatus.QUEUED)
        .values_list("gateway_id")
        .annotate(n=Count("pk"))
    )


def message_waiting_for_push(*, gateway_id: int) -> list[str]:
    """A phone's jobs not yet pushed to it, in the order it would be given them."""
    return list(
        Message.objects.filter(gateway_id=gateway_id, status=MessageStatus.QUEUED, pushed_at__isnull=True)
        .order_by("-priority", "created_at")
        .values_list("pk", flat=True)
    )


def message_count_pushed_since(*, gateway_id: int, since: datetime) -> int:
    return Message.objects.filter(gateway_id=gateway_id, pushed_at__gte=since).count()


def message_push_window(*, gateway_id: int, since: datetime) -> tuple[int, datetime | None]:
    """The SMS parts pushed to a phone since ``since`` (its pacing window), and when the
    oldest of those pushes was."""
    [(used, oldest)] = execute_prepared(queries.PUSH_WINDOW, [gateway_id, since])
    return int(used), as_datetime(oldest)


def message_jobs_waiting(*, gateway_id: int, now: datetime, limit: int) -> list[Job]:
    """Up to ``limit`` of a phone's jobs not yet pushed, in the order it gets them (OTPs
    first), locked for the caller's transaction: two pushes to one phone (two of its sockets,
    a timer and a wake) each take jobs the other has not locked. SQLite serialises writers
    instead."""
    sql = queries.JOBS_WAITING
    if connection.features.has_select_for_update_skip_locked:
        sql += " FOR UPDATE SKIP LOCKED"
    rows = execute_prepared(sql, [gateway_id, now, limit])
    return [Job.of(model_from_row(Message, queries.JOB_COLUMNS, row)) for row in rows]
