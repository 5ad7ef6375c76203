"""Webhooks: an account's endpoints, the outbox of events for them, and each delivery try.

The tables kept their names when the models moved here from ``messaging`` (state-only
migrations): ``messaging_webhookendpoint``, ``messaging_webhookevent``,
``messaging_webhookattempt``.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class WebhookEventType(models.TextChoices):
    """What an account's webhook endpoints can ask to be told (webhooks/services.py)."""

    MESSAGE_SENT = "message.sent"
    MESSAGE_DELIVERED = "message.delivered"
    MESSAGE_FAILED = "message.failed"
    SMS_RECEIVED = "sms.received"
    GATEWAY_ONLINE = "gateway.online"
    GATEWAY_OFFLINE = "gateway.offline"
    OTP_VERIFIED = "otp.verified"


class WebhookStyle(models.TextChoices):
    STANDARD = "standard", "Standard Webhooks"
    # Registered through SMS Gate's client API (smsgate/): its envelope, event names and
    # X-Signature (docs/smsgate-clients.md).
    SMSGATE = "smsgate", "SMS Gate"


# SMS Gate's event names its clients may register (smsgate-3rdparty-api.md, 5.2), and the
# ones of ours each stands for (the rest are accepted and never sent: we have no such fact).
SMSGATE_EVENTS = [
    "sms:received",
    "sms:data-received",
    "sms:sent",
    "sms:delivered",
    "sms:failed",
    "sms:cancelled",
    "system:ping",
    "mms:received",
    "mms:downloaded",
    "app:started",
    "sms:batch:received",
    "sms:batch:data-received",
    "mms:batch:received",
    "mms:batch:downloaded",
]


class WebhookEndpoint(models.Model):
    """A URL of an account's that is told of its events, signed per Standard Webhooks (or, one
    registered through SMS Gate's client API, as SMS Gate's phones send them)."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)  # WebhookEventType values
    # The signing secret must be used, not only compared: kept sealed (AES-GCM under
    # HASH_SECRET, core/crypto.py), never in the clear. The previous one keeps signing
    # beside the new one until ``previous_secret_until`` (rotation).
    sealed_secret = models.TextField(editable=False)
    sealed_previous_secret = models.TextField(blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    # Events caused by test-mode keys (api_test_) reach only endpoints that ask for them, and
    # then as "test.<type>": a receiver acting on "otp.verified" never acts on a test one.
    receive_test_events = models.BooleanField(
        default=False, help_text="Also send events caused by test-mode keys, as test.<type> (docs/test-mode.md)."
    )
    # Since when every delivery has failed (None: the last one succeeded); past the retry
    # window the endpoint is disabled and ``disabled_reason`` tells the operators why.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    style = models.CharField(max_length=10, choices=WebhookStyle.choices, default=WebhookStyle.STANDARD)
    # SMS Gate's registration id (its ``webhookId``), and the phone it is for ("": all of them).
    client_id = models.CharField(max_length=36, blank=True, default="")
    device_filter = models.CharField("device", max_length=32, blank=True, default="")

    class Meta:
        db_table = "messaging_webhookendpoint"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "client_id"],
                condition=models.Q(style="smsgate"),
                name="one_smsgate_webhook_per_id",
            )
        ]

    def __str__(self) -> str:
        return self.url


class WebhookEventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookEvent(models.Model):
    """The outbox: one row per event and endpoint, written in the transaction of the change
    it reports; delivered at least once, with the same id (``webhook-id``) on every try."""

    id = models.CharField(primary_key=True, max_length=40, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=30)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=WebhookEventStatus.choices, default=WebhookEventStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "messaging_webhookevent"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due_idx")]

    def __str__(self) -> str:
        return f"{self.event} {self.id}"


class WebhookAttempt(models.Model):
    """One try at delivering an event: what the endpoint answered, for operators."""

    delivery = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        db_table = "messaging_webhookattempt"
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.status_code or self.error}"
