"""Atomic fixed-window rate limits.

DRF's cache throttles read, then write: under concurrency they let more through than the
limit. Here one atomic operation both counts and reads: a Lua script on Redis, or an
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` on the database (SQLite or PostgreSQL), so
exactly ``limit`` requests pass per window however many processes serve the API.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection

from .errors import ServiceUnavailable
from .models import RateLimitCounter
from .redis_clients import redis_client, thread_redis_client


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # Unix time (seconds) when the window ends
    retry_after: float  # seconds until a request can pass again (0 when allowed)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


_INCR_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""

_UPSERT_SQL = """
INSERT INTO mysmsapio_ratelimitcounter (key, window_start, count) VALUES (%s, %s, 1)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN mysmsapio_ratelimitcounter.window_start = excluded.window_start
                 THEN mysmsapio_ratelimitcounter.count + 1 ELSE 1 END,
    window_start = excluded.window_start
RETURNING count
"""


@functools.cache
def _incr_script():
    return redis_client().register_script(_INCR_SCRIPT)


def _count_in_redis(key: str, window_start: int, window_seconds: int) -> int:
    try:
        script = _incr_script()
        keys, args = [f"rl:{key}:{window_start}"], [window_seconds * 1000 + 1000]
        return int(script(keys=keys, args=args, client=thread_redis_client()))
    except redis.RedisError as exc:
        raise ServiceUnavailable("Rate limiter unavailable, retry shortly") from exc


def _count_in_database(key: str, window_start: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT_SQL, [key, window_start])
        return int(cursor.fetchone()[0])


# Longest window of any limit: a counter idle for longer is of no use to anyone.
COUNTER_RETENTION_SECONDS = 2 * 24 * 3600


def ratelimit_prune(*, now: float | None = None) -> int:
    """Delete database counters idle past ``COUNTER_RETENTION_SECONDS`` (keys named by clients,
    such as login user names, would otherwise pile up). Redis keys expire by themselves."""
    now = time.time() if now is None else now
    deleted, _ = RateLimitCounter.objects.filter(window_start__lt=now - COUNTER_RETENTION_SECONDS).delete()
    return deleted


def hit(key: str, *, limit: int, window_seconds: int, now: float | None = None) -> RateLimitResult:
    """Count one request against ``key`` in the current window and say whether it passes."""
    now = time.time() if now is None else now
    window_start = int(now // window_seconds) * window_seconds
    if settings.RATELIMIT_BACKEND == "redis":
        count = _count_in_redis(key, window_start, window_seconds)
    else:
        count = _count_in_database(key, window_start)
    reset_at = window_start + window_seconds
    allowed = count <= limit
    return RateLimitResult(
        allowed=allowed,
        limit=limit,
        remaining=max(0, limit - count),
        reset_at=reset_at,
        retry_after=0.0 if allowed else max(1.0, math.ceil(reset_at - now)),
    )
