from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from agent import agent


class Command(BaseCommand):
    help = "Run the gateway agent, the phone side of the protocol (options: see --help)."

    def run_from_argv(self, argv: list[str]) -> None:
        # The agent owns its command line: the same options work with the standalone
        # agent.py that phones download from /gateway/agent.py.
        sys.exit(agent.main(argv[2:]))

    def handle(self, *args, **options) -> None:
        sys.exit(agent.main(list(args)))
