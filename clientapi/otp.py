"""The client API's OTP routes: send a code, verify it."""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import HasApiPermission
from accounts.models import ApiKey, Permission
from core import metrics
from core.api import ApiView, json_object
from core.errors import ValidationFailed
from core.text import is_storable_text
from messaging.phone import normalize_phone_number
from messaging.services import INVALID_PHONE
from otp.services import CODE_DIGITS, otp_issue, otp_verify

INVALID_OTP = "Invalid or expired OTP"


def _phone_number(data: dict) -> str:
    value = data.get("phone_number")
    if value is None:
        raise ValidationFailed("Missing required field: phone_number", code="missing_field")
    phone_number = normalize_phone_number(value)
    if phone_number is None:
        raise ValidationFailed(INVALID_PHONE, code="invalid_phone_number")
    return phone_number


class OtpSendApi(ApiView):
    permission_classes = [HasApiPermission.for_(Permission.SEND_OTP)]

    def post(self, request: Request) -> Response:
        phone_number = _phone_number(json_object(request))
        api_key = request.auth
        otp_issue(account=api_key.account, api_key=api_key, phone_number=phone_number)
        if not api_key.is_test:  # metrics count live traffic only
            metrics.OTP_SENDS.inc()
        return Response({"success": True, "message": "OTP sent successfully", "expires_in": settings.OTP_TTL_SECONDS})


def otp_verify_answer(api_key: ApiKey, data: dict) -> dict:
    """``POST otp/verify``'s body for a JSON object; also served by the lean edge
    (mysmsapio/edge.py)."""
    phone_number = _phone_number(data)
    code = data.get("code")
    if code is None:
        raise ValidationFailed("Missing required field: code", code="missing_field")
    if isinstance(code, bool) or not isinstance(code, (str, int)):
        raise ValidationFailed(INVALID_OTP, code="invalid_otp")
    if isinstance(code, str) and not is_storable_text(code):  # it is hashed: it must encode
        raise ValidationFailed(INVALID_OTP, code="invalid_otp")
    # A code sent as a JSON number has lost its leading zeros: put them back.
    code = f"{code:0{CODE_DIGITS}d}" if isinstance(code, int) and code >= 0 else str(code).strip()
    verified = otp_verify(account=api_key.account, phone_number=phone_number, code=code, is_test=api_key.is_test)
    if not api_key.is_test:  # metrics count live traffic only
        metrics.OTP_VERIFICATIONS.labels("verified" if verified else "rejected").inc()
    if not verified:
        raise ValidationFailed(INVALID_OTP, code="invalid_otp")
    return {"success": True, "message": "OTP verified successfully"}


class OtpVerifyApi(ApiView):
    permission_classes = [HasApiPermission.for_(Permission.VERIFY_OTP)]

    def post(self, request: Request) -> Response:
        return Response(otp_verify_answer(request.auth, json_object(request)))
