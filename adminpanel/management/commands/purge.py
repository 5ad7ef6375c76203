"""Delete finished messages (with their events), inbound SMS, finished OTPs, API request log lines,
gateway events and SMS Gate tokens older than --older-than (tokens: expired that long ago, their
refresh token too). Pending, queued and active rows are kept."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from adminpanel.services import rows_purge
from core.durations import parse_duration


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than", required=True, help="a duration: 90d, 12h, 2w")

    def handle(self, *args, **options) -> None:
        try:
            older_than = parse_duration(options["older_than"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        deleted = rows_purge(older_than=older_than)
        self.stdout.write(", ".join(f"{name}: {count}" for name, count in deleted.items()) + " deleted")
