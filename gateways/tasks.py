"""Periodic gateway work. Each task is idempotent and safe when two run at once."""

from __future__ import annotations

from celery import shared_task

from . import dispatch
from .services import gateway_mark_silent_offline


@shared_task(name="gateways.tasks.dispatch_pending")
def dispatch_pending() -> dict[int, int]:
    """Pending messages go to whichever phones are online now (with those a spent quota gave
    back), and phones sitting on jobs they were never told about are woken."""
    dispatch.dispatch_release_over_quota()
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
