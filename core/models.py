from __future__ import annotations

from django.db import models


class RateLimitCounter(models.Model):
    """One fixed-window counter per limited key (database backend of ``core.ratelimit``)."""

    key = models.CharField(max_length=200, primary_key=True)
    window_start = models.BigIntegerField()
    count = models.PositiveIntegerField()

    class Meta:
        db_table = "mysmsapio_ratelimitcounter"  # moved from the project package with its rows

    def __str__(self) -> str:
        return f"{self.key}: {self.count} since {self.window_start}"
