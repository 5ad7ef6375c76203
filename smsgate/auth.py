"""Authentication as SMS Gate's libraries do it: Basic ``login:password`` for the logins an
operator issues (``manage.py create_smsgate_login``; accounts.SmsGateLogin), which may do
everything (scope ``all:any``), and Bearer JWTs issued to them (``POST /auth/token``), which may
do what their scopes say. Either way ``request.auth`` is a ``Caller``.

Failed Basic tries are counted per client address and per login tried; past either limit the
answer is 429 without looking at the password, so that guessing is as slow as for the admin."""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass

from django.conf import settings
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import SmsGateLogin, SmsGateToken
from accounts.selectors import smsgate_login_check
from accounts.services import SMSGATE_REFRESH_SCOPE, smsgate_login_mark_used, smsgate_token_check
from core import ratelimit
from core.errors import RateLimited

INVALID_CREDENTIALS = "invalid login or password"
ALL_SCOPES = "all:any"


@dataclass(frozen=True)
class Caller:
    """Who calls: the login, and what it may do (its token's scopes; everything with Basic)."""

    login: SmsGateLogin
    scopes: frozenset[str]
    token: SmsGateToken | None = None

    is_authenticated = True  # DRF's IsAuthenticated reads it off ``request.user``

    def may(self, scope: str) -> bool:
        """``all:any`` allows every scope but the refresh endpoint's, which wants exactly its own."""
        return scope in self.scopes or (ALL_SCOPES in self.scopes and scope != SMSGATE_REFRESH_SCOPE)


NOT_BASIC = "the Basic credentials are not base64 of login:password"


def _failure_keys(address: str, login: str) -> list[str]:
    return [f"smsgate-fail:{address}", f"smsgate-fail-login:{login[:64]}"]


def _basic_pair(value: bytes) -> tuple[str, str] | None:
    """(login, password) from a Basic credential's base64, or None."""
    try:
        login, colon, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (login, password) if colon else None


def _lock_left(address: str, login: str) -> float:
    """Seconds until this address and login may try again (0: they may)."""
    limit, window = settings.SMSGATE_LOGIN_FAILURES, settings.ADMIN_LOGIN_WINDOW_SECONDS
    if max(ratelimit.counts(_failure_keys(address, login), window_seconds=window)) < limit:  # a look, not a try
        return 0
    return max(1.0, window - time.time() % window)


# Address and login pairs that gave the right password and were not locked out, until when
# (time.monotonic()): the libraries send the same credentials on every call, and a pair that
# knows the password need not be looked up in the lock-out counters each time. A lock-out
# reaches them within RECENTLY_CLEARED_SECONDS; one who guesses is never in here.
RECENTLY_CLEARED_SECONDS = 5.0
_recently_cleared: dict[tuple[str, str], float] = {}


def _lock_left_for_right_password(address: str, login: str) -> float:
    now = time.monotonic()
    if _recently_cleared.get((address, login), 0.0) > now:
        return 0
    wait = _lock_left(address, login)
    if not wait:
        if len(_recently_cleared) > 10_000:
            _recently_cleared.clear()
        _recently_cleared[address, login] = now + RECENTLY_CLEARED_SECONDS
    return wait


def basic_caller(header: bytes, address: str) -> Caller | None:
    """For the lean edge (mysmsapio/edge.py): the caller of right Basic credentials that are
    not locked out, else None, counting nothing: Django's path then answers (401 or 429) and
    counts the failure, once."""
    scheme, _, value = header.partition(b" ")
    pair = _basic_pair(value) if scheme.lower() == b"basic" else None
    credential = smsgate_login_check(login=pair[0], password=pair[1]) if pair else None
    if credential is None or _lock_left_for_right_password(address, pair[0]):
        return None
    smsgate_login_mark_used(credential=credential)
    return Caller(credential, frozenset({ALL_SCOPES}))


class SmsGateBasicAuthentication(authentication.BaseAuthentication):
    """``Authorization: Basic base64(login:password)``: ``request.auth`` is the SmsGateLogin."""

    def authenticate(self, request: Request) -> tuple[Caller, Caller] | None:
        scheme, _, value = authentication.get_authorization_header(request).partition(b" ")
        if scheme.lower() != b"basic":
            return None
        pair = _basic_pair(value)
        if pair is None:
            raise exceptions.AuthenticationFailed(NOT_BASIC)
        login, password = pair
        address = request.META.get("REMOTE_ADDR", "")
        if wait := _lock_left(address, login):
            raise RateLimited("too many failed logins: try again later", retry_after=wait)
        credential = smsgate_login_check(login=login, password=password)
        if credential is None:
            for key in _failure_keys(address, login):
                ratelimit.hit(
                    key, limit=settings.SMSGATE_LOGIN_FAILURES, window_seconds=settings.ADMIN_LOGIN_WINDOW_SECONDS
                )
            raise exceptions.AuthenticationFailed(INVALID_CREDENTIALS)
        smsgate_login_mark_used(credential=credential)
        caller = Caller(credential, frozenset({ALL_SCOPES}))
        return caller, caller

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="sms-gate"'


class SmsGateBearerAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <JWT>`` from ``POST /auth/token``: its scopes, while it is not
    expired or revoked (each request asks the database, as SMS Gate's server does)."""

    def authenticate(self, request: Request) -> tuple[Caller, Caller] | None:
        scheme, _, value = authentication.get_authorization_header(request).partition(b" ")
        if scheme.lower() != b"bearer":
            return None
        try:
            raw = value.strip().decode("ascii")
        except UnicodeDecodeError:
            raw = ""
        token = smsgate_token_check(raw) if raw else None
        if token is None:
            raise exceptions.AuthenticationFailed("invalid, expired or revoked token")
        caller = Caller(token.login, frozenset(token.scopes), token)
        return caller, caller
