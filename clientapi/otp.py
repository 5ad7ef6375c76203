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
from otp.services import otp_issue, otp_verify

from .operations import WRITE_ERRORS, operation
from .schemas import INVALID_OTP, OtpSendInput, OtpSent, OtpVerified, OtpVerifyInput


class OtpSendApi(ApiView):
    """Send a one-time code."""

    permission_classes = [HasApiPermission.for_(Permission.SEND_OTP)]

    @operation("otpSend", body=OtpSendInput, answers={200: OtpSent}, errors=WRITE_ERRORS)
    def post(self, request: Request) -> Response:
        phone_number = OtpSendInput.check(json_object(request))["phone_number"]
        api_key = request.auth
        otp_issue(account=api_key.account, api_key=api_key, phone_number=phone_number)
        if not api_key.is_test:  # metrics count live traffic only
            metrics.OTP_SENDS.inc()
        return Response(
            OtpSent.answer(success=True, message="OTP sent successfully", expires_in=settings.OTP_TTL_SECONDS)
        )


def otp_verify_answer(api_key: ApiKey, data: dict) -> dict:
    """``POST otp/verify``'s body for a JSON object; also served by the lean edge
    (mysmsapio/edge.py)."""
    checked = OtpVerifyInput.check(data)
    verified = otp_verify(
        account=api_key.account, phone_number=checked["phone_number"], code=checked["code"], is_test=api_key.is_test
    )
    if not api_key.is_test:  # metrics count live traffic only
        metrics.OTP_VERIFICATIONS.labels("verified" if verified else "rejected").inc()
    if not verified:
        raise ValidationFailed(INVALID_OTP, code="invalid_otp")
    return OtpVerified.answer(success=True, message="OTP verified successfully")


class OtpVerifyApi(ApiView):
    """Verify a one-time code."""

    permission_classes = [HasApiPermission.for_(Permission.VERIFY_OTP)]

    @operation("otpVerify", body=OtpVerifyInput, answers={200: OtpVerified}, errors=WRITE_ERRORS)
    def post(self, request: Request) -> Response:
        return Response(otp_verify_answer(request.auth, json_object(request)))
