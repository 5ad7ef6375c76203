from __future__ import annotations

from django.urls import re_path

from .otp import OtpSendApi, OtpVerifyApi
from .sms import SmsBulkApi, SmsCancelApi, SmsInboxApi, SmsListApi, SmsSendApi, SmsStatusApi

# A trailing slash is optional everywhere: clients write both.
urlpatterns = [
    re_path(r"^sms/send/?$", SmsSendApi.as_view(), name="sms-send"),
    re_path(r"^sms/status/(?P<message_id>[^/]+)/?$", SmsStatusApi.as_view(), name="sms-status"),
    re_path(r"^sms/inbox/?$", SmsInboxApi.as_view(), name="sms-inbox"),
    # Beyond the guide (docs/API_DOCUMENTATION.md): listing and cancelling.
    re_path(r"^sms/?$", SmsListApi.as_view(), name="sms-list"),
    re_path(r"^sms/bulk/?$", SmsBulkApi.as_view(), name="sms-bulk"),
    re_path(r"^sms/(?P<message_id>[^/]+)/cancel/?$", SmsCancelApi.as_view(), name="sms-cancel"),
    re_path(r"^otp/send/?$", OtpSendApi.as_view(), name="otp-send"),
    re_path(r"^otp/verify/?$", OtpVerifyApi.as_view(), name="otp-verify"),
]
