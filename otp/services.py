from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account, ApiKey
from core import ratelimit
from core.api import api_time
from core.crypto import hashes_match, keyed_hash
from core.db import as_datetime, execute_prepared, model_from_row
from core.errors import RateLimited, ServiceUnavailable, ValidationFailed
from gateways.selectors import gateway_pick_for_message
from messaging.lifecycle import message_create, message_forget_expired_texts
from messaging.models import MessagePriority
from messaging.phone import carrier_for_number, region_for_number
from webhooks.models import WebhookEventType
from webhooks.services import webhook_emit

from . import queries
from .models import Otp, OtpStatus, PhoneVerification

CODE_DIGITS = 6
# Compared against when there is no live code, so a miss costs the same work as a wrong code.
_NO_CODE_HASH = "0" * 64


class CountryNotAllowed(
    ValidationFailed, code="country_not_allowed", message="OTP codes may not be sent to this country for this account"
):
    """The number's country is not among the account's OTP countries."""


def _otp_volume_hit(*, account: Account, api_key: ApiKey | None) -> None:
    """Count one code against the key's and the account's hourly volume (atomic counters,
    exact across nodes); raises ``RateLimited`` past either. Test-mode codes have their own
    account counter: testing never uses up live quota."""
    mode = ":test" if api_key is not None and api_key.is_test else ""
    limits = [(f"otp-account:{account.pk}{mode}", settings.OTP_MAX_SENDS_PER_ACCOUNT_PER_HOUR, "this account")]
    if api_key is not None:
        # Per key and its line of rolls: a rolled key and its successor share one budget.
        limits.insert(0, (f"otp-key:{api_key.budget_id}", settings.OTP_MAX_SENDS_PER_KEY_PER_HOUR, "this API key"))
    for key, limit, whose in limits:
        result = ratelimit.hit(key, limit=limit, window_seconds=3600)
        if not result.allowed:
            raise RateLimited(
                f"Rate limit exceeded. Maximum {limit} OTP per hour for {whose}", retry_after=result.retry_after
            )


class NoGatewayOnline(ServiceUnavailable, code="no_gateway_online", message="No gateway online"):
    """An OTP is worth sending only now: with no phone to take it, the caller hears so at once."""


def otp_hash(*, account_id: int, phone_number: str, code: str) -> str:
    # Bound to the account and the number: a code is worthless for any other pair.
    return keyed_hash("otp", f"{account_id}:{phone_number}:{code}")


# A test-mode key's every code (docs/test-mode.md): no SMS is sent, so the client must know it.
TEST_CODE = "0" * CODE_DIGITS


