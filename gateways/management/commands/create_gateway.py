from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from gateways.services import gateway_create


class Command(BaseCommand):
    help = "Create a gateway phone. Its token is printed once, alone on the last line of stdout."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--rate", type=int, default=10, help="SMS per minute, 1 to 30 (default 10)")
        parser.add_argument("--daily-quota", type=int, default=None)

    def handle(self, *args, name: str, rate: int, daily_quota: int | None, **options):
        if not 1 <= rate <= 30:
            raise CommandError("--rate must be between 1 and 30 (Android allows 30 SMS parts per minute)")
        try:
            result = gateway_create(name=name, rate_per_minute=rate, daily_quota=daily_quota)
        except IntegrityError as exc:
            raise CommandError(f"A gateway named {name!r} already exists") from exc
        self.stdout.write(f"Created gateway #{result.gateway.pk} '{name}' ({rate} SMS/min).")
        self.stdout.write("Save this token now: it is shown only once.")
        self.stdout.write(result.raw_token)
