from __future__ import annotations

from django.db.models import QuerySet

from mysmsapio.crypto import hashes_match, secret_lookup

from .models import ApiKey
from .services import hash_api_key


def api_key_get_by_raw(*, raw_key: str) -> ApiKey | None:
    """The usable key matching ``raw_key``, or None (malformed, unknown, revoked, expired)."""
    prefix = secret_lookup(raw_key, prefix=ApiKey.RAW_PREFIX)
    if prefix is None:
        return None
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
