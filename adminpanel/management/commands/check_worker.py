"""Exit 0 when a worker ran the heartbeat task recently (beat queues it, a worker runs it), else 1:
the health check of the beat and worker containers."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from core.health import check_worker


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options) -> None:
        check = check_worker()
        self.stdout.write(f"worker: {check.detail}")
        if not check.ok:
            sys.exit(1)