def otp_generate_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def otp_render_text(*, code: str) -> str:
    minutes = max(1, settings.OTP_TTL_SECONDS // 60)
    return settings.OTP_MESSAGE_TEMPLATE.format(code=code, minutes=minutes)


def _verification_lock(*, account_id: int, phone_number: str, is_test: bool, now: datetime) -> PhoneVerification:
    """Create if needed, then lock, the row that serialises sends and verifies of one number."""
    execute_prepared(queries.VERIFICATION_CREATE, [account_id, phone_number, is_test, now], fetch=False)
    return _locked_verification(account_id, phone_number, is_test)


@transaction.atomic
def otp_issue(*, account: Account, phone_number: str, api_key: ApiKey | None = None) -> Otp:
    """Issue a new code for ``phone_number``, replacing any live one, and queue its SMS.

    Raises ``NoGatewayOnline`` (no OTP created, no quota used: a code that waits in a queue
    is useless) or ``RateLimited`` (over the sliding hourly quota).

    A test-mode key's code is always ``TEST_CODE`` and reaches no phone (its message is a test
    message); every other rule is the same, on rows of its own.
    """
    now = timezone.now()
    is_test = api_key is not None and api_key.is_test
    if not account.otp_country_allowed(region_for_number(phone_number)):
        raise CountryNotAllowed()
    gateway_id, carrier = None, carrier_for_number(phone_number)
    if not is_test:
        gateway_id = gateway_pick_for_message(account_id=account.pk, carrier=carrier, now=now)
        if gateway_id is None:
            raise NoGatewayOnline()
    verification = _verification_lock(account_id=account.pk, phone_number=phone_number, is_test=is_test, now=now)
    if verification.locked_until is not None and verification.locked_until > now:
        # A code sent now could not be verified: nobody pays for that SMS.
        minutes = max(1, math.ceil((verification.locked_until - now).total_seconds() / 60))
        raise RateLimited(
            f"Too many failed verifications for this number. Try again in {minutes} minutes",
            retry_after=(verification.locked_until - now).total_seconds(),
        )

    limit = settings.OTP_MAX_SENDS_PER_HOUR
    recent = execute_prepared(
        queries.RECENT_SENDS, [account.pk, phone_number, is_test, now - timedelta(hours=1), limit]
    )
    if len(recent) >= limit:
        retry_after = (as_datetime(recent[0][0]) + timedelta(hours=1) - now).total_seconds()
        raise RateLimited(f"Rate limit exceeded. Maximum {limit} OTP per hour for this number", retry_after=retry_after)
    _otp_volume_hit(account=account, api_key=api_key)

    execute_prepared(queries.REPLACE_LIVE, [account.pk, phone_number, is_test], fetch=False)
    code = TEST_CODE if is_test else otp_generate_code()
    expires_at = now + timedelta(seconds=settings.OTP_TTL_SECONDS)
    message = message_create(
        account=account,
        api_key=api_key,
        to=phone_number,
        text=otp_render_text(code=code),
        display_text=otp_render_text(code="•" * CODE_DIGITS),
        priority=MessagePriority.OTP,
        expires_at=expires_at,
        gateway_id=gateway_id,
        carrier=carrier,
        is_test=is_test,
    )
    row = {
        "account_id": account.pk,
        "api_key_id": api_key.pk if api_key else None,
        "phone_number": phone_number,
        "code_hash": otp_hash(account_id=account.pk, phone_number=phone_number, code=code),
        "status": OtpStatus.ACTIVE.value,
        "attempts": 0,
        "message_id": message.pk,
        "created_at": now,
        "expires_at": expires_at,
        "verified_at": None,
        "is_test": is_test,
    }
    [(otp_id,)] = execute_prepared(queries.OTP_INSERT, [row[column] for column in queries.OTP_INSERT_COLUMNS])
    return model_from_row(Otp, ["id", *queries.OTP_INSERT_COLUMNS], [otp_id, *row.values()])


def _record_failure(verification: PhoneVerification, now: datetime) -> None:
    verification.consecutive_failures += 1
    if verification.consecutive_failures >= settings.OTP_MAX_CONSECUTIVE_FAILURES:
        verification.locked_until = now + timedelta(seconds=settings.OTP_LOCKOUT_SECONDS)
        verification.consecutive_failures = 0
    verification.updated_at = now
    verification.save(update_fields=["consecutive_failures", "locked_until", "updated_at"])


def _locked_verification(account_id: int, phone_number: str, is_test: bool) -> PhoneVerification | None:
    sql = queries.VERIFICATION + (" FOR UPDATE" if connection.features.has_select_for_update else "")
    rows = execute_prepared(sql, [account_id, phone_number, is_test])
    return model_from_row(PhoneVerification, queries.VERIFICATION_COLUMNS, rows[0]) if rows else None


def _live_otp(account_id: int, phone_number: str, is_test: bool) -> Otp | None:
    # At most one row: a unique constraint allows one active code per account, number and mode.
    rows = execute_prepared(queries.LIVE_OTP, [account_id, phone_number, is_test])
    return model_from_row(Otp, queries.LIVE_OTP_COLUMNS, rows[0]) if rows else None


def otp_verify(*, account: Account, phone_number: str, code: str, is_test: bool = False) -> bool:
    """True exactly once for the live code (of test-mode codes, with ``is_test``). Every
    failure looks the same to the caller and is committed (the caller must not raise inside
    this transaction)."""
    candidate = otp_hash(account_id=account.pk, phone_number=phone_number, code=code)
    # A number that was never sent a code has no verification row, and nothing to lock or
    # count: answer without a transaction (one read; guesses at random numbers cost little).
    # A code being issued right now is not known to anyone before its transaction commits.
    if not execute_prepared(queries.VERIFICATION_EXISTS, [account.pk, phone_number, is_test]):
        hashes_match(_NO_CODE_HASH, candidate)  # the same work as a wrong code
        return False
    return _otp_verify_locked(account=account, phone_number=phone_number, candidate=candidate, is_test=is_test)


@transaction.atomic
def _otp_verify_locked(*, account: Account, phone_number: str, candidate: str, is_test: bool) -> bool:
    now = timezone.now()
    verification = _locked_verification(account.pk, phone_number, is_test)
    otp = None
    if verification is not None:
        otp = _live_otp(account.pk, phone_number, is_test)
    matches = hashes_match(otp.code_hash if otp else _NO_CODE_HASH, candidate)

    if verification is None:
        return False
    if verification.locked_until is not None and verification.locked_until > now:
        return False
    if otp is None:
        _record_failure(verification, now)
        return False
    if otp.expires_at <= now:
        otp.status = OtpStatus.EXPIRED
        otp.save(update_fields=["status"])
        _record_failure(verification, now)
        return False

    otp.attempts += 1
    if matches:
        otp.status = OtpStatus.VERIFIED
        otp.verified_at = now
        otp.save(update_fields=["attempts", "status", "verified_at"])
        verification.consecutive_failures = 0
        verification.updated_at = now
        verification.save(update_fields=["consecutive_failures", "updated_at"])
        # In the verify's transaction, like every event (free when no endpoint asked for it).
        data = {"phone_number": phone_number, "verified_at": api_time(now)}
        webhook_emit(account_id=account.pk, event=WebhookEventType.OTP_VERIFIED, data=data, test=is_test)
        return True
    if otp.attempts >= settings.OTP_MAX_ATTEMPTS:
        otp.status = OtpStatus.EXHAUSTED
    otp.save(update_fields=["attempts", "status"])
    _record_failure(verification, now)
    return False


def otp_expire_stale(*, now: datetime | None = None) -> dict[str, int]:
    """Periodic clean-up; idempotent, safe to run twice at once (plain conditional updates)."""
    now = now or timezone.now()
    expired = Otp.objects.filter(status=OtpStatus.ACTIVE, expires_at__lte=now).update(status=OtpStatus.EXPIRED)
    wiped = message_forget_expired_texts(now=now)
    cutoff = now - timedelta(seconds=settings.OTP_RETENTION_SECONDS)
    deleted, _ = Otp.objects.filter(created_at__lt=cutoff).delete()
    # A streak older than the retention period is forgotten too; a live lockout is kept.
    PhoneVerification.objects.filter(updated_at__lt=cutoff).exclude(locked_until__gt=now).delete()
    return {"expired": expired, "wiped": wiped, "deleted": deleted}


def otp_prune(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete codes older than ``older_than`` that are no longer live; returns how many."""
    cutoff = (now or timezone.now()) - older_than
    deleted, _ = Otp.objects.filter(created_at__lt=cutoff).exclude(status=OtpStatus.ACTIVE).delete()
    return deleted
