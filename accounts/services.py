from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.crypto import keyed_hash, new_prefixed_secret, random_base62, seal, signing_key, unseal

from .models import Account, ApiKey, Permission, SmsGateLogin, SmsGateSettings, SmsGateToken

HASH_PURPOSE = "api_key"
LAST_USED_RESOLUTION = timedelta(minutes=1)


class UnknownPermission(ValueError):
    pass


@dataclass(frozen=True)
class GeneratedApiKey:
    api_key: ApiKey
    raw_key: str

    def __getitem__(self, item: str):
        # The guide's Rails console reads ``result[:raw_key]``; allow ``result["raw_key"]`` too.
        return getattr(self, item)


def hash_api_key(raw_key: str) -> str:
    return keyed_hash(HASH_PURPOSE, raw_key)


def normalize_permissions(permissions: Iterable[str] | Mapping[str, bool]) -> list[str]:
    """Accepts ``["send_sms", ...]`` or the guide's ``{"send_sms": True, ...}``."""
    if isinstance(permissions, Mapping):
        names = [name for name, enabled in permissions.items() if enabled]
    else:
        names = list(permissions)
    valid = set(Permission.values)
    unknown = sorted(set(names) - valid)
    if unknown:
        raise UnknownPermission(f"Unknown permission(s): {', '.join(unknown)}")
    return [p for p in Permission.values if p in names]


def account_get_or_create(*, name: str = Account.DEFAULT_NAME) -> Account:
    account, _ = Account.objects.get_or_create(name=name)
    return account


@transaction.atomic
def api_key_generate(
    *,
    name: str,
    permissions: Iterable[str] | Mapping[str, bool],
    account: Account | None = None,
    expires_at: datetime | None = None,
    lineage_id: int | None = None,
    test: bool = False,
) -> GeneratedApiKey:
    """Counterpart of the guide's ``ApiKey.generate!``: the raw key is returned once, here.
    ``test``: an ``api_test_`` key, whose messages never reach a phone (docs/test-mode.md)."""
    # 40 base62 characters after "api_live_": about 238 bits.
    secret = new_prefixed_secret(prefix=ApiKey.raw_prefix_for(test=test), purpose=HASH_PURPOSE)
    api_key = ApiKey.objects.create(
        account=account or account_get_or_create(),
        name=name,
        prefix=secret.lookup,
        key_hash=secret.hash,
        permissions=normalize_permissions(permissions),
        expires_at=expires_at,
        lineage_id=lineage_id,
        is_test=test,
    )
    return GeneratedApiKey(api_key=api_key, raw_key=secret.raw)


def api_key_revoke(*, api_key: ApiKey, at: datetime | None = None) -> ApiKey:
    api_key.revoked_at = at or timezone.now()
    api_key.save(update_fields=["revoked_at"])
    return api_key


class ApiKeyNotRollable(ValueError):
    """A revoked or expired key is not rolled: that would bring back a key someone stopped."""


@transaction.atomic
def api_key_roll(*, api_key: ApiKey, grace: timedelta, now: datetime | None = None) -> GeneratedApiKey:
    """A new key with the same name, account and permissions; the old one keeps working for
    ``grace`` (zero: stops now), so clients can switch without downtime. Refuses a key that
    no longer works (``ApiKeyNotRollable``)."""
    now = now or timezone.now()
    if api_key.revoked_at is not None and api_key.revoked_at <= now:
        raise ApiKeyNotRollable(f"“{api_key.name}” is revoked: create a new key instead of rolling it")
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise ApiKeyNotRollable(f"“{api_key.name}” has expired: create a new key instead of rolling it")
    # The new key continues the old one's line: during the grace period a client switching
    # keys has one budget and one Idempotency-Key scope, so a retry with the new key never
    # sends twice.
    new = api_key_generate(
        name=api_key.name,
        permissions=api_key.permissions,
        account=api_key.account,
        expires_at=api_key.expires_at,
        lineage_id=api_key.budget_id,
        test=api_key.is_test,
    )
    stop_at = now + grace
    if api_key.revoked_at is None or api_key.revoked_at > stop_at:
        api_key_revoke(api_key=api_key, at=stop_at)
    return new


