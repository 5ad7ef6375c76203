"""In-process caches of database facts, kept exact by invalidation instead of a time to live.

The send path reads two facts on every request that change rarely: the API key behind a
bearer token, and the set of phones that can take a message. Each process keeps them in
memory (``Memo``). A change to them bumps its topic (``invalidate``): at once in this process,
again once the transaction commits (a request of this process may have read the old rows in
between), and on every other process through a Redis pub/sub channel that a daemon thread of
each process listens to. A memo stores what it loaded only if its topic did not move while it
was loading, so a load racing a change never keeps the old value.

Without a live subscription (embedded mode has no Redis; a Redis restart cuts the channel)
a process cannot hear other processes' changes, so its memos read the database every time:
a memo is a saving, never a source of truth.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .redis_clients import redis_client

logger = logging.getLogger(__name__)

CHANNEL = "mysmsapio:invalidate"
T = TypeVar("T")

_generations: dict[str, int] = {}
_lock = threading.Lock()
_listening = threading.Event()  # set while the subscription is live
_listener: threading.Thread | None = None


def generation(topic: str) -> int:
    return _generations.get(topic, 0)


def _bump_locally(topic: str | None) -> None:
    with _lock:
        for name in [topic] if topic else list(_generations):
            _generations[name] = _generations.get(name, 0) + 1


def _publish(topic: str) -> None:
    if not settings.REDIS_URL:
        return
    try:
        redis_client().publish(CHANNEL, topic)
    except Exception:
        # Other nodes keep their memo until their subscription notices a Redis fault (which
        # drops every memo), so log loudly: this is the one way a node could miss a change.
        logger.error("Could not publish an invalidation of %s", topic, exc_info=True)


EVERYTHING = "*"


def forget_everything(*, everywhere: bool = False) -> None:
    """Drop every memo of this process, and of every process when ``everywhere``: for rows
    changed behind the services' back (a test database flushed between tests)."""
    _bump_locally(None)
    if everywhere:
        _publish(EVERYTHING)


def invalidate(topic: str) -> None:
    """The rows behind ``topic`` changed (or will, when the current transaction commits)."""
    _bump_locally(topic)

    def after_commit() -> None:
        _bump_locally(topic)
        _publish(topic)

    transaction.on_commit(after_commit)


def _listen() -> None:
    while True:
        pubsub = None
        try:
            pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(CHANNEL)
            pubsub.get_message(timeout=5)  # the subscription's confirmation
            # Whatever was published while we were not listening is lost: forget everything.
            _bump_locally(None)
            _listening.set()
            while True:
                message = pubsub.get_message(timeout=30)
                if message and message["type"] == "message":
                    topic = message["data"].decode()
                    _bump_locally(None if topic == EVERYTHING else topic)
        except (redis.RedisError, OSError):
            if _listening.is_set():
                logger.warning("Invalidation channel lost; in-process caches are off until it is back")
            _listening.clear()
            _bump_locally(None)
            time.sleep(0.5)
        finally:
            if pubsub is not None:
                # Closing a broken connection may fail again; the next loop opens a new one.
                with contextlib.suppress(Exception):
                    pubsub.close()


def wait_until_listening(timeout: float = 5.0) -> bool:
    """True once this process hears other processes' changes (tests and benchmarks wait)."""
    return caching_enabled() or _listening.wait(timeout)


# (REDIS_URL and MEMO_CACHES, MEMO_MAX_AGE_SECONDS) read once: two memo reads per send would
# otherwise look them up six times. A test's override_settings resets them (setting_changed).
_settings_read: tuple[bool, float] | None = None


def _memo_settings() -> tuple[bool, float]:
    global _settings_read
    if _settings_read is None:
        _settings_read = (bool(settings.REDIS_URL and settings.MEMO_CACHES), settings.MEMO_MAX_AGE_SECONDS)
    return _settings_read


@receiver(setting_changed)
def _memo_settings_changed(*, setting: str, **kwargs: object) -> None:
    global _settings_read
    if setting in ("REDIS_URL", "MEMO_CACHES", "MEMO_MAX_AGE_SECONDS"):
        _settings_read = None


def caching_enabled() -> bool:
    """True when this process hears every change: start listening on first use."""
    global _listener
    if not _memo_settings()[0]:
        return False
    if _listener is None:
        with _lock:
            if _listener is None:
                _listener = threading.Thread(target=_listen, name="invalidation-listener", daemon=True)
                _listener.start()
    return _listening.is_set()


class Memo(Generic[T]):
    """Values loaded from the database by key, dropped whenever ``topic`` is invalidated, and
    in any case after ``MEMO_MAX_AGE_SECONDS``: a backstop should a change's publish be lost
    while the channel itself stayed up (a Redis failover, a publish that timed out)."""

    def __init__(self, topic: str, loader: Callable[[object], T]) -> None:
        self.topic = topic
        self.loader = loader
        self._values: dict[object, T] = {}
        self._generation = -1
        self._since = 0.0  # time.monotonic() of the oldest value kept

    def get(self, key: object = None) -> T:
        if not caching_enabled():
            return self.loader(key)
        current = generation(self.topic)
        now = time.monotonic()
        if self._generation != current or now - self._since > _memo_settings()[1]:
            self._values, self._generation, self._since = {}, current, now
        try:
            return self._values[key]
        except KeyError:
            pass
        value = self.loader(key)
        # Keep it only if no change was announced while it loaded (the load may predate it).
        if generation(self.topic) == current == self._generation and _listening.is_set():
            self._values[key] = value
        return value

    def drop(self, key: object = None) -> None:
        self._values.pop(key, None)


def forget_on_row_change(receiver: Callable[..., None], *models: type, uid: str, deletes: bool = True) -> None:
    """Call ``receiver`` (a model signal receiver that invalidates a memo) whenever a row of
    ``models`` is saved, and deleted unless ``deletes`` is False. ``.update()`` sends no
    signal: services that use it invalidate by themselves."""
    for model in models:
        name = f"{uid}-{model._meta.label_lower}"
        post_save.connect(receiver, sender=model, dispatch_uid=f"{name}-saved")
        if deletes:
            post_delete.connect(receiver, sender=model, dispatch_uid=f"{name}-deleted")
