from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from core.invalidation import forget_on_row_change

        from .services import webhook_endpoints_changed  # models can be imported only now

        forget_on_row_change(webhook_endpoints_changed, self.get_model("WebhookEndpoint"), uid="webhook-endpoint")
