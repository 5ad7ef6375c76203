"""Periodic gateway work. Each task is idempotent and safe when two run at once."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from core.phone_signals import CLOSE, gateway_signal

from . import dispatch
from .selectors import gateway_credentials_ended, gateway_phones_changed
from .services import gateway_mark_silent_offline

# How far back the sweep looks: several of its runs, so that a late or skipped run loses nothing.
CLOSE_SWEEP_LOOKBACK = timedelta(seconds=30)


@shared_task(name="gateways.tasks.dispatch_pending")
def dispatch_pending() -> dict[int, int]:
    """Pending messages go to whichever phones are online now (with those a spent quota or a
    phone of no account gave back), and phones sitting on jobs they were never told about are woken."""
    dispatch.dispatch_release_over_quota()
    dispatch.dispatch_release_from_nobodys_phones()
    assigned = dispatch.dispatch_assign_pending()
    dispatch.dispatch_wake_idle_queues()
    return assigned


@shared_task(name="gateways.tasks.release_ack_timeouts")
def release_ack_timeouts() -> int:
    return dispatch.dispatch_release_ack_timeouts()


@shared_task(name="gateways.tasks.mark_silent_gateways_offline")
def mark_silent_gateways_offline() -> list[int]:
    """Phones gone quiet are offline; jobs they never accepted go to other phones (also jobs
    of phones whose socket died without a goodbye, e.g. a web node that was killed)."""
    marked = gateway_mark_silent_offline()
    for gateway_id in set(marked) | set(dispatch.dispatch_stale_gateways()):
        dispatch.dispatch_release(gateway_id=gateway_id, reason="gateway offline")
    return marked


@shared_task(name="gateways.tasks.close_ended_connections")
def close_ended_connections() -> list[int]:
    """A roll or revoke made where its close signal cannot reach the connections (embedded
    mode's ``manage.py``, whose channel layer is its own memory; a publish lost on its way)
    still ends them within this task's interval: the signal is sent again from here, and each
    connection closes only if the credential it holds is the one that ended."""
    gateway_ids = gateway_credentials_ended(since=timezone.now() - CLOSE_SWEEP_LOOKBACK)
    if gateway_ids:
        gateway_phones_changed()  # this process's memos too: no message queued on the phone
    for gateway_id in gateway_ids:
        gateway_signal(gateway_id=gateway_id, event=CLOSE)
    return gateway_ids
