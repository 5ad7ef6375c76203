"""Moving messages to phones: which phone gets a message, how fast a phone gets its jobs,
and taking jobs back from phones that do not take them.

Every state change goes through ``messaging.lifecycle`` (see its diagram); this module decides
*which* and *when*: a SIM on the recipient's carrier first, the shortest queue, each phone's
rate and daily quota, OTPs first. Signals only wake consumers; losing one delays a message,
never loses it (the periodic tasks find every pending or unpushed row again).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core import metrics
from core.phone_signals import WAKE, gateway_signal
from messaging.jobs import Job
from messaging.lifecycle import message_push, message_queue, message_release
from messaging.models import Message, MessageStatus
from messaging.selectors import (
    message_count_pushed_since,
    message_count_queued,
    message_count_toward_quota,
    message_jobs_waiting,
    message_push_window,
    message_waiting_for_push,
)

from .choice import PhoneCandidate, gateway_choose, quota_day_start
from .models import Gateway, GatewayEventType, sim_carrier_matches
from .selectors import gateway_list_online, gateway_pace, gateway_phones_changed, gateway_quota_rooms
from .services import gateway_disconnected, gateway_event_record


def sim_slot_for(sims: object, carrier: str) -> int | None:
    """The slot of the phone's SIM on ``carrier`` (its own SIM report, malformed parts skipped)."""
    for sim in sims if isinstance(sims, list) else []:
        if isinstance(sim, dict) and sim_carrier_matches(str(sim.get("carrier") or ""), carrier):
            slot = sim.get("slot")
            return slot if isinstance(slot, int) else None
    return None


def _locked(queryset):
    # Two workers may run the same periodic task at once: on PostgreSQL each claims rows the
    # other has not locked. SQLite serialises writers (BEGIN IMMEDIATE) instead.
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True)
    return queryset


@transaction.atomic
def dispatch_assign_pending(
    *, now: datetime | None = None, limit: int = 500, exclude_gateway_id: int | None = None
) -> dict[int, int]:
    """Give pending messages to online phones, chosen as ``gateway_choose`` does (the
    shortest queue for load). Returns how many each phone got."""
    now = now or timezone.now()
    # Pending work first: it is usually empty, and every phone connection calls this.
    # A scheduled message (send_at) waits for its time; a test-mode one never goes to a phone.
    due = Q(send_at__isnull=True) | Q(send_at__lte=now)
    pending = list(
        _locked(Message.objects.filter(due, status=MessageStatus.PENDING, expires_at__gt=now, is_test=False))
        .order_by("-priority", "created_at")
        .values_list("pk", "carrier", "account_id", "pinned", "gateway_id")[:limit]
    )
    if not pending:
        return {}
    phones = [g for g in gateway_list_online(now=now) if g.pk != exclude_gateway_id and not g.serves_nobody]
    if not phones:
        return {}
    rooms = gateway_quota_rooms({g.pk: g.daily_quota for g in phones if g.daily_quota is not None}, now=now)
    candidates = {g.pk: PhoneCandidate(g.pk, g.account_id, tuple(g.carriers), rooms.get(g.pk)) for g in phones}
    load = message_count_queued(gateway_ids=list(candidates))
    chosen: dict[int, list[str]] = defaultdict(list)
    for message_id, carrier, account_id, pinned, pinned_to in pending:
        choices = candidates.values()
        if pinned:  # its client chose the phone (SMS Gate's deviceId): the one rule, over that phone alone
            choices = [candidates[pinned_to]] if pinned_to in candidates else []
        phone = gateway_choose(choices, account_id=account_id, carrier=carrier, load=load)
        if phone is None:
            continue  # waits for one of its account's phones (or the pool's) with room
        load[phone.pk] = load.get(phone.pk, 0) + 1
        if phone.room is not None:
            candidates[phone.pk] = replace(phone, room=phone.room - 1)
        chosen[phone.pk].append(message_id)
    return {gateway: message_queue(gateway_id=gateway, message_ids=ids, now=now) for gateway, ids in chosen.items()}


def _pushed_today(gateway_id: int, now: datetime) -> int:
    return message_count_pushed_since(gateway_id=gateway_id, since=quota_day_start(now))


