from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and API keys"

    def ready(self) -> None:
        from .selectors import api_key_row_changed, smsgate_login_row_changed  # models only now

        # Keys change by save() (create, revoke, roll) or delete: every process forgets them.
        api_key = self.get_model("ApiKey")
        post_save.connect(api_key_row_changed, sender=api_key, dispatch_uid="api-key-row-saved")
        post_delete.connect(api_key_row_changed, sender=api_key, dispatch_uid="api-key-row-deleted")
        # Each key in memory carries its account (its OTP countries, say): an account edit too.
        post_save.connect(api_key_row_changed, sender=self.get_model("Account"), dispatch_uid="account-row-saved")
        login = self.get_model("SmsGateLogin")
        post_save.connect(smsgate_login_row_changed, sender=login, dispatch_uid="smsgate-login-saved")
        post_delete.connect(smsgate_login_row_changed, sender=login, dispatch_uid="smsgate-login-deleted")
        post_save.connect(smsgate_login_row_changed, sender=self.get_model("Account"), dispatch_uid="account-login")
