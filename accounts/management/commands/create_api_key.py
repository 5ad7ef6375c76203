from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Account, Permission
from accounts.services import UnknownPermission, account_get_or_create, api_key_generate


class Command(BaseCommand):
    help = "Create an API key. The raw key is printed once, alone on the last line of stdout."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--permissions",
            default=",".join(Permission.values),
            help=f"Comma-separated, from: {', '.join(Permission.values)} (default: all)",
        )
        parser.add_argument("--account", default=Account.DEFAULT_NAME)
        parser.add_argument("--expires-in-days", type=int, default=None)
        parser.add_argument(
            "--test",
            action="store_true",
            help="A test-mode key (api_test_...): its messages never reach a phone (docs/test-mode.md)",
        )

    def handle(self, *args, name: str, permissions: str, account: str, expires_in_days, test: bool, **options):
        names = [p.strip() for p in permissions.split(",") if p.strip()]
        expires_at = None
        if expires_in_days is not None:
            expires_at = timezone.now() + timedelta(days=expires_in_days)
        try:
            result = api_key_generate(
                name=name,
                permissions=names,
                account=account_get_or_create(name=account),
                expires_at=expires_at,
                test=test,
            )
        except UnknownPermission as exc:
            raise CommandError(str(exc)) from exc
        key = result.api_key
        self.stdout.write(
            f"Created {'test-mode ' if key.is_test else ''}API key #{key.pk} '{key.name}' "
            f"for account '{key.account.name}' "
            f"with permissions {', '.join(key.permissions) or '(none)'}."
        )
        self.stdout.write("Save this key now: it is shown only once.")
        self.stdout.write(result.raw_key)
