from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from adminpanel.selectors import ops_stats


class Command(BaseCommand):
    help = "Queue depth, phones online and throughput (one line per figure, or --json)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object, for scripts")

    def handle(self, *args, **options) -> None:
        stats = ops_stats()
        if options["json"]:
            self.stdout.write(json.dumps(stats))
            return
        width = max(len(name) for name in stats)
        for name, value in stats.items():
            self.stdout.write(f"{name:<{width}}  {value}")
