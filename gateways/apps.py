from django.apps import AppConfig


class GatewaysConfig(AppConfig):
    name = "gateways"
    verbose_name = "Gateway phones"

    def ready(self) -> None:
        from core.invalidation import forget_on_row_change

        from .selectors import gateway_row_changed  # models can be imported only now

        # Any saved or deleted row (admin edits, services that save()) may change which
        # phones can take work; services that .update() call gateway_phones_changed themselves.
        forget_on_row_change(gateway_row_changed, self.get_model("Gateway"), uid="gateway")
