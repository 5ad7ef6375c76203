from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from gateways.models import Gateway
from gateways.services import gateway_revoke


class Command(BaseCommand):
    help = "Revoke a gateway's token (by id or name): the phone is disconnected and refused."

    def add_arguments(self, parser) -> None:
        parser.add_argument("gateway", help="id or name")

    def handle(self, *args, gateway: str, **options):
        found = Gateway.objects.filter(pk=int(gateway)) if gateway.isdigit() else Gateway.objects.filter(name=gateway)
        if found.count() != 1:
            raise CommandError(f"No single gateway matches {gateway!r}")
        revoked = gateway_revoke(gateway=found.get())
        self.stdout.write(f"Revoked gateway #{revoked.pk} '{revoked.name}'.")
