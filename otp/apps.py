from django.apps import AppConfig


class OtpConfig(AppConfig):
    name = "otp"
    verbose_name = "One-time passcodes"