def api_key_mark_used(*, api_key: ApiKey, now: datetime | None = None) -> None:
    """Record use at most once a minute per key: a write on every request would make the
    hottest row in the database the one every request touches."""
    now = now or timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


# --- SMS Gate client API logins (smsgate/) -----------------------------------------------------

SMSGATE_PASSWORD_PURPOSE = "smsgate_password"
# Upper-case letters and digits without look-alikes: a login is read out and typed by people.
_LOGIN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class IssuedSmsGateLogin:
    credential: SmsGateLogin
    password: str  # shown once; only its keyed hash is kept


def smsgate_login_issue(*, account: Account, name: str) -> IssuedSmsGateLogin:
    """A new ``login:password`` for SMS Gate's client libraries, acting for ``account``."""
    login = "".join(secrets.choice(_LOGIN_ALPHABET) for _ in range(8))
    password = random_base62(24)
    credential = SmsGateLogin.objects.create(
        account=account, name=name, login=login, password_hash=keyed_hash(SMSGATE_PASSWORD_PURPOSE, password)
    )
    return IssuedSmsGateLogin(credential=credential, password=password)


def smsgate_login_mark_used(*, credential: SmsGateLogin, now: datetime | None = None) -> None:
    """Record use at most once a minute per login, as for API keys."""
    now = now or timezone.now()
    if credential.last_used_at is not None and now - credential.last_used_at < LAST_USED_RESOLUTION:
        return
    SmsGateLogin.objects.filter(pk=credential.pk).update(last_used_at=now)
    credential.last_used_at = now


def smsgate_login_roll(*, credential: SmsGateLogin) -> str:
    """A new password for the login (the old one stops working now); returns it, to show once."""
    password = random_base62(24)
    credential.password_hash = keyed_hash(SMSGATE_PASSWORD_PURPOSE, password)
    credential.save(update_fields=["password_hash"])
    return password


def smsgate_logins_revoke(*, login_ids: list[int], at: datetime | None = None) -> None:
    """Revoke these logins (each process forgets them: post_save, through save())."""
    for credential in SmsGateLogin.objects.filter(pk__in=login_ids, revoked_at__isnull=True):
        smsgate_login_revoke(credential=credential, at=at)


def smsgate_login_revoke(*, credential: SmsGateLogin, at: datetime | None = None) -> SmsGateLogin:
    credential.revoked_at = at or timezone.now()
    credential.save(update_fields=["revoked_at"])
    return credential


# --- SMS Gate client API tokens: JWT, HS256, revocable by jti ----------------------------------

SMSGATE_TOKEN_ISSUER = "mysmsapio"
SMSGATE_REFRESH_SCOPE = "tokens:refresh"
_JWT_PURPOSE = "smsgate_jwt"


@dataclass(frozen=True)
class IssuedTokens:
    access: SmsGateToken
    access_token: str
    refresh_token: str


def _encode(token: SmsGateToken, *, claims: dict) -> str:
    payload = {
        "jti": token.jti,
        "iss": SMSGATE_TOKEN_ISSUER,
        "sub": token.login.login,
        "user_id": token.login.login,
        "iat": int(token.created_at.timestamp()),
        "exp": int(token.expires_at.timestamp()),
        **claims,
    }
    return jwt.encode(payload, signing_key(_JWT_PURPOSE), algorithm="HS256")


