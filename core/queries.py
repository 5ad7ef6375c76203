"""The kernel's hand-written SQL, on its own table only (see messaging/queries.py for why)."""

from __future__ import annotations

from django.db import models

from .models import RateLimitCounter

COUNTER = RateLimitCounter._meta.db_table

# One fixed-window hit: a new window starts the count again, atomically (the database
# backend of core.ratelimit, when there is no Redis).
COUNTER_COLUMNS = ["key", "window_start", "count"]
COUNTER_HIT = f"""
INSERT INTO {COUNTER} (key, window_start, count) VALUES (%s, %s, 1)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN {COUNTER}.window_start = excluded.window_start THEN {COUNTER}.count + 1 ELSE 1 END,
    window_start = excluded.window_start
RETURNING count
"""

COLUMN_LISTS: list[tuple[type[models.Model], list[str]]] = [(RateLimitCounter, COUNTER_COLUMNS)]
