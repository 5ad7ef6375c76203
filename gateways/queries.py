"""gateways' hand-written SQL, on its own tables only (see messaging/queries.py for why)."""

from __future__ import annotations

from django.db import models

from .models import Gateway

GATEWAY = Gateway._meta.db_table

# What a phone's sockets act on (gateways.selectors.gateway_pace): its token, and what paces
# it; nothing once it is revoked.
PHONE_PACE_COLUMNS = ["token_hash", "enabled", "rate_per_minute", "daily_quota", "sims", "account_id", "shared"]
PHONE_PACE = f"""
SELECT {", ".join(f'"{column}"' for column in PHONE_PACE_COLUMNS)} FROM {GATEWAY}
WHERE id = %s AND revoked_at IS NULL
"""

COLUMN_LISTS: list[tuple[type[models.Model], list[str]]] = [(Gateway, PHONE_PACE_COLUMNS)]
