from __future__ import annotations

from django.db.models import QuerySet

from core.crypto import hashes_match, keyed_hash, secret_lookup
from core.invalidation import Memo, invalidate

from .models import ApiKey, SmsGateLogin
from .services import SMSGATE_PASSWORD_PURPOSE, hash_api_key

API_KEYS_TOPIC = "api_keys"
SMSGATE_LOGINS_TOPIC = "smsgate_logins"


def _load_keys(prefix: object) -> list[ApiKey]:
    return list(ApiKey.objects.select_related("account").filter(prefix=prefix))


# The keys of each lookup prefix seen, with their accounts: every API request needs its key.
_keys_by_prefix = Memo(API_KEYS_TOPIC, _load_keys)


def api_keys_changed() -> None:
    """A key was created, revoked, rolled or deleted: every process forgets the keys it
    holds (a revoked key is refused everywhere as soon as the change commits)."""
    invalidate(API_KEYS_TOPIC)


def api_key_row_changed(sender: type, **kwargs: object) -> None:
    """Receiver of ApiKey's post_save and post_delete, and Account's post_save."""
    api_keys_changed()


def api_key_get_by_raw(*, raw_key: str) -> ApiKey | None:
    """The usable key matching ``raw_key``, or None (malformed, unknown, revoked, expired)."""
    test = raw_key.startswith(ApiKey.TEST_RAW_PREFIX)
    prefix = secret_lookup(raw_key, prefix=ApiKey.raw_prefix_for(test=test))
    if prefix is None:
        return None
    # The hash covers the whole key, its mode's prefix included: a key matches in its own mode only.
    candidate_hash = hash_api_key(raw_key)
    for api_key in _keys_by_prefix.get(prefix):
        if hashes_match(api_key.key_hash, candidate_hash):
            return api_key if api_key.is_usable() else None
    return None


def api_key_list(*, account_name: str | None = None) -> QuerySet[ApiKey]:
    keys = ApiKey.objects.select_related("account").order_by("-created_at")
    if account_name:
        keys = keys.filter(account__name=account_name)
    return keys


def _load_login(login: object) -> SmsGateLogin | None:
    return SmsGateLogin.objects.select_related("account").filter(login=login, revoked_at__isnull=True).first()


# SMS Gate's libraries send Basic credentials on every call: each login, with its account.
_logins = Memo(SMSGATE_LOGINS_TOPIC, _load_login)


def smsgate_login_row_changed(sender: type, **kwargs: object) -> None:
    """Receiver of SmsGateLogin's and Account's post_save and post_delete: every process forgets."""
    invalidate(SMSGATE_LOGINS_TOPIC)


def smsgate_login_check(*, login: str, password: str) -> SmsGateLogin | None:
    """The unrevoked login named ``login`` whose password is ``password``, or None; from
    memory where the caches run (the libraries send Basic credentials on every call)."""
    credential = _logins.get(login) if 0 < len(login) <= 32 else None
    candidate = keyed_hash(SMSGATE_PASSWORD_PURPOSE, password)
    if credential is None or not hashes_match(credential.password_hash, candidate):
        return None
    return credential