class TakenJobs(NamedTuple):
    jobs: list[Job]
    # When the phone's budget is spent while jobs wait: in how many seconds to try again.
    retry_in: float | None
    # Segments the phone may still be sent right now, within its rate, with nothing else
    # waiting for it (0 when jobs wait, or when a daily quota counts): what a consumer may
    # push at once from a wake that carries its job, without reading the database first.
    room: int = 0
    sims: Any = None  # the phone's SIM report, to choose each job's slot (sim_slot_for)


@transaction.atomic
def dispatch_take_jobs(
    *, gateway_id: int, token_hash: str, now: datetime | None = None, hand_over: bool = False
) -> TakenJobs:
    """The jobs to push to a phone now, within its rate, OTPs first; and, when its budget is
    spent while jobs wait, in how many seconds to try again. ``token_hash`` is the token the
    socket connected with: nothing once that token has been rolled. ``hand_over``: an app
    phone is fetching them, and they become its own (messaging.lifecycle)."""
    now = now or timezone.now()
    # Android counts sends on the phone, which lag our pushes by a claim round trip: pace over
    # a slightly longer window so that jitter never puts rate+1 sends in one phone-side window.
    seconds = settings.GATEWAY_RATE_WINDOW_SECONDS
    window = timedelta(seconds=seconds + min(1.0, 0.1 * seconds))
    since = now - window
    pace = gateway_pace(gateway_id=gateway_id, token_hash=token_hash)
    if pace is None or not pace.enabled or pace.serves_nobody:
        return TakenJobs([], None)  # disabled, revoked, its token rolled, or nobody's phone
    rate, daily_quota, sims = pace.rate_per_minute, pace.daily_quota, pace.sims
    used, oldest = message_push_window(gateway_id=gateway_id, since=since)
    limit = rate
    if daily_quota is not None:
        # The quota counts messages since midnight UTC; at the quota the phone rests until then.
        today = _pushed_today(gateway_id, now)
        limit = min(limit, max(0, daily_quota - today))
        if limit == 0:
            return TakenJobs([], None)  # what still waits for it goes back (dispatch_release_over_quota)
    # One more than the limit: does work remain?
    waiting = message_jobs_waiting(gateway_id=gateway_id, now=now, limit=limit + 1)
    jobs: list[Job] = []
    for job in waiting:
        # Android counts every part of a long SMS; a single over-long one may go alone.
        if len(jobs) >= limit or (used and used + job.segments > rate):
            break
        used += job.segments
        metrics.DISPATCH_LATENCY.observe(max(0.0, (now - job.created_at).total_seconds()))
        jobs.append(job)
    pushed = [job.message_id for job in jobs]
    if pushed:
        message_push(gateway_id=gateway_id, message_ids=pushed, now=now, hand_over=hand_over)
        oldest = oldest or now
        if daily_quota is not None and len(pushed) == limit and today + len(pushed) >= daily_quota:
            gateway_phones_changed()  # its quota is spent: no process chooses it again today
    retry_in = None
    if len(pushed) < len(waiting):
        retry_in = max(0.05, ((oldest or now) + window - now).total_seconds())
    room = 0 if retry_in is not None or daily_quota is not None else max(0, rate - used)
    return TakenJobs(jobs, retry_in, room, sims)


def dispatch_pushed_at_once(*, gateway_id: int, message_id: str, created_at: float) -> bool:
    """A consumer pushed a new message straight from its wake (see ``TakenJobs.room``):
    record the push as ``dispatch_take_jobs`` would have. False when it was no longer waiting
    for a push (cancelled, expired, or pushed by another path meanwhile): the phone's claim is
    then refused, or is the same job's again."""
    now = timezone.now()
    pushed = message_push(gateway_id=gateway_id, message_ids=[message_id], now=now)
    if pushed:
        metrics.DISPATCH_LATENCY.observe(max(0.0, now.timestamp() - created_at))
    return pushed


@transaction.atomic
def dispatch_release(
    *, gateway_id: int, reason: str, message_ids: list[str] | None = None, now: datetime | None = None
) -> list[str]:
    """Take back jobs a phone has not accepted and give them to other phones."""
    now = now or timezone.now()
    released = message_release(gateway_id=gateway_id, reason=reason, message_ids=message_ids, now=now)
    if released:
        dispatch_assign_pending(exclude_gateway_id=gateway_id, now=now)
    return released


