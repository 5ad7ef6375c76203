from __future__ import annotations

import functools
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from core.db import execute_prepared
from core.invalidation import Memo, invalidate
from messaging.selectors import message_count_toward_quota

from . import queries
from .choice import PhoneCandidate, gateway_choose, quota_day_start
from .models import Gateway, GatewayEvent, GatewayEventType, sim_carriers

# The send path takes the online phones in turns: its load is each phone's place in the
# rotation. Per process, which is enough: the choice only decides which phone is woken first,
# and it must cost nothing on the send path (no count of each phone's queue per request).
_rotation = itertools.count()
# How many new messages this process gave each phone: a quota's exact count is the
# database's; this bounds how far past it one process can go between reads.
_picks: Counter[int] = Counter()
# Phones with a daily quota: how often their room is read again from the database, for the
# picks of other processes.
QUOTA_REFRESH_SECONDS = 5

# Invalidated by every change to whether a phone can take work (gateway_phones_changed).
PHONES_TOPIC = "gateways"


def gateway_list_online(*, now: datetime | None = None) -> QuerySet[Gateway]:
    return Gateway.objects.filter(
        enabled=True,
        revoked_at__isnull=True,
        is_connected=True,
        last_seen_at__gte=Gateway.online_since(now),
    )


def gateway_names(*, gateway_ids: set[int]) -> dict[int, str]:
    return dict(Gateway.objects.filter(pk__in=gateway_ids).values_list("pk", "name")) if gateway_ids else {}


def gateway_seen_since_exists(*, account_id: int, since: datetime) -> bool:
    """Whether a phone that may take the account's messages (its own, or the shared pool's)
    was heard from since ``since``."""
    phones = Gateway.objects.filter(Q(account_id=account_id) | Q(shared=True), enabled=True, revoked_at__isnull=True)
    return phones.filter(last_seen_at__gte=since).exists()


def gateway_count_online(*, now: datetime | None = None) -> tuple[int, int]:
    """(phones online, phones not revoked)."""
    return gateway_list_online(now=now).count(), Gateway.objects.filter(revoked_at__isnull=True).count()


@dataclass(frozen=True)
class _Phone:
    candidate: PhoneCandidate
    last_seen_at: datetime


@dataclass(frozen=True)
class _Phones:
    phones: list[_Phone]
    loaded_at: float  # time.monotonic()
    # This process's picks when loaded: a phone's room shrinks by the picks since.
    picks_at_load: dict[int, int]

    @functools.cached_property
    def has_quotas(self) -> bool:
        return any(phone.candidate.room is not None for phone in self.phones)

    @functools.cached_property
    def oldest_seen(self) -> datetime | None:
        return min((phone.last_seen_at for phone in self.phones), default=None)

    @functools.cached_property
    def candidates(self) -> list[PhoneCandidate]:
        """Every phone as loaded: what the send path chooses from while none has gone silent
        and none has a quota (the common case, so worked out once per load)."""
        return [phone.candidate for phone in self.phones]

    @functools.cached_property
    def places(self) -> dict[int, int]:
        return {phone.candidate.pk: place for place, phone in enumerate(self.phones)}


class _Turns:
    """The send path's load: each phone's place in the rotation, counted from this pick's
    turn, worked out only for the phones the choice compares."""

    __slots__ = ("count", "places", "turn")

    def __init__(self, places: dict[int, int], turn: int) -> None:
        self.places, self.count, self.turn = places, max(1, len(places)), turn

    def get(self, pk: int, default: int = 0) -> int:
        return (self.places.get(pk, default) - self.turn) % self.count


def gateway_quota_rooms(gateway_quotas: dict[int, int], *, now: datetime) -> dict[int, int]:
    """For phones with a daily quota (id: quota): how many more messages each may be given
    today, counting the jobs that already wait for it (queued, not yet pushed)."""
    if not gateway_quotas:
        return {}
    used = message_count_toward_quota(gateway_ids=list(gateway_quotas), day_start=quota_day_start(now))
    return {pk: max(0, quota - used.get(pk, 0)) for pk, quota in gateway_quotas.items()}


def _load_phones(day: datetime) -> _Phones:
    """The phones that may take work, with the room their quotas leave on ``day`` (the key: a
    new UTC day loads anew)."""
    # Connected, enabled, unrevoked: whether each is *still* online (heard from within the
    # window) is decided per pick, from last_seen_at, which heartbeats move without telling.
    rows = Gateway.objects.filter(enabled=True, revoked_at__isnull=True, is_connected=True).order_by("pk")
    columns = rows.values_list("pk", "sims", "last_seen_at", "account_id", "daily_quota", "shared")
    # Not seen yet, or serving nobody (Gateway.serves_nobody): sorted out here, not in SQL,
    # whose extra condition cost more to build than the rest of the load (embedded mode
    # loads per request).
    rows = [row for row in columns if row[2] and (row[3] is not None or row[5])]
    rooms = gateway_quota_rooms({pk: quota for pk, _, _, _, quota, _ in rows if quota is not None}, now=day)
    phones = [
        _Phone(PhoneCandidate(pk, account_id, tuple(sim_carriers(sims)), rooms.get(pk)), seen)
        for pk, sims, seen, account_id, _quota, _shared in rows
    ]
    return _Phones(phones, time.monotonic(), dict(_picks))


