from __future__ import annotations

import re

from django.db.models import QuerySet

from mysmsapio.crypto import hashes_match

from .models import ApiKey
from .services import LOOKUP_PREFIX_LENGTH, hash_api_key

RAW_KEY_PATTERN = re.compile(r"^api_live_[A-Za-z0-9]{32,}$")


def api_key_get_by_raw(*, raw_key: str) -> ApiKey | None:
    """The usable key matching ``raw_key``, or None (malformed, unknown, revoked, expired)."""
    if not RAW_KEY_PATTERN.match(raw_key):
        return None
    prefix = raw_key[len(ApiKey.RAW_PREFIX) :][:LOOKUP_PREFIX_LENGTH]
    candidate_hash = hash_api_key(raw_key)
    for api_key in ApiKey.objects.select_related("account").filter(prefix=prefix):
        if hashes_match(api_key.key_hash, candidate_hash):
            return api_key if api_key.is_usable() else None
    return None


def api_key_list(*, account_name: str | None = None) -> QuerySet[ApiKey]:
    keys = ApiKey.objects.select_related("account").order_by("-created_at")
    if account_name:
        keys = keys.filter(account__name=account_name)
    return keys
