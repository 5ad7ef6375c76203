from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from accounts.services import account_get_or_create
from webhooks.models import WebhookEventType
from webhooks.services import WebhookRefused, webhook_endpoint_create


class Command(BaseCommand):
    help = "Register a webhook endpoint. Its signing secret is printed once, alone on the last line of stdout."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", required=True)
        choices = ", ".join(WebhookEventType.values)
        parser.add_argument("--events", required=True, help=f"Comma-separated, from: {choices}")
        parser.add_argument("--account", default=Account.DEFAULT_NAME)
        parser.add_argument(
            "--test-events", action="store_true", help="also send events of test-mode keys, as test.<type>"
        )

    def handle(self, *args, url: str, events: str, account: str, test_events: bool, **options) -> None:
        names = [name.strip() for name in events.split(",") if name.strip()]
        try:
            created = webhook_endpoint_create(
                account_id=account_get_or_create(name=account).pk,
                url=url,
                events=names,
                receive_test_events=test_events,
            )
        except WebhookRefused as exc:
            raise CommandError(str(exc)) from exc
        endpoint = created.endpoint
        wanted = ", ".join(endpoint.events)
        self.stdout.write(f"Created webhook endpoint #{endpoint.pk} for account '{account}': {url} ({wanted}).")
        self.stdout.write("Verify deliveries with this secret (Standard Webhooks); it is shown only once:")
        self.stdout.write(created.raw_secret)
