from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import HasApiPermission
from accounts.models import Permission
from mysmsapio import ratelimit
from mysmsapio.api import json_object
from mysmsapio.errors import NotFound, RateLimited

from .selectors import message_get
from .services import message_create, sms_validate


def _iso(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


class SmsSendApi(APIView):
    permission_classes = [HasApiPermission.for_(Permission.SEND_SMS)]

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        # Counted after authentication, before validation: every authenticated call counts.
        limit = settings.SMS_RATE_LIMIT_PER_MINUTE
        self.rate_limit = ratelimit.hit(f"sms:{request.auth.pk}", limit=limit, window_seconds=60)
        if not self.rate_limit.allowed:
            raise RateLimited(
                f"Rate limit exceeded. Maximum {limit} SMS per minute for this API key",
                retry_after=self.rate_limit.retry_after,
            )

    def finalize_response(self, request: Request, response: Response, *args, **kwargs) -> Response:
        rate_limit = getattr(self, "rate_limit", None)
        if rate_limit is not None:
            for name, value in rate_limit.headers().items():
                response[name] = value
        return super().finalize_response(request, response, *args, **kwargs)

    def post(self, request: Request) -> Response:
        data = json_object(request)
        sms = sms_validate(to=data.get("to"), text=data.get("message"))
        api_key = request.auth
        message = message_create(account=api_key.account, api_key=api_key, to=sms.to, text=sms.text)
        return Response(
            {"success": True, "message_id": message.pk, "status": message.status},
            status=202,
        )


class SmsStatusApi(APIView):
    permission_classes = [HasApiPermission.for_(Permission.SEND_SMS)]

    def get(self, request: Request, message_id: str) -> Response:
        message = message_get(account=request.auth.account, message_id=message_id)
        if message is None:
            raise NotFound("Message not found", code="message_not_found")
        return Response(
            {
                "message_id": message.pk,
                "status": message.status,
                "sent_at": _iso(message.sent_at),
                "delivered_at": _iso(message.delivered_at),
                "failed_at": _iso(message.failed_at),
                "error_message": message.error_message,
            }
        )