_phones = Memo(PHONES_TOPIC, _load_phones)


@dataclass(frozen=True)
class PhonePace:
    """What a phone's sockets act on: its token, and what paces its jobs."""

    token_hash: str
    enabled: bool
    rate_per_minute: int
    daily_quota: int | None
    sims: Any  # its own SIM report (JSON)
    serves_nobody: bool  # no account and not shared: it is given nothing (Gateway.serves_nobody)


def _load_pace(gateway_id: object) -> PhonePace | None:
    rows = execute_prepared(queries.PHONE_PACE, [gateway_id])
    if not rows:
        return None  # revoked, or gone
    token_hash, enabled, rate, daily_quota, sims, account_id, shared = rows[0]
    sims = json.loads(sims) if isinstance(sims, str) else sims
    return PhonePace(token_hash, bool(enabled), rate, daily_quota, sims, account_id is None and not shared)


# Every change to these columns saves the row or calls gateway_phones_changed: one topic.
_paces = Memo(PHONES_TOPIC, _load_pace)


def gateway_pace(*, gateway_id: int, token_hash: str) -> PhonePace | None:
    """The phone's pace while ``token_hash`` is still its token; None once it was rolled or the
    phone revoked. From memory where the caches run (every push and every frame asks)."""
    pace = _paces.get(gateway_id)
    return pace if pace is not None and pace.token_hash == token_hash else None


def gateway_token_current(*, gateway_id: int, token_hash: str) -> bool:
    """Whether a socket that connected with ``token_hash`` still holds the phone's token
    (read from the database: a roll or a revoke in another process is seen at once)."""
    return Gateway.objects.filter(pk=gateway_id, token_hash=token_hash, revoked_at__isnull=True).exists()


def gateway_credentials_ended(*, since: datetime) -> list[int]:
    """Phones whose token was rolled or revoked, or whose app registered a new device, since ``since``."""
    ended = GatewayEvent.objects.filter(
        created_at__gte=since,
        event__in=[GatewayEventType.REVOKED, GatewayEventType.TOKEN_ROLLED, GatewayEventType.REGISTERED],
    )
    return sorted(set(ended.values_list("gateway_id", flat=True)))


def gateway_phones_changed() -> None:
    """A phone connected, disconnected, went silent, was enabled, disabled or revoked, or
    reported other SIMs: every process forgets its list of phones."""
    invalidate(PHONES_TOPIC)


def gateway_row_changed(sender: type, **kwargs: object) -> None:
    """Receiver of Gateway's post_save and post_delete."""
    gateway_phones_changed()


def _online_phones(now: datetime) -> tuple[_Phones, list[PhoneCandidate]]:
    since = Gateway.online_since(now)
    day = quota_day_start(now)
    loaded = _phones.get(day)
    age = time.monotonic() - loaded.loaded_at
    looks_silent = loaded.oldest_seen is not None and loaded.oldest_seen < since
    if (looks_silent and age > 1) or (loaded.has_quotas and age > QUOTA_REFRESH_SECONDS):
        # A phone looks silent in memory (its heartbeats may have moved last_seen_at since), or
        # quotas must count other processes' picks: read again, at most so often. A silent
        # phone is never chosen either way, nor one this process filled.
        _phones.drop(day)
        loaded = _phones.get(day)
    if not loaded.has_quotas and (loaded.oldest_seen is None or loaded.oldest_seen >= since):
        return loaded, loaded.candidates
    candidates = []
    for phone in loaded.phones:
        if phone.last_seen_at < since:
            continue
        candidate = phone.candidate
        if candidate.room is not None:
            picked_since = _picks[candidate.pk] - loaded.picks_at_load.get(candidate.pk, 0)
            candidate = replace(candidate, room=candidate.room - picked_since)
        candidates.append(candidate)
    return loaded, candidates


def gateway_pick_for_message(*, account_id: int, carrier: str = "", now: datetime | None = None) -> int | None:
    """The id of an online phone for the account's next message (``gateway_choose``), or
    ``None`` when no phone can take it now (the message then waits as pending). Served from
    memory (this is the send path): new messages take turns; pacing happens when jobs are
    pushed."""
    loaded, phones = _online_phones(now or timezone.now())
    chosen = gateway_choose(phones, account_id=account_id, carrier=carrier, load=_Turns(loaded.places, next(_rotation)))
    if chosen is None:
        return None
    _picks[chosen.pk] += 1
    return chosen.pk
