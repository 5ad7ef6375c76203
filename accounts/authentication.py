from __future__ import annotations

from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from mysmsapio.errors import INVALID_API_KEY

from .models import ApiKey
from .selectors import api_key_get_by_raw
from .services import api_key_mark_used


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer api_live_...``. ``request.user`` is the ApiKey, ``request.auth``
    the same key, so views reach its account and permissions."""

    keyword = "bearer"

    def authenticate(self, request: Request) -> tuple[ApiKey, ApiKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != self.keyword.encode() or len(header) != 2:
            raise exceptions.AuthenticationFailed(INVALID_API_KEY)
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(INVALID_API_KEY) from None
        api_key = api_key_get_by_raw(raw_key=raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed(INVALID_API_KEY)
        api_key_mark_used(api_key=api_key)
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
