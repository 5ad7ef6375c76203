"""Embedded mode's stand-in for Celery beat: the same ``CELERY_BEAT_SCHEDULE``, run on one
daemon thread inside the web process, so a single `make run` keeps every periodic behaviour."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections

from .celery import app as celery_app

logger = logging.getLogger(__name__)
_started = threading.Event()


def run_due_tasks(last_run: dict[str, float], now: float) -> None:
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        interval = float(entry["schedule"])
        if name in last_run and now - last_run[name] < interval:
            continue  # every task runs once at start, then on its interval
        last_run[name] = now
        try:
            celery_app.tasks[entry["task"]].apply()
        except Exception:
            logger.exception("Periodic task %s failed", entry["task"])
        finally:
            close_old_connections()


def _loop() -> None:
    last_run: dict[str, float] = {}
    while True:
        run_due_tasks(last_run, time.monotonic())
        time.sleep(1.0)


def start_embedded_scheduler() -> None:
    if _started.is_set():
        return
    _started.set()
    # Celery registers tasks lazily (when a worker starts); load every app's tasks.py now.
    celery_app.loader.import_default_modules()
    threading.Thread(target=_loop, name="embedded-scheduler", daemon=True).start()
