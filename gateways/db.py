"""Where the phone server runs its database calls.

Channels runs every ``database_sync_to_async`` call of a process on one shared thread, so all
the phones of a phone server wait for each other's commits, one at a time: one process carried
about 170 messages a second (four commits each: push, claim, sent, delivered) with most of a
core still idle (bench/phone_reports.py). On PostgreSQL the calls run instead on a pool of
PHONE_DB_THREADS threads, each taking a pooled connection per call, so commits overlap. A
phone's own frames are still handled one after another (its consumer awaits each handler), so
its reports keep their order; calls of different phones already run side by side across
processes, which the lifecycle's row locks are written for. SQLite (embedded mode) keeps the
one thread: it takes one writer at a time anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from functools import cache, wraps
from typing import Any, ParamSpec, TypeVar

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import OperationalError

from core.db import database_pool_renew

P = ParamSpec("P")
R = TypeVar("R")


@cache
def _executor(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="phone-db")


def phone_db(func: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """``func`` as a coroutine function run on the phone server's database threads (closing
    stale connections around it, as ``database_sync_to_async`` does). A call whose connection
    is gone has the pool's connections replaced as it fails (``core.db.database_pool_renew``)."""
    threads = settings.PHONE_DB_THREADS
    call = _renewing_the_pool_on_failure(func)
    if threads <= 1:
        return database_sync_to_async(call)
    return database_sync_to_async(call, thread_sensitive=False, executor=_executor(threads))


def _renewing_the_pool_on_failure(func: Callable[P, R]) -> Callable[P, R]:
    @wraps(func)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except OperationalError as exc:
            database_pool_renew(exc)
            raise

    return call
