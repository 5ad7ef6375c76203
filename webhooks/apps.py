from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from .services import webhook_endpoints_changed  # models can be imported only now

        endpoint = self.get_model("WebhookEndpoint")
        post_save.connect(webhook_endpoints_changed, sender=endpoint, dispatch_uid="webhook-endpoint-saved")
        post_delete.connect(webhook_endpoints_changed, sender=endpoint, dispatch_uid="webhook-endpoint-deleted")