def dispatch_phone_left(*, gateway_id: int, connection_id: str, reason: str) -> None:
    """A phone's socket or event stream ended: offline (unless another connection of the phone
    took over meanwhile), and the jobs it had not accepted go to other phones."""
    if gateway_disconnected(gateway_id=gateway_id, connection_id=connection_id, reason=reason):
        dispatch_release(gateway_id=gateway_id, reason="disconnected")


def dispatch_release_over_quota(*, now: datetime | None = None) -> dict[int, list[str]]:
    """Jobs waiting for a phone that may not be pushed them today (its daily quota is spent, or
    will be by the jobs ahead of them) go back to be chosen again, for phones with room: a
    message never waits for the next UTC day behind a quota. Returns what each phone gave back."""
    now = now or timezone.now()
    quotas = dict(
        Gateway.objects.filter(daily_quota__isnull=False, revoked_at__isnull=True).values_list("pk", "daily_quota")
    )
    used = message_count_toward_quota(gateway_ids=list(quotas), day_start=quota_day_start(now)) if quotas else {}
    released = {}
    for gateway_id, quota in quotas.items():
        if used.get(gateway_id, 0) <= quota:
            continue  # what waits for it fits in its quota
        waiting = message_waiting_for_push(gateway_id=gateway_id)
        # ``used`` is what was pushed today and what waits: the quota keeps room for the rest.
        keep = quota - (used[gateway_id] - len(waiting))
        if over := waiting[max(0, keep) :]:
            released[gateway_id] = dispatch_release(
                gateway_id=gateway_id, reason="daily quota reached", message_ids=over, now=now
            )
    return released


def dispatch_release_from_nobodys_phones(*, now: datetime | None = None) -> dict[int, list[str]]:
    """Jobs waiting for a phone that now serves nobody (its account deleted or blanked) go
    back to be chosen again. Returns what each phone gave back."""
    nobodys = Gateway.objects.filter(account__isnull=True, shared=False, revoked_at__isnull=True)
    released = {}
    for gateway_id in nobodys.values_list("pk", flat=True):
        if waiting := message_waiting_for_push(gateway_id=gateway_id):
            released[gateway_id] = dispatch_release(
                gateway_id=gateway_id, reason="phone of no account", message_ids=waiting, now=now
            )
    return released


def dispatch_release_ack_timeouts(*, now: datetime | None = None) -> int:
    """Jobs pushed to a phone that did not accept them within the ack timeout."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.GATEWAY_ACK_TIMEOUT_SECONDS)
    overdue: dict[int, list[str]] = defaultdict(list)
    # A job an app phone fetched is not waiting for an accept: it is the phone's already.
    unaccepted = Message.objects.filter(status=MessageStatus.QUEUED, pushed_at__lt=cutoff, handed_over_at__isnull=True)
    for message_id, gateway_id in unaccepted.values_list("pk", "gateway_id")[:1000]:
        overdue[gateway_id].append(message_id)
    released = 0
    for gateway_id, ids in overdue.items():
        done = dispatch_release(gateway_id=gateway_id, reason="ack timeout", message_ids=ids, now=now)
        if done:
            gateway_event_record(
                gateway_id=gateway_id,
                event=GatewayEventType.ACK_TIMEOUT,
                detail=f"{len(done)} job(s) not accepted in {settings.GATEWAY_ACK_TIMEOUT_SECONDS}s",
                at=now,
            )
        released += len(done)
    return released


def dispatch_stale_gateways() -> list[int]:
    """Offline phones that still hold unaccepted jobs (their socket died without a goodbye)."""
    online = gateway_list_online().values("pk")
    return list(
        # (A queued message without a phone is a test-mode one: nothing to take back.)
        Message.objects.filter(status=MessageStatus.QUEUED, handed_over_at__isnull=True, gateway__isnull=False)
        .filter(~Q(gateway__in=online))
        .values_list("gateway_id", flat=True)
        .distinct()
    )


def dispatch_wake_idle_queues() -> list[int]:
    """Wake every online phone that holds unpushed jobs: repairs a wake-up signal lost on the
    way (a Redis blip, a restarted node)."""
    online = gateway_list_online().values("pk")
    gateway_ids = list(
        Message.objects.filter(status=MessageStatus.QUEUED, pushed_at__isnull=True, gateway__in=online)
        .values_list("gateway_id", flat=True)
        .distinct()
    )
    for gateway_id in gateway_ids:
        gateway_signal(gateway_id=gateway_id, event=WAKE)
    return gateway_ids
