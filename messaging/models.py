from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class MessageStatus(models.TextChoices):
    """Exactly the integration guide's statuses."""

    QUEUED = "queued", "Queued"  # a phone has been chosen, waiting for it to take the job
    PENDING = "pending", "Pending"  # no gateway available, will retry
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class MessagePriority(models.IntegerChoices):
    NORMAL = 0, "Normal"
    OTP = 10, "OTP"


class Message(models.Model):
    """One outgoing SMS: the row is the job, the source of truth every worker reads."""

    id = models.CharField(primary_key=True, max_length=36, default=new_message_id, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="messages")
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    to = models.CharField(max_length=16)
    # What operators see. For an OTP the code is masked here and the real text is sealed in
    # ``sealed_body`` until a phone takes it (codes are never stored in the clear).
    body = models.TextField()
    sealed_body = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001 - null: nothing sealed
    encoding = models.CharField(max_length=4)
    segments = models.PositiveSmallIntegerField()
    priority = models.SmallIntegerField(choices=MessagePriority.choices, default=MessagePriority.NORMAL)
    status = models.CharField(max_length=10, choices=MessageStatus.choices, db_index=True)
    gateway = models.ForeignKey(
        "gateways.Gateway", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)  # noqa: DJ001 - the API reports null, not ""
    # After this a message still waiting for a gateway ends failed ("Expired: ...").
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["status", "-priority", "created_at"], name="message_queue_idx"),
            models.Index(fields=["account", "-created_at"], name="message_account_idx"),
        ]

    def __str__(self) -> str:
        return self.id
