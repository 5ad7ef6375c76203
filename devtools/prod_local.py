"""``make prod-local``: the production topology in the foreground, on loopback.

PostgreSQL (durable, as in production) and Redis (the pip-installed ones the tests use), two
web nodes (HTTP on ports 3005 and 3006, served by granian; each with a daphne process on its
own port for the phones' WebSockets), a Celery worker and Celery beat, all with production
settings. A Celery process that dies is started again (as docker-compose's restart policy
does); a web node that dies stops everything. Data and secrets persist in
``var/prod-local/``. Ctrl-C stops everything.

    python -m devtools.prod_local [--ports 3005 3006] [--workers 1] [--root var/prod-local]
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from .topology import BASE_DIR, Topology


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="MySMSAPio's production topology on loopback")
    parser.add_argument("--ports", type=int, nargs="+", default=[3005, 3006], help="one web node per port")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--root", type=Path, default=BASE_DIR / "var" / "prod-local")
    args = parser.parse_args(argv)

    stopping = False

    def request_stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    topology = Topology(root=args.root.resolve(), web_ports=args.ports, workers=args.workers)
    status = 0
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
            print(
                f"web node    {node.url}  (admin {node.url}/admin/, readiness {node.url}/ready); "
                f"phones connect to {node.ws_url}",
                flush=True,
            )
        env_file = topology.root / "prod.env"
        names = ["DATABASE_URL", "REDIS_URL", "SECRET_KEY", "HASH_SECRET", "MYSMSAPIO_VAR_DIR"]
        env_file.write_text("".join(f"{name}={topology.env[name]}\n" for name in names))
        env_file.chmod(0o600)
        print(f"logs        {topology.root}/*.log", flush=True)
        print(f"manage.py   set -a; . {env_file}; set +a; .venv/bin/python manage.py createsuperuser", flush=True)
        print("Ctrl-C stops everything.", flush=True)
        while not stopping:
            for name in topology.restart_crashed():
                print(f"{name} stopped unexpectedly (see its log); started again", flush=True)
            dead = [p.name for p in topology.processes() if not p.running()]
            if dead:
                print(f"stopped unexpectedly: {', '.join(dead)} (see its log); stopping everything", flush=True)
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
