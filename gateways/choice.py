"""Which phone a message goes to: one rule for every path (a send, an OTP, the periodic
hand-out of pending work), as one pure function over the phones the caller can see.

The rule: only phones that serve the message's account (its own, or the shared pool's) and
have room left in their daily quota; among them a SIM on the recipient's carrier first, then
the account's own phones before the pool's, then the lightest load, then the oldest phone.

"Today", for a daily quota, is the UTC day: it starts at 00:00 UTC everywhere (the quota, the
admin's "sent today"), whatever ``TIME_ZONE`` says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from .models import sim_carrier_matches


@dataclass(frozen=True)
class PhoneCandidate:
    pk: int
    account_id: int | None  # None: the shared pool, which serves every account
    carriers: tuple[str, ...]  # as its SIMs report them (the app masks them: sim_carrier_matches)
    # Messages it may still be given today within its daily quota, counting what already
    # waits for it; None: no quota.
    room: int | None = None

    def serves(self, account_id: int) -> bool:
        return self.account_id is None or self.account_id == account_id

    def has_room(self) -> bool:
        return self.room is None or self.room > 0


class Load(Protocol):
    """How busy each phone is (a dict of phone id to a count will do)."""

    def get(self, pk: int, default: int, /) -> int: ...


def gateway_choose(
    phones: Iterable[PhoneCandidate], *, account_id: int, carrier: str = "", load: Load
) -> PhoneCandidate | None:
    """The phone for one message of ``account_id`` to a number on ``carrier``, or ``None``
    when none can take it. ``load``: how busy each phone is, as the caller measures it (its
    queue, or how many this process gave it); only the order matters."""
    serving = [phone for phone in phones if phone.serves(account_id) and phone.has_room()]
    if not serving:
        return None
    if carrier:
        on_carrier = [phone for phone in serving if any(sim_carrier_matches(c, carrier) for c in phone.carriers)]
        serving = on_carrier or serving
    return min(serving, key=lambda phone: (phone.account_id != account_id, load.get(phone.pk, 0), phone.pk))


# The day last asked about, (start, end): every send asks, and it is nearly always today.
_last_day: tuple[datetime, datetime] | None = None


def quota_day_start(now: datetime) -> datetime:
    """The start of the UTC day that holds ``now``: when daily quotas begin again."""
    global _last_day
    last = _last_day
    if last is not None and last[0] <= now < last[1]:
        return last[0]
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    _last_day = (start, start + timedelta(days=1))
    return start
