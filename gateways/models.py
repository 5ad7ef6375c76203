from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class Gateway(models.Model):
    """An Android phone that sends SMS for us over its WebSocket."""

    TOKEN_PREFIX = "gw_live_"

    name = models.CharField(max_length=100, unique=True)
    token_prefix = models.CharField(max_length=16, db_index=True, blank=True)
    token_hash = models.CharField(max_length=64, blank=True)
    enabled = models.BooleanField(default=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Android lets an app send 30 SMS parts per 60 s; pace well below it by default.
    rate_per_minute = models.PositiveSmallIntegerField(default=10)
    daily_quota = models.PositiveIntegerField(null=True, blank=True)
    # Presence is a database fact: the socket is open and the phone spoke recently.
    is_connected = models.BooleanField(default=False)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate_per_minute__gte=1, rate_per_minute__lte=30),
                name="gateway_rate_between_1_and_30",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def online_since(now=None):
        now = now or timezone.now()
        return now - timedelta(seconds=settings.GATEWAY_ONLINE_WINDOW_SECONDS)

    @property
    def is_online(self) -> bool:
        return (
            self.enabled
            and self.revoked_at is None
            and self.is_connected
            and self.last_seen_at is not None
            and self.last_seen_at >= self.online_since()
        )
