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


def _failure_keys(request: Request, login: str) -> list[str]:
    return [f"smsgate-fail:{request.META.get('REMOTE_ADDR', '')}", f"smsgate-fail-login:{login[:64]}"]


class SmsGateBasicAuthentication(authentication.BaseAuthentication):
    """``Authorization: Basic base64(login:password)``: ``request.auth`` is the SmsGateLogin."""

    def authenticate(self, request: Request) -> tuple[Caller, Caller] | None:
        scheme, _, value = authentication.get_authorization_header(request).partition(b" ")
        if scheme.lower() != b"basic":
            return None
        try:
            login, colon, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise exceptions.AuthenticationFailed("the Basic credentials are not base64 of login:password") from None
        if not colon:
            raise exceptions.AuthenticationFailed("the Basic credentials are not base64 of login:password")
        limit, window = settings.SMSGATE_LOGIN_FAILURES, settings.ADMIN_LOGIN_WINDOW_SECONDS
        keys = _failure_keys(request, login)
        if max(ratelimit.counts(keys, window_seconds=window)) >= limit:  # a look, not a try
            raise RateLimited("too many failed logins: try again later", retry_after=window - time.time() % window)
        credential = smsgate_login_check(login=login, password=password)
        if credential is None:
            for key in keys:
                ratelimit.hit(key, limit=limit, window_seconds=window)
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
