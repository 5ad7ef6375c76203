from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from accounts.services import account_get_or_create
from gateways.models import GatewayKind
from gateways.services import gateway_create


class Command(BaseCommand):
    help = "Create a gateway phone. Its token is printed once, alone on the last line of stdout."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--rate", type=int, default=10, help="SMS per minute, 1 to 30 (default 10)")
        parser.add_argument("--daily-quota", type=int, default=None)
        owner = parser.add_mutually_exclusive_group()
        owner.add_argument("--account", help="the account whose messages it sends, created if new (default: default)")
        owner.add_argument("--shared", action="store_true", help="a shared-pool phone: it sends for every account")
        parser.add_argument(
            "--app",
            action="store_true",
            help="a phone running the SMS Gateway for Android app (the token is its registration token)",
        )

    def handle(
        self,
        *args,
        name: str,
        rate: int,
        daily_quota: int | None,
        account: str | None,
        shared: bool,
        app: bool,
        **options,
    ) -> None:
        if not 1 <= rate <= 30:
            raise CommandError("--rate must be between 1 and 30 (Android allows 30 SMS parts per minute)")
        owner = account_get_or_create(name=account) if account is not None else None  # as create_api_key does
        try:
            result = gateway_create(
                name=name,
                rate_per_minute=rate,
                daily_quota=daily_quota,
                account=owner,
                shared=shared,
                kind=GatewayKind.APP if app else GatewayKind.AGENT,
            )
        except IntegrityError as exc:
            raise CommandError(f"A gateway named {name!r} already exists") from exc
        whose = "the shared pool" if shared else f"account '{result.gateway.account.name}'"
        self.stdout.write(f"Created gateway #{result.gateway.pk} '{name}' ({rate} SMS/min) for {whose}.")
        if app:
            server = f"{settings.PUBLIC_URL or 'https://YOUR-HOST'}/api/mobile/v1"
            self.stdout.write(f"In the app (Settings > Cloud server): API URL {server}, this token as Private Token.")
            self.stdout.write("Save this registration token now: it is shown only once.")
        else:
            self.stdout.write("Save this token now: it is shown only once.")
        self.stdout.write(result.raw_token)
