"""Issue a login and password for SMS Gate's client libraries (/api/3rdparty/v1,
docs/smsgate-clients.md). The password is printed once: the last line of stdout is 'LOGIN PASSWORD'."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from accounts.models import Account
from accounts.services import account_get_or_create, smsgate_login_issue


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True, help="what the credential is for")
        parser.add_argument("--account", default=Account.DEFAULT_NAME)

    def handle(self, *args, name: str, account: str, **options):
        issued = smsgate_login_issue(account=account_get_or_create(name=account), name=name)
        self.stderr.write(f"SMS Gate login for account '{account}'. The password is shown only once.")
        self.stdout.write(f"{issued.credential.login} {issued.password}")
