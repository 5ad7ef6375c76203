from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiKey
from accounts.services import api_key_revoke


class Command(BaseCommand):
    help = "Revoke an API key by its id (see list_api_keys) or its public prefix."

    def add_arguments(self, parser) -> None:
        parser.add_argument("key", help="The key's id, or its prefix as list_api_keys shows it")

    def handle(self, *args, key: str, **options):
        ref = key.removeprefix(ApiKey.RAW_PREFIX).removeprefix(ApiKey.TEST_RAW_PREFIX).rstrip("…")
        matches = ApiKey.objects.filter(pk=int(ref)) if ref.isdigit() else ApiKey.objects.filter(prefix=ref)
        if matches.count() != 1:
            raise CommandError(f"No single API key matches {key!r}")
        api_key = api_key_revoke(api_key=matches.get())
        self.stdout.write(f"Revoked API key #{api_key.pk} '{api_key.name}'.")
