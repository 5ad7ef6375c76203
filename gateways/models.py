from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


def sim_carrier_matches(reported: str, carrier: str) -> bool:
    """Whether a SIM's reported carrier name is ``carrier``. The SMS Gateway for Android app
    masks all but the last 4 characters of the names it reports ("***edoo" for "Ooredoo"): a
    masked name matches a carrier of the same length that ends the same way."""
    reported, carrier = reported.lower(), carrier.lower()
    if not reported or not carrier:
        return False
    if "*" not in reported:
        return reported == carrier
    shown = reported.lstrip("*")
    return len(reported) == len(carrier) and bool(shown) and carrier.endswith(shown)


def sim_carriers(sims: object) -> list[str]:
    """The carrier names in a phone's SIM report, in slot order. The report is the phone's
    own JSON: anything malformed is skipped."""
    if not isinstance(sims, list):
        return []
    return [str(sim["carrier"]) for sim in sims if isinstance(sim, dict) and sim.get("carrier")]


class GatewayKind(models.TextChoices):
    AGENT = "agent", "Agent (WebSocket)"
    APP = "app", "SMS Gateway for Android app"


class Gateway(models.Model):
    """An Android phone that sends SMS for us: our agent over its WebSocket, or the SMS Gateway
    for Android app over its own API (gateways/mobile.py). Both share one dispatch lifecycle."""

    TOKEN_PREFIX = "gw_live_"
    DEVICE_TOKEN_PREFIX = "gwd_live_"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=8, choices=GatewayKind.choices, default=GatewayKind.AGENT)
    token_prefix = models.CharField(max_length=16, db_index=True, blank=True)
    token_hash = models.CharField(max_length=64, blank=True)
    enabled = models.BooleanField(default=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Android lets an app send 30 SMS parts per 60 s; pace well below it by default.
    rate_per_minute = models.PositiveSmallIntegerField(default=10)
    daily_quota = models.PositiveIntegerField(null=True, blank=True)
    # The account whose messages it sends and whose its replies are. None: the shared pool
    # when ``shared`` (it sends for every account), else nobody's until an operator chooses.
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="gateways"
    )
    shared = models.BooleanField(
        default=False,
        verbose_name="Shared pool",
        help_text="Sends for every account (it then has no account of its own).",
    )
    # Presence is a database fact: the socket is open and the phone spoke recently.
    is_connected = models.BooleanField(default=False)
    # The socket that holds the phone now: a stale socket's disconnect must not take a
    # reconnected phone offline.
    connection_id = models.CharField(max_length=36, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # An app phone: ``token`` above registers it once; the device then holds its own token
    # (hashed here) and the id we gave it. Rolling or revoking clears them.
    device_id = models.CharField(max_length=32, blank=True, db_index=True)
    device_token_prefix = models.CharField(max_length=16, blank=True, db_index=True)
    device_token_hash = models.CharField(max_length=64, blank=True)
    # The SMS Gate client API login its app was given at registration (docs/smsgate-clients.md):
    # revoked with the device (a roll or a revoke).
    smsgate_login = models.ForeignKey(
        "accounts.SmsGateLogin", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    # What the phone reports (hello and heartbeats).
    device_model = models.CharField(max_length=100, blank=True)
    app_version = models.CharField(max_length=50, blank=True)
    protocol_version = models.PositiveSmallIntegerField(null=True, blank=True)
    battery = models.PositiveSmallIntegerField(null=True, blank=True)
    charging = models.BooleanField(null=True, blank=True)
    signal = models.SmallIntegerField(null=True, blank=True)
    sims = models.JSONField(default=list, blank=True)  # [{"slot": 0, "carrier": "MPT", "number": "+95..."}]

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate_per_minute__gte=1, rate_per_minute__lte=30),
                name="gateway_rate_between_1_and_30",
            ),
            models.CheckConstraint(
                condition=models.Q(shared=False) | models.Q(account__isnull=True),
                name="gateway_shared_has_no_account",
                violation_error_message="A shared-pool phone has no account of its own: choose one or the other.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def serves_nobody(self) -> bool:
        """No account and not shared (an account deleted, or blanked, or from before accounts):
        it sends nothing and its replies are no tenant's until an operator chooses."""
        return self.account_id is None and not self.shared

    @staticmethod
    def online_since(now=None):
        now = now or timezone.now()
        return now - timedelta(seconds=settings.GATEWAY_ONLINE_WINDOW_SECONDS)

    @property
    def carriers(self) -> list[str]:
        return sim_carriers(self.sims)

    @property
    def is_online(self) -> bool:
        return (
            self.enabled
            and self.revoked_at is None
            and self.is_connected
            and self.last_seen_at is not None
            and self.last_seen_at >= self.online_since()
        )


class GatewayEventType(models.TextChoices):
    # A label left out is the name's (Django's default): "Connected".
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    OFFLINE = "offline", "Marked offline (silent)"
    TOKEN_ROLLED = "token_rolled", "Token rolled"
    REVOKED = "revoked"
    FAILURE = "failure", "Send failure"
    ACK_TIMEOUT = "ack_timeout", "Job not accepted in time"
    REGISTERED = "registered", "App device registered"


class GatewayEvent(models.Model):
    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    event = models.CharField(max_length=20, choices=GatewayEventType.choices)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.gateway} {self.event}"
