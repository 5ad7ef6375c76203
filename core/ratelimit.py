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
from django.db import connection, transaction

from . import queries
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
        cursor.execute(queries.COUNTER_HIT, [key, window_start])
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


def counts(keys: list[str], *, window_seconds: int, now: float | None = None) -> list[int]:
    """How many hits each of ``keys`` has in the current window, counting none: one round
    trip for them all (a lock-out check before each try)."""
    now = time.time() if now is None else now
    window_start = int(now // window_seconds) * window_seconds
    if settings.RATELIMIT_BACKEND == "redis":
        try:
            found = thread_redis_client().mget([f"rl:{key}:{window_start}" for key in keys])
        except redis.RedisError as exc:
            raise ServiceUnavailable("Rate limiter unavailable, retry shortly") from exc
        return [int(value or 0) for value in found]
    current = dict(RateLimitCounter.objects.filter(key__in=keys, window_start=window_start).values_list("key", "count"))
    return [current.get(key, 0) for key in keys]


# A batch is counted whole or not at all: the counter moves by ``cost`` only when all of it fits.
_TAKE_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[2])
if count + cost > tonumber(ARGV[3]) then return {0, count} end
count = redis.call('INCRBY', KEYS[1], cost)
if count == cost then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {1, count}
"""


@functools.cache
def _take_script():
    return redis_client().register_script(_TAKE_SCRIPT)


def take(key: str, *, cost: int, limit: int, window_seconds: int, now: float | None = None) -> RateLimitResult:
    """Count ``cost`` requests against ``key`` at once if all of them fit in the current window,
    else none (``allowed`` False, ``remaining`` what would have fitted)."""
    now = time.time() if now is None else now
    window_start = int(now // window_seconds) * window_seconds
    if settings.RATELIMIT_BACKEND == "redis":
        try:
            keys, args = [f"rl:{key}:{window_start}"], [window_seconds * 1000 + 1000, cost, limit]
            allowed, count = _take_script()(keys=keys, args=args, client=thread_redis_client())
        except redis.RedisError as exc:
            raise ServiceUnavailable("Rate limiter unavailable, retry shortly") from exc
        allowed = bool(allowed)
    else:
        allowed, count = _take_in_database(key, window_start, cost, limit)
    reset_at = window_start + window_seconds
    return RateLimitResult(
        allowed=allowed,
        limit=limit,
        remaining=max(0, limit - int(count)),
        reset_at=reset_at,
        retry_after=0.0 if allowed else max(1.0, math.ceil(reset_at - now)),
    )


def _take_in_database(key: str, window_start: int, cost: int, limit: int) -> tuple[bool, int]:
    with transaction.atomic():
        # The row locked (SQLite: the write lock BEGIN IMMEDIATE takes), then moved or not.
        RateLimitCounter.objects.get_or_create(key=key, defaults={"window_start": window_start, "count": 0})
        counter = RateLimitCounter.objects.select_for_update().get(key=key)
        count = counter.count if counter.window_start == window_start else 0
        if count + cost > limit:
            return False, count
        counter.window_start, counter.count = window_start, count + cost
        counter.save(update_fields=["window_start", "count"])
        return True, count + cost
