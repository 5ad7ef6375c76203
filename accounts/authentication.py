from __future__ import annotations

from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from core.errors import INVALID_API_KEY, MALFORMED_AUTHORIZATION

from .models import ApiKey
from .selectors import api_key_get_by_raw
from .services import api_key_mark_used


def _bearer_word(header: bytes) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header's value, or None when the value is
    of another form (another scheme, no key, extra words, not ASCII)."""
    words = header.split()
    if len(words) != 2 or words[0].lower() != b"bearer" or not words[1].isascii():
        return None
    return words[1].decode("ascii")


def api_key_from_authorization(header: bytes) -> ApiKey | None:
    """The usable key named by an ``Authorization: Bearer <key>`` header's value, its use
    recorded; None for anything else (another form, unknown or revoked)."""
    raw_key = _bearer_word(header)
    if raw_key is None:
        return None
    api_key = api_key_get_by_raw(raw_key=raw_key)
    if api_key is not None:
        api_key_mark_used(api_key=api_key)
    return api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer api_live_...``. ``request.user`` is the ApiKey, ``request.auth``
    the same key, so views reach its account and permissions."""

    def authenticate(self, request: Request) -> tuple[ApiKey, ApiKey] | None:
        header = authentication.get_authorization_header(request)
        if not header.strip():
            return None
        api_key = api_key_from_authorization(header)
        if api_key is None:
            malformed = _bearer_word(header) is None
            raise exceptions.AuthenticationFailed(INVALID_API_KEY, code=MALFORMED_AUTHORIZATION if malformed else None)
        return api_key, api_key

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class HasApiPermission(permissions.BasePermission):
    """Use as ``permission_classes = [HasApiPermission.for_("send_sms")]``."""

    required: str = ""

    @classmethod
    def for_(cls, permission: str) -> type[HasApiPermission]:
        return type(f"Has_{permission}", (cls,), {"required": permission})

    def has_permission(self, request: Request, view) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            raise exceptions.NotAuthenticated(INVALID_API_KEY)
        if not api_key.has_permission(self.required):
            self.message = f"This API key does not have the {self.required} permission"
            return False
        return True
