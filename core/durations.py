"""Durations on the command line: ``90d``, ``12h``, ``30m``, ``45s``, ``2w``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.utils import timezone

from .times import parse_time_assuming_utc

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (examples: 90d, 12h, 30m, 45s, 2w)")
    return timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """A moment given as a duration ago (``2h``) or an ISO 8601 date-time (UTC if no zone)."""
    now = now or timezone.now()
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    moment = parse_time_assuming_utc(text)
    if moment is None:
        raise ValueError(f"not a duration or an ISO 8601 date-time: {text!r}")
    return moment
