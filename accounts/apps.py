from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and API keys"

    def ready(self) -> None:
        from core.invalidation import forget_on_row_change

        from .selectors import api_key_row_changed, smsgate_login_row_changed  # models only now

        # Each key and login in memory carries its account (its OTP countries, say): an
        # account edit forgets them too. Keys change by save() (create, revoke, roll) or delete.
        account = self.get_model("Account")
        forget_on_row_change(api_key_row_changed, self.get_model("ApiKey"), uid="api-key")
        forget_on_row_change(api_key_row_changed, account, uid="api-key", deletes=False)
        forget_on_row_change(smsgate_login_row_changed, self.get_model("SmsGateLogin"), uid="smsgate-login")
        forget_on_row_change(smsgate_login_row_changed, account, uid="smsgate-login", deletes=False)
