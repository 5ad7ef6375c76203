"""Times as clients, phones and operators write them: one parser for all of them."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime


def parse_zoned_time(value: object) -> datetime | None:
    """An ISO 8601 time with a zone, in UTC; None for anything else (no zone, not a time, a
    time past year 1 or 9999 in UTC). In UTC because PostgreSQL refuses offsets past 15:59
    that Python accepts (up to 23:59)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
        return parsed.astimezone(UTC) if parsed is not None and parsed.tzinfo is not None else None
    except (ValueError, OverflowError):  # impossible (month 13, year 0), or out of range in UTC
        return None


def parse_time_assuming_utc(value: str) -> datetime | None:
    """An ISO 8601 time, read as UTC when it has no zone (an operator's command line)."""
    text = value.strip()
    if (zoned := parse_zoned_time(text)) is not None:
        return zoned
    try:
        naive = parse_datetime(text)
    except ValueError:
        return None
    return naive.replace(tzinfo=UTC) if naive is not None else None
