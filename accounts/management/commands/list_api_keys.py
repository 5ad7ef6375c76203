from __future__ import annotations

from django.core.management.base import BaseCommand

from accounts.selectors import api_key_list


class Command(BaseCommand):
    help = "List API keys (never the keys themselves: only their public prefixes)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--account", default=None)

    def handle(self, *args, account: str | None, **options):
        self.stdout.write(
            f"{'ID':>5}  {'STATE':8} {'ACCOUNT':16} {'NAME':24} {'PREFIX':22} {'LAST USED':20} PERMISSIONS"
        )
        for key in api_key_list(account_name=account):
            last_used = key.last_used_at.strftime("%Y-%m-%d %H:%M:%S") if key.last_used_at else "never"
            self.stdout.write(
                f"{key.pk:>5}  {key.state:8} {key.account.name[:16]:16} {key.name[:24]:24} "
                f"{key.display_prefix:22} {last_used:20} {','.join(key.permissions)}"
            )
