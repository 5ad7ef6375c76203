"""Readiness: can this node do its job? Database, Redis, the channel layer, and a Celery
worker that ran a task recently (the heartbeat task, put on the queue by beat: a recent
heartbeat proves beat, the broker and at least one worker all work)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, connection

from .redis_clients import redis_client

HEARTBEAT_KEY = "mysmsapio:worker-heartbeat"


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def worker_heartbeat_record(*, now: float | None = None) -> float:
    now = time.time() if now is None else now
    caches["heartbeat"].set(HEARTBEAT_KEY, now, timeout=None)
    return now


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return Check(False, f"unavailable ({type(exc).__name__})")
    return Check(True, "ok")


def check_redis() -> Check:
    if not settings.REDIS_URL:
        return Check(True, "not used (embedded mode)")
    try:
        redis_client().ping()
    except redis.RedisError as exc:
        return Check(False, f"unavailable ({type(exc).__name__})")
    return Check(True, "ok")


async def _channel_round_trip() -> None:
    # The in-memory layer forgets a channel once its queue is read empty.
    layer = get_channel_layer()
    channel = await layer.new_channel("ready.")
    await layer.send(channel, {"type": "ready.ping"})
    await asyncio.wait_for(layer.receive(channel), timeout=2)


def _redis_pubsub_round_trip() -> None:
    """A message through Redis pub/sub, the mechanism of production's channel layer, with a
    subscription that ends with the call. (The layer's own receive keeps a channel subscribed
    until its reader is cancelled: in a process with a long-lived event loop, such as the
    phones' daphne, every probe left one behind.)"""
    client = redis_client()
    channel = f"mysmsapio:ready:{uuid.uuid4().hex}"
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(channel)
        client.publish(channel, b"ping")
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            if pubsub.get_message(timeout=max(0.0, deadline - time.monotonic())):
                return
        raise TimeoutError("no message through Redis pub/sub")
    finally:
        pubsub.close()  # unsubscribes and returns the connection


def check_channel_layer() -> Check:
    try:
        if settings.REDIS_URL:
            _redis_pubsub_round_trip()
        else:
            async_to_sync(_channel_round_trip)()
    except Exception as exc:  # any failure of the layer means phones cannot be reached
        return Check(False, f"unavailable ({type(exc).__name__})")
    return Check(True, "ok")


def check_worker(*, now: float | None = None) -> Check:
    now = time.time() if now is None else now
    try:
        seen = caches["heartbeat"].get(HEARTBEAT_KEY)
    except Exception as exc:
        return Check(False, f"unknown ({type(exc).__name__})")
    if seen is None:
        if not settings.REDIS_URL:
            # Embedded mode has no Celery: the server process runs the periodic tasks.
            return Check(
                False, "no worker seen yet (embedded mode: the server process runs the periodic tasks; is it running?)"
            )
        return Check(False, "no worker seen yet")
    age = now - float(seen)
    if age > settings.READY_WORKER_MAX_AGE_SECONDS:
        return Check(False, f"last seen {age:.0f}s ago")
    return Check(True, f"seen {age:.0f}s ago")


def readiness() -> dict[str, Check]:
    return {
        "database": check_database(),
        "redis": check_redis(),
        "channel_layer": check_channel_layer(),
        "worker": check_worker(),
    }
