from __future__ import annotations

from django.db import models
from django.utils import timezone


class Permission(models.TextChoices):
    SEND_SMS = "send_sms", "Send SMS"
    RECEIVE_SMS = "receive_sms", "Receive SMS"
    SEND_OTP = "send_otp", "Send OTP"
    VERIFY_OTP = "verify_otp", "Verify OTP"


class Account(models.Model):
    """A tenant: one client app or team. Messages and OTPs belong to an account."""

    DEFAULT_NAME = "default"

    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # ISO 3166 region codes OTPs may be sent to ("MM,TH"); empty: any country.
    otp_allowed_countries = models.CharField(
        "OTP destination countries",
        max_length=200,
        blank=True,
        help_text="Comma-separated ISO 3166 codes (for example MM,TH) that OTP codes may be sent to; empty: any.",
    )

    def __str__(self) -> str:
        return self.name

    def otp_country_allowed(self, region: str) -> bool:
        allowed = {code.strip().upper() for code in self.otp_allowed_countries.split(",") if code.strip()}
        return not allowed or region.upper() in allowed


class ApiKey(models.Model):
    """A client API key, stored as a lookup prefix plus an HMAC: the raw key is never kept."""

    RAW_PREFIX = "api_live_"
    # Test-mode keys (docs/test-mode.md): every endpoint works, no message reaches a phone.
    TEST_RAW_PREFIX = "api_test_"
    # DRF puts the authenticated key on ``request.user``; its permission checks read this.
    is_authenticated = True

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100)
    # The first characters after "api_live_" (or "api_test_"): safe to show and log, used to
    # find the row.
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    permissions = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The first key of a line of rolls (None for that first key itself): keys rolled from one
    # another share one rate-limit budget and one Idempotency-Key scope.
    lineage_id = models.BigIntegerField(null=True, blank=True, db_index=True, editable=False)
    # A test key's messages never reach a phone, and it sees only test data (docs/test-mode.md).
    is_test = models.BooleanField("test mode", default=False, db_default=False, editable=False)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.display_prefix})"

    @property
    def budget_id(self) -> int:
        """The id that this key's rate limits and Idempotency-Keys are counted under."""
        return self.lineage_id or self.pk

    @classmethod
    def raw_prefix_for(cls, *, test: bool) -> str:
        return cls.TEST_RAW_PREFIX if test else cls.RAW_PREFIX

    @property
    def raw_prefix(self) -> str:
        return self.raw_prefix_for(test=self.is_test)

    @property
    def display_prefix(self) -> str:
        return f"{self.raw_prefix}{self.prefix}…"

    def has_permission(self, permission: str) -> bool:
        return permission in self.permissions

    def state_at(self, now) -> str:
        """ "active", "revoked" or "expired" at ``now`` (a revocation may be scheduled ahead)."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def is_usable(self, *, now=None) -> bool:
        return self.state_at(now or timezone.now()) == "active"

    @property
    def state(self) -> str:
        return self.state_at(timezone.now())


class SmsGateLogin(models.Model):
    """A ``login:password`` pair for SMS Gate's client API (``/api/3rdparty/v1``, Basic auth),
    as its official client libraries send them. The password is stored as a keyed hash, like
    an API key; the login is not secret (it names the credential)."""

    is_authenticated = True  # DRF's IsAuthenticated reads it off ``request.user``

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="smsgate_logins")
    name = models.CharField(max_length=100)
    login = models.CharField(max_length=32, unique=True)
    password_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "SMS Gate login"

    def __str__(self) -> str:
        return f"{self.name} ({self.login})"


class SmsGateToken(models.Model):
    """A JWT issued to an SMS Gate login (``POST /auth/token``): kept so that it can be revoked
    by its id (``jti``) and a refresh token used only once."""

    ACCESS, REFRESH = "access", "refresh"

    jti = models.CharField(max_length=32, primary_key=True)
    login = models.ForeignKey(SmsGateLogin, on_delete=models.CASCADE, related_name="tokens")
    kind = models.CharField(max_length=8, choices=[(ACCESS, "access"), (REFRESH, "refresh")])
    # The access token a refresh token was issued with: revoking the one revokes the other.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "SMS Gate token"

    def __str__(self) -> str:
        return f"{self.kind} token {self.jti}"


class SmsGateSettings(models.Model):
    """An account's settings as SMS Gate's client API keeps them (``GET/PUT/PATCH /settings``):
    the sections as stored, and the key that signs its SMS Gate-style webhooks, sealed
    (it must be used, not only compared), never answered back."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="smsgate_settings")
    public = models.JSONField(default=dict)
    sealed_signing_key = models.TextField(blank=True, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "SMS Gate settings"
        verbose_name_plural = "SMS Gate settings"

    def __str__(self) -> str:
        return f"SMS Gate settings of {self.account}"
