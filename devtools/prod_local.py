"""``make prod-local``: the production topology in the foreground, a rehearsal on one machine.

PostgreSQL (durable, as in production) and Redis (the pip-installed ones the tests use), two
web nodes (HTTP on ports 3005 and 3006, served by granian; each with a daphne process for the
phones' WebSockets on the HTTP port + 100: 3105 and 3106), a Celery worker and Celery beat,
all with production settings, bound to 127.0.0.1 unless ``--host`` names another address (a
LAN address, for a real phone). A Celery process that dies is started again (as
docker-compose's restart policy does); a web node that dies stops everything. Data and
secrets persist in ``var/prod-local/``, and the ports are the same at every start, so a phone
paired once keeps working. It says "ready" once every node's ``/ready`` answers 200. Ctrl-C
stops everything.

    python -m devtools.prod_local [--ports 3005 3006] [--phone-ports 3105 3106] [--host 127.0.0.1]
                                  [--workers 1] [--root var/prod-local]
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .topology import BASE_DIR, Topology

PHONE_PORT_OFFSET = 100
# How often the wait for readiness says what it still waits for.
WAITING_REPORT_SECONDS = 5.0


def _not_ready(url: str) -> str | None:
    """None when ``url``/ready answers 200, else what it says is missing."""
    try:
        with urllib.request.urlopen(f"{url}/ready", timeout=5):
            return None
    except urllib.error.HTTPError as exc:
        try:
            return json.loads(exc.read()).get("error", f"HTTP {exc.code}")
        except ValueError:
            return f"HTTP {exc.code}"
    except OSError as exc:
        return f"not answering ({exc.__class__.__name__})"


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="MySMSAPio's production topology, rehearsed on one machine")
    parser.add_argument("--ports", type=int, nargs="+", default=[3005, 3006], help="one web node per port")
    parser.add_argument(
        "--phone-ports",
        type=int,
        nargs="+",
        help=f"each node's phone (WebSocket) port; default: its HTTP port + {PHONE_PORT_OFFSET}",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to bind: a LAN address (or 0.0.0.0) lets a real phone reach the nodes",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--root", type=Path, default=BASE_DIR / "var" / "prod-local")
    args = parser.parse_args(argv)
    args.phone_ports = args.phone_ports or [port + PHONE_PORT_OFFSET for port in args.ports]
    if len(args.phone_ports) != len(args.ports):
        parser.error("--phone-ports needs one port per web node (--ports)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    stopping = False

    def request_stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    topology = Topology(
        root=args.root.resolve(),
        web_ports=args.ports,
        phone_ports=args.phone_ports,
        host=args.host,
        workers=args.workers,
    )
    status = 0

    def crashed() -> bool:
        for name in topology.restart_crashed():
            print(f"{name} stopped unexpectedly (see its log); started again", flush=True)
        dead = [p.name for p in topology.processes() if not p.running()]
        if dead:
            print(f"stopped unexpectedly: {', '.join(dead)} (see its log); stopping everything", flush=True)
        return bool(dead)

    try:
        print(
            f"starting PostgreSQL, Redis, {len(args.ports)} web node(s), {args.workers} worker(s) and beat "
            f"in {topology.root} ...",
            flush=True,
        )
        topology.start()
        print(f"PostgreSQL  {topology.postgres.url()}", flush=True)
        print(f"Redis       {topology.redis.url()}", flush=True)
        for node in topology.web:
            print(f"web node    {node.url}  (admin {node.url}/admin/); phones connect to {node.ws_url}", flush=True)
        env_file = topology.root / "prod.env"
        names = ["DATABASE_URL", "REDIS_URL", "SECRET_KEY", "HASH_SECRET", "MYSMSAPIO_VAR_DIR"]
        env_file.write_text("".join(f"{name}={topology.env[name]}\n" for name in names))
        env_file.chmod(0o600)
        print(f"logs        {topology.root}/*.log", flush=True)
        print(f"manage.py   set -a; . {env_file}; set +a; .venv/bin/python manage.py createsuperuser", flush=True)
        # Listening is not ready: the worker's first heartbeat, for one, comes seconds later.
        reported = 0.0
        while not stopping:
            waiting = {node.name: reason for node in topology.web if (reason := _not_ready(node.url))}
            if not waiting:
                print("ready       every node's /ready answers 200. Ctrl-C stops everything.", flush=True)
                break
            if crashed():
                status = 1
                break
            if time.monotonic() - reported >= WAITING_REPORT_SECONDS:
                said = "; ".join(f"{name}: {reason}" for name, reason in waiting.items())
                print(f"waiting     {said}", flush=True)
                reported = time.monotonic()
            time.sleep(0.5)
        while not stopping and not status:
            if crashed():
                status = 1
                break
            time.sleep(0.5)
    finally:
        print("stopping ...", flush=True)
        topology.stop()
        print("stopped", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
