"""One-time passcodes: read-only, never the code."""

from __future__ import annotations

from django.contrib import admin

from otp.models import Otp

from .base import ReadOnlyAdmin


@admin.register(Otp)
class OtpAdmin(ReadOnlyAdmin):
    list_display = [
        "phone_number",
        "account",
        "status",
        "attempts",
        "created_at",
        "expires_at",
        "verified_at",
        "is_test",
    ]
    list_filter = ["status", "account", "is_test"]
    search_fields = ["phone_number"]
    exclude = ["code_hash"]  # never the code, not even its hash
