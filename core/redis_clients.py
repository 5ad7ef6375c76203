"""The process's Redis clients for short calls (rate limits, signals, invalidation, health).

A leaf module (Django settings and redis-py only), so that any module can use it, the
``core.phone_signals`` leaf included.
"""

from __future__ import annotations

import functools
import threading

import redis
from django.conf import settings

_thread = threading.local()


@functools.cache
def redis_client() -> redis.Redis:
    """One client (and connection pool) per process."""
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def thread_redis_client() -> redis.Redis:
    """A client holding one connection for the calling thread, for the hot paths' calls: a
    pool's checkout and return cost about a third of a short call's client-side CPU. Web
    workers have a fixed set of threads, so the connections are few and stay open."""
    client = getattr(_thread, "redis", None)
    if client is None:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2, single_connection_client=True
        )
        _thread.redis = client
    return client
