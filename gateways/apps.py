from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class GatewaysConfig(AppConfig):
    name = "gateways"
    verbose_name = "Gateway phones"

    def ready(self) -> None:
        from .selectors import gateway_row_changed  # models can be imported only now

        # Any saved or deleted row (admin edits, services that save()) may change which
        # phones can take work; services that .update() call gateway_phones_changed themselves.
        gateway = self.get_model("Gateway")
        post_save.connect(gateway_row_changed, sender=gateway, dispatch_uid="gateway-row-saved")
        post_delete.connect(gateway_row_changed, sender=gateway, dispatch_uid="gateway-row-deleted")
