from __future__ import annotations

import re
import uuid

from django.db import models
from django.utils import timezone

_MESSAGE_ID = re.compile(r"msg_[0-9a-f]{32}")


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def is_message_id(value: str) -> bool:
    """Whether ``value`` has the form ``new_message_id`` gives: anything else names no message."""
    return _MESSAGE_ID.fullmatch(value) is not None


class MessageStatus(models.TextChoices):
    """Exactly the integration guide's statuses."""

    QUEUED = "queued", "Queued"  # a phone has been chosen, waiting for it to take the job
    PENDING = "pending", "Pending"  # no gateway available, will retry
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class MessageEventType(models.TextChoices):
    """The steps of a message's timeline (messaging/lifecycle.py writes every one). Labels are
    the names themselves: operators read and filter by these words (admin timeline, logs)."""

    QUEUED = "queued", "queued"  # given to a phone
    PUSHED = "pushed", "pushed"  # sent down the phone's connection
    SENT = "sent", "sent"  # the phone accepted it (claimed)
    RADIO_SENT = "radio_sent", "radio_sent"  # the phone's radio sent it
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed"
    RELEASED = "released", "released"  # taken back from a phone that did not accept it
    EXPIRED = "expired", "expired"
    CANCELLED = "cancelled", "cancelled"
    RETRIED = "retried", "retried"
    HANDED_OVER = "handed_over", "handed_over"  # an app phone fetched it: from now on it is that phone's
    PROCESSED = "processed", "processed"  # the app queued it for its radio
    CANCEL_REQUESTED = "cancel_requested", "cancel_requested"  # the app phone holding it is asked to drop it


class AppState(models.TextChoices):
    """The SMS Gateway for Android app's processing states (its PATCH /message)."""

    PENDING = "Pending"
    PROCESSED = "Processed"
    SENT = "Sent"
    DELIVERED = "Delivered"
    FAILED = "Failed"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"


# Why a message that never went out ended failed, when it was cancelled (messaging/lifecycle.py).
CANCELLED_ERROR = "Cancelled by an operator"
CANCELLED_BY_CLIENT_ERROR = "Cancelled by the client"
CANCELLED_ON_PHONE_ERROR = "Cancelled on the phone"
CANCELLED_ERRORS = (CANCELLED_ERROR, CANCELLED_BY_CLIENT_ERROR, CANCELLED_ON_PHONE_ERROR)


class MessagePriority(models.IntegerChoices):
    NORMAL = 0, "Normal"
    HIGH = 5, "High"  # a client's "priority": "high"; OTPs still go first
    OTP = 10, "OTP"


