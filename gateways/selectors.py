from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from mysmsapio.invalidation import Memo, invalidate

from .models import Gateway, sim_carrier_matches, sim_carriers

# Spreads new messages over the online phones. Per process, which is enough: the choice only
# decides which phone is woken first, and it must cost nothing on the send path (no count of
# each phone's queue per request).
_rotation = itertools.count()

# Invalidated by every change to whether a phone can take work (gateway_phones_changed).
PHONES_TOPIC = "gateways"


def gateway_list_online(*, now: datetime | None = None) -> QuerySet[Gateway]:
    return Gateway.objects.filter(
        enabled=True,
        revoked_at__isnull=True,
        is_connected=True,
        last_seen_at__gte=Gateway.online_since(now),
    )


def gateway_count_online(*, now: datetime | None = None) -> tuple[int, int]:
    """(phones online, phones not revoked)."""
    return gateway_list_online(now=now).count(), Gateway.objects.filter(revoked_at__isnull=True).count()


@dataclass(frozen=True)
class _Phone:
    pk: int
    carriers: tuple[str, ...]  # as its SIMs report them (the app masks them: sim_carrier_matches)
    last_seen_at: datetime
    account_id: int | None  # None: the shared pool, which serves every account

    def serves(self, account_id: int) -> bool:
        return self.account_id is None or self.account_id == account_id


@dataclass(frozen=True)
class _Phones:
    phones: list[_Phone]
    loaded_at: float  # time.monotonic()


def _load_phones(_key: object) -> _Phones:
    # Connected, enabled, unrevoked: whether each is *still* online (heard from within the
    # window) is decided per pick, from last_seen_at, which heartbeats move without telling.
    rows = Gateway.objects.filter(enabled=True, revoked_at__isnull=True, is_connected=True).order_by("pk")
    phones = [
        _Phone(pk, tuple(sim_carriers(sims)), seen, account_id)
        for pk, sims, seen, account_id in rows.values_list("pk", "sims", "last_seen_at", "account_id")
        if seen is not None
    ]
    return _Phones(phones, time.monotonic())


_phones = Memo(PHONES_TOPIC, _load_phones)


def gateway_phones_changed() -> None:
    """A phone connected, disconnected, went silent, was enabled, disabled or revoked, or
    reported other SIMs: every process forgets its list of phones."""
    invalidate(PHONES_TOPIC)


def gateway_row_changed(sender: type, **kwargs: object) -> None:
    """Receiver of Gateway's post_save and post_delete."""
    gateway_phones_changed()


def _online_phones(now: datetime) -> list[_Phone]:
    since = Gateway.online_since(now)
    loaded = _phones.get()
    if any(phone.last_seen_at < since for phone in loaded.phones) and time.monotonic() - loaded.loaded_at > 1:
        # A phone looks silent in memory; its heartbeats may have moved last_seen_at since.
        # Read again (at most once a second): a silent phone is never chosen either way.
        _phones.drop()
        loaded = _phones.get()
    return [phone for phone in loaded.phones if phone.last_seen_at >= since]


def gateway_pick_for_message(*, account_id: int, carrier: str = "", now: datetime | None = None) -> int | None:
    """The id of an online phone for the account's next message, or ``None`` when no phone can
    take it now (the message then waits as pending). Only the account's own phones and the
    shared pool's; a SIM on the recipient's carrier first, then the account's own phones
    before the pool's, in rotation. Served from memory (this is the send path); pacing
    happens when jobs are pushed."""
    online = [phone for phone in _online_phones(now or timezone.now()) if phone.serves(account_id)]
    if carrier:
        online = [phone for phone in online if any(sim_carrier_matches(c, carrier) for c in phone.carriers)] or online
    online = [phone for phone in online if phone.account_id == account_id] or online
    if not online:
        return None
    return online[next(_rotation) % len(online)].pk