@transaction.atomic
def smsgate_tokens_issue(
    *, credential: SmsGateLogin, scopes: list[str], ttl_seconds: int | None = None
) -> IssuedTokens:
    """An access token with ``scopes`` for at most SMSGATE_TOKEN_TTL_SECONDS (``ttl_seconds``
    shortens it), and the refresh token that can be exchanged once for a new pair."""
    now = timezone.now()
    cap = settings.SMSGATE_TOKEN_TTL_SECONDS
    ttl = min(ttl_seconds, cap) if ttl_seconds else cap
    access = SmsGateToken.objects.create(
        jti=random_base62(21),
        login=credential,
        kind=SmsGateToken.ACCESS,
        scopes=list(dict.fromkeys(scopes)),
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    refresh = SmsGateToken.objects.create(
        jti=random_base62(21),
        login=credential,
        kind=SmsGateToken.REFRESH,
        parent=access,
        scopes=[SMSGATE_REFRESH_SCOPE],
        created_at=now,
        expires_at=now + timedelta(seconds=settings.SMSGATE_REFRESH_TTL_SECONDS),
    )
    return IssuedTokens(
        access=access,
        access_token=_encode(access, claims={"scopes": access.scopes}),
        refresh_token=_encode(refresh, claims={"scopes": refresh.scopes, "original_scopes": access.scopes}),
    )


def smsgate_tokens_prune(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete the SMS Gate tokens that expired more than ``older_than`` ago: an access token
    with its refresh token, once both have (a refresh token outlives its access token, and is
    deleted with it). Returns how many rows went."""
    cutoff = (now or timezone.now()) - older_than
    expired = SmsGateToken.objects.filter(kind=SmsGateToken.ACCESS, expires_at__lt=cutoff)
    deleted, _ = expired.exclude(children__expires_at__gte=cutoff).delete()
    return deleted


def smsgate_token_check(raw_token: str) -> SmsGateToken | None:
    """The unexpired, unrevoked token ``raw_token`` is, of a login that is not revoked; or None
    (a bad signature, another algorithm, ``alg: none``, expired, revoked, unknown)."""
    try:
        claims = jwt.decode(
            raw_token,
            signing_key(_JWT_PURPOSE),
            algorithms=["HS256"],
            issuer=SMSGATE_TOKEN_ISSUER,
            options={"require": ["jti", "exp", "iss"]},
        )
    except jwt.PyJWTError:
        return None
    jti = claims.get("jti")
    if not isinstance(jti, str):
        return None
    token = SmsGateToken.objects.select_related("login__account").filter(pk=jti).first()
    now = timezone.now()
    if token is None or token.revoked_at is not None or token.expires_at <= now or token.login.revoked_at is not None:
        return None
    return token


@transaction.atomic
def smsgate_token_refresh(*, refresh: SmsGateToken) -> IssuedTokens | None:
    """A new pair for a refresh token, used once: its second use finds it revoked (None)."""
    used = SmsGateToken.objects.filter(pk=refresh.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if not used:
        return None
    original = refresh.parent.scopes if refresh.parent_id else []
    return smsgate_tokens_issue(credential=refresh.login, scopes=original)


def smsgate_token_revoke(*, credential: SmsGateLogin, jti: str) -> None:
    """Revoke the login's token ``jti`` and the tokens issued with it (its refresh token)."""
    now = timezone.now()
    mine = SmsGateToken.objects.filter(login=credential, revoked_at__isnull=True)
    mine.filter(Q(pk=jti) | Q(parent_id=jti)).update(revoked_at=now)


# --- SMS Gate settings of an account (smsgate/ checks them; webhooks/ signs with the key) --------

_SIGNING_KEY_CONTEXT = "smsgate-signing-key"
_KEEP = object()


def smsgate_settings_public(*, account_id: int) -> dict[str, Any]:
    row = SmsGateSettings.objects.filter(account_id=account_id).first()
    return dict(row.public) if row is not None else {}


@transaction.atomic
def smsgate_settings_store(
    *, account_id: int, update: Callable[[dict[str, Any]], dict[str, Any]], signing_key: Any = _KEEP
) -> dict[str, Any]:
    """The account's settings, changed by ``update`` (stored public sections in, new ones out,
    under the row's lock), and its signing key set (a string; empty: none) unless left out.
    Returns the public sections stored."""
    row, _ = SmsGateSettings.objects.select_for_update().get_or_create(account_id=account_id)
    row.public = update({section: dict(values) for section, values in row.public.items()})
    fields = ["public", "updated_at"]
    if signing_key is not _KEEP:
        row.sealed_signing_key = seal(signing_key, context=_SIGNING_KEY_CONTEXT) if signing_key else ""
        fields.append("sealed_signing_key")
    row.updated_at = timezone.now()
    row.save(update_fields=fields)
    return row.public


def smsgate_signing_key(*, account_id: int) -> str:
    """The key the account's SMS Gate-style webhooks are signed with, or "" (unsigned)."""
    sealed = SmsGateSettings.objects.filter(account_id=account_id).values_list("sealed_signing_key", flat=True)
    return unseal(sealed[0], context=_SIGNING_KEY_CONTEXT) if sealed and sealed[0] else ""
