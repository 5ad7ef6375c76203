from __future__ import annotations

from django.db import models
from django.utils import timezone


class OtpStatus(models.TextChoices):
    ACTIVE = "active"
    VERIFIED = "verified"
    EXPIRED = "expired"
    REPLACED = "replaced", "Replaced by a newer code"
    EXHAUSTED = "exhausted", "Too many wrong attempts"


class PhoneVerification(models.Model):
    """Per account and phone number: the row every OTP send and verify locks, and the
    failure streak that survives new codes (NIST SP 800-63B: a new code resets nothing)."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, db_index=False)  # the unique one serves
    phone_number = models.CharField(max_length=16)
    consecutive_failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    # Test-mode codes (api_test_ keys) have their own rows: test traffic never locks a live number.
    is_test = models.BooleanField(default=False, db_default=False, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "phone_number", "is_test"], name="one_verification_per_phone")
        ]

    def __str__(self) -> str:
        return f"Verification state of {self.phone_number}"


class Otp(models.Model):
    """One issued code, kept only as a keyed hash."""

    account = models.ForeignKey(  # otp_phone_idx serves it
        "accounts.Account", on_delete=models.CASCADE, related_name="otps", db_index=False
    )
    api_key = models.ForeignKey("accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL)
    phone_number = models.CharField(max_length=16)
    code_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=OtpStatus.choices, default=OtpStatus.ACTIVE)
    attempts = models.PositiveSmallIntegerField(default=0)
    message = models.ForeignKey("messaging.Message", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)
    # Issued to a test-mode key: no SMS, the code is 000000 (docs/test-mode.md).
    is_test = models.BooleanField("test", default=False, db_default=False, editable=False)

    class Meta:
        verbose_name = "OTP"
        indexes = [models.Index(fields=["account", "phone_number", "-created_at"], name="otp_phone_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "phone_number", "is_test"],
                condition=models.Q(status="active"),
                name="one_active_otp_per_phone",
            )
        ]

    def __str__(self) -> str:
        return f"OTP for {self.phone_number} ({self.status})"