class Message(models.Model):
    """One outgoing SMS: the row is the job, the source of truth every worker reads."""

    id = models.CharField(primary_key=True, max_length=36, default=new_message_id, editable=False)
    # Indexes: every status change rewrites each of them (status is indexed, so no update is
    # HOT), so none repeats another's leading column: message_account_idx serves ``account``,
    # message_gateway_idx ``gateway``, message_queue_idx ``status``.
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="messages", db_index=False)
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    # E.164; or, end-to-end encrypted by an SMS Gate client (``is_encrypted``), its ciphertext.
    to = models.CharField(max_length=255)
    # What operators see. For an OTP the code is masked here and the real text is sealed in
    # ``sealed_body`` until a phone takes it (codes are never stored in the clear).
    body = models.TextField()
    sealed_body = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001 - null: nothing sealed
    encoding = models.CharField(max_length=4)
    segments = models.PositiveSmallIntegerField()
    priority = models.SmallIntegerField(choices=MessagePriority.choices, default=MessagePriority.NORMAL)
    status = models.CharField(max_length=10, choices=MessageStatus.choices)
    gateway = models.ForeignKey(
        "gateways.Gateway", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages", db_index=False
    )
    # The recipient's mobile carrier (libphonenumber's data), to prefer a SIM on the same one.
    carrier = models.CharField(max_length=64, blank=True)
    # When the job was last pushed to ``gateway``'s socket; cleared when it is taken back.
    pushed_at = models.DateTimeField(null=True, blank=True)
    # An app phone fetched it (GET /api/mobile/v1/message): it belongs to that phone from then
    # on, never released to another (the app sends what it fetched). See docs/gateway-protocol.md.
    handed_over_at = models.DateTimeField(null=True, blank=True)
    # The last state the app reported for it (Processed, Sent, ...); empty until it does.
    phone_state = models.CharField(max_length=12, blank=True, default="", db_default="")
    # An operator cancelled it while an app phone held it: the phone decides (Cancelled or Sent).
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)  # noqa: DJ001 - the API reports null, not ""
    # After this a message still waiting for a gateway ends failed ("Expired: ...").
    expires_at = models.DateTimeField()
    # A client's "send_at": no phone is given the message before then (it waits as pending).
    send_at = models.DateTimeField(null=True, blank=True)
    # The client's Idempotency-Key header, unique per line of API keys (a key and the keys it
    # was rolled into share one scope, ApiKey.budget_id): a retried POST finds this row, with
    # either key of a roll's grace period.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, editable=False)  # noqa: DJ001
    idempotency_scope = models.BigIntegerField(null=True, blank=True, editable=False)
    # SMS Gate's client API (smsgate/): the message id its client sees, shared by the rows of
    # one message to several recipients (one row each).
    group_id = models.CharField(max_length=36, null=True, blank=True, editable=False)  # noqa: DJ001
    group_position = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)  # its recipient's place
    # Sent with a test-mode key (api_test_...): never given to a phone; messaging/testmode.py
    # moves it on by itself, and only test keys see it (docs/test-mode.md).
    is_test = models.BooleanField("test", default=False, db_default=False, editable=False)
    # Text and number encrypted by an SMS Gate client with a passphrase only its phone (the app)
    # holds: stored and passed on as they came, never read (docs/smsgate-clients.md).
    is_encrypted = models.BooleanField("encrypted", default=False, db_default=False, editable=False)
    # Its client chose the phone (SMS Gate's ``deviceId``): it waits for that phone, never
    # handed to another (taken back from it, it stays queued on it; expiry still ends it).
    pinned = models.BooleanField(default=False, db_default=False, editable=False)
    # The SIM its client asked for (SMS Gate's ``simNumber``, from 1); else the phone's SIM on
    # the recipient's carrier, or its default.
    sim_number = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="one_message_per_idempotency_key_scope",
            ),
            # A client-chosen id used twice meets here (409), however many nodes take it at once:
            # both tries have a first recipient.
            models.UniqueConstraint(
                fields=["account", "group_id", "group_position"],
                condition=models.Q(group_id__isnull=False),
                name="one_recipient_per_message_group",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-priority", "created_at"], name="message_queue_idx"),
            models.Index(fields=["gateway", "status", "pushed_at"], name="message_gateway_idx"),
            models.Index(fields=["account", "-created_at"], name="message_account_idx"),
            # The test-mode simulator's scan, every second: only test messages still moving.
            models.Index(
                fields=["status", "created_at"],
                name="message_test_idx",
                condition=models.Q(is_test=True, status__in=["pending", "queued", "sent"]),
            ),
        ]

    def __str__(self) -> str:
        return self.id


class MessageEvent(models.Model):
    """The operators' timeline of one message: every hand-over and report."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    gateway = models.ForeignKey("gateways.Gateway", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    event = models.CharField(max_length=20, choices=MessageEventType.choices)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.message_id} {self.event}"


class InboundSms(models.Model):
    """An SMS a gateway phone received."""

    # None: no tenant's (a reply a shared phone cannot attribute): the operators see it, in the admin.
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="inbound_sms"
    )
    gateway = models.ForeignKey("gateways.Gateway", null=True, on_delete=models.SET_NULL, related_name="inbound_sms")
    # The phone's own id for the SMS: a report sent twice is stored once.
    device_sms_id = models.CharField(max_length=64)
    sim_slot = models.SmallIntegerField(null=True, blank=True)
    sender = models.CharField(max_length=32)
    body = models.TextField()
    received_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "inbound SMS"
        verbose_name_plural = "inbound SMS"
        indexes = [models.Index(fields=["account", "-received_at", "-id"], name="inbound_account_idx")]
        constraints = [models.UniqueConstraint(fields=["gateway", "device_sms_id"], name="one_inbound_per_device_id")]

    def __str__(self) -> str:
        return f"from {self.sender} at {self.received_at:%Y-%m-%d %H:%M}"
