"""Send failed messages again (a new attempt on any phone), those that failed since --since. OTP
messages are left alone: their clients ask for new codes."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from adminpanel.services import messages_retry_failed
from core.durations import parse_since


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", required=True, help="a duration ago (2h, 1d) or an ISO 8601 date-time")
        parser.add_argument("--limit", type=int, default=10_000, help="at most this many messages (default 10000)")

    def handle(self, *args, **options) -> None:
        try:
            since = parse_since(options["since"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        retried, refused = messages_retry_failed(since=since, limit=options["limit"])
        self.stdout.write(f"retried {retried} failed message(s) since {since:%Y-%m-%d %H:%M:%S %Z}")
        if refused:
            self.stdout.write(f"skipped {refused} that changed meanwhile")
