from __future__ import annotations

from celery import shared_task

from .services import otp_expire_stale as _otp_expire_stale


@shared_task(name="otp.tasks.otp_expire_stale")
def otp_expire_stale() -> dict[str, int]:
    return _otp_expire_stale()
