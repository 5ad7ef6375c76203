"""The production topology on loopback for benchmarks: devtools.topology's PostgreSQL (durable,
as in production), Redis and web nodes (granian for HTTP, daphne for the phones; no Celery: a
benchmark measures the web nodes), with production settings."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from devtools.services import free_ports, new_workdir  # noqa: E402
from devtools.topology import Topology  # noqa: E402

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Stack:
    topology: Topology

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.topology.web]

    @property
    def ws_urls(self) -> list[str]:
        return [node.ws_url for node in self.topology.web]

    def server_pid(self, index: int = 0) -> int:
        """The HTTP server's process (granian: its workers are its children)."""
        return self.topology.web[index].http.proc.pid

    def phone_server_pid(self, index: int = 0) -> int:
        """The phones' WebSocket server's process (daphne)."""
        return self.topology.web[index].ws.proc.pid

    def manage(self, script: str) -> object:
        """Run Python in Django (``manage.py shell``); its last stdout line is JSON."""
        out = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=BASE_DIR,
            env=self.topology.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])

    def stop(self, *, keep: bool = False) -> None:
        self.topology.stop()
        if keep:
            print(f"work directory kept: {self.topology.root}")
        else:
            shutil.rmtree(self.topology.root, ignore_errors=True)


def start_stack(
    *, servers: int, extra_env: dict[str, str] | None = None, http_workers: int = 1, http_threads: int | None = None
) -> Stack:
    topology = Topology(
        root=new_workdir("mysmsapio-bench-"),
        web_ports=free_ports(servers),
        http_workers=http_workers,
        **({"http_threads": http_threads} if http_threads else {}),
        workers=0,
        beat=False,
        extra_env={"LOG_LEVEL": "WARNING", **(extra_env or {})},
    )
    return Stack(topology=topology.start())


# Run by ``manage_in_checkout`` in a fresh interpreter: that checkout's stack, its migrations.
_CHECKOUT_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from bench.stack import start_stack
script = sys.stdin.read()
stack = start_stack(servers=1)
try:
    print(json.dumps(stack.manage(script)))
finally:
    stack.stop()
"""


def manage_in_checkout(checkout: Path, script: str) -> object:
    """``Stack.manage(script)`` on a stack of its own started from ``checkout`` (another commit
    of the project: its code, its migrations), in a process of its own; the script's JSON."""
    out = subprocess.run(
        [sys.executable, "-c", _CHECKOUT_CHILD, str(checkout.resolve())],
        input=script,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def checkouts_to_measure(baseline: Path | None) -> dict[str, Path]:
    """This checkout as "project", and ``baseline`` (another commit's checkout) by its commit."""
    checkouts = {"project": BASE_DIR}
    if baseline:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=baseline, capture_output=True, text=True)
        checkouts[f"baseline {commit.stdout.strip() or baseline.name}"] = baseline.resolve()
    return checkouts
