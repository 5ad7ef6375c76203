"""gateways' hand-written SQL, on its own tables only (see messaging/queries.py for why)."""

from __future__ import annotations

from django.db import models

from .models import Gateway

GATEWAY = Gateway._meta.db_table

# The push path's first read, for every batch of jobs: what paces the phone, if the socket's
# token is still the phone's (nothing once it was rolled or revoked).
PHONE_PACE_COLUMNS = ["rate_per_minute", "daily_quota", "sims"]
PHONE_PACE = f"""
SELECT {", ".join(f'"{column}"' for column in PHONE_PACE_COLUMNS)} FROM {GATEWAY}
WHERE id = %s AND enabled AND revoked_at IS NULL AND token_hash = %s
"""

COLUMN_LISTS: list[tuple[type[models.Model], list[str]]] = [(Gateway, PHONE_PACE_COLUMNS)]
