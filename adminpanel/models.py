from __future__ import annotations

from django.db import models
from django.utils import timezone


class ApiRequest(models.Model):
    """One request to the public API, for the operators' log. Never a body, a header, a query
    string, a key or a code: what was called, by which key (name and prefix), and how it went."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # No database constraint: an insert would lock the key and account rows it points to (a
    # foreign-key check), on the hottest rows there are, for a log line. Deleting a key or an
    # account still empties these through the ORM.
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.SET_NULL, db_constraint=False
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, db_constraint=False
    )
    key_name = models.CharField(max_length=100, blank=True)
    key_prefix = models.CharField(max_length=32, blank=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=200)
    status = models.PositiveSmallIntegerField()
    latency_ms = models.FloatField()
    client_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = "API request"
        ordering = ["-created_at"]
        # The operators' own pages: staff status alone does not open them.
        permissions = [
            ("use_api_tester", "Can use the API tester"),
            ("view_logs", "Can view the request and gateway logs"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"
