from __future__ import annotations

from django.urls import re_path

from .otp import OtpSendApi, OtpVerifyApi
from .sms import SmsBulkApi, SmsCancelApi, SmsInboxApi, SmsListApi, SmsSendApi, SmsStatusApi

# Route name: (path, view). A trailing slash is optional everywhere: clients write both.
ROUTES = {
    "sms-send": (r"sms/send", SmsSendApi),
    "sms-status": (r"sms/status/(?P<message_id>[^/]+)", SmsStatusApi),
    "sms-inbox": (r"sms/inbox", SmsInboxApi),
    "otp-send": (r"otp/send", OtpSendApi),
    "otp-verify": (r"otp/verify", OtpVerifyApi),
    # Beyond the guide (docs/API_DOCUMENTATION.md): listing, bulk and cancelling.
    "sms-list": (r"sms", SmsListApi),
    "sms-bulk": (r"sms/bulk", SmsBulkApi),
    "sms-cancel": (r"sms/(?P<message_id>[^/]+)/cancel", SmsCancelApi),
}
urlpatterns = [re_path(rf"^{path}/?$", view.as_view(), name=name) for name, (path, view) in ROUTES.items()]
