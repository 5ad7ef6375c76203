"""The production topology on one machine: PostgreSQL, Redis, N web nodes, Celery workers and
beat, all on loopback, all with production settings. ``make prod-local`` runs it in the
foreground; the multi-node and fault tests drive it (kill a node, restart Redis, ...).

A web node is two processes, as in production (docker-compose.yml): granian's WSGI interface
serves HTTP (the API, the admin, health) and daphne serves the phones' WebSockets (ASGI). In
production a proxy routes ``/ws/`` to the second; here each has its own port, and phones are
pointed at ``ws_url``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .services import Postgres, Redis, free_ports, wait_for_port

BASE_DIR = Path(__file__).resolve().parents[1]
LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"]


@dataclass
class Process:
    name: str
    args: list[str]
    log_path: Path
    port: int | None = None
    host: str = "127.0.0.1"
    proc: subprocess.Popen | None = None
    stopped: bool = False  # by us: not to be started again by ``Topology.restart_crashed``

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, env: dict[str, str]) -> Process:
        # Own session (and process group): a Ctrl-C in the terminal reaches the supervisor,
        # which stops us in order, and a stop reaches granian's worker processes too.
        self.proc = subprocess.Popen(
            self.args,
            cwd=BASE_DIR,
            env=env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.stopped = False
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        self.stopped = True
        if not self.running():
            return
        _signal_group(self.proc, sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(self.proc, signal.SIGKILL)
            self.proc.wait()
        if sig == signal.SIGKILL:
            _signal_group(self.proc, signal.SIGKILL)  # orphaned workers, if any

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(proc.pid, sig)


# Blocking threads per granian WSGI worker: a request holds one from start to end. Chosen by
# bench/api_send.py (4 kept one core busy with PostgreSQL's commit waits overlapped).
WSGI_THREADS = 4


def http_server_args(port: int, *, threads: int = WSGI_THREADS, workers: int = 1, host: str = "127.0.0.1") -> list[str]:
    """granian serving the HTTP side (mysmsapio.wsgi) on ``host``:``port``."""
    options = "-m granian --interface wsgi --no-ws --log-level warning"
    sizes = ["--host", host, "--port", str(port), "--workers", str(workers), "--blocking-threads", str(threads)]
    return [sys.executable, *options.split(), *sizes, "mysmsapio.wsgi:application"]


def phone_server_args(port: int, *, access_log: bool = False, host: str = "127.0.0.1") -> list[str]:
    """daphne serving the phones' WebSockets (mysmsapio.asgi) on ``host``:``port``."""
    # daphne's own access log is off in production, where ours (JSON, with request ids) is on.
    quiet = [] if access_log else ["--access-log", os.devnull]
    return [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), *quiet, "mysmsapio.asgi:application"]


@dataclass
class WebNode:
    """One web node: ``http`` (granian, WSGI) and ``ws`` (daphne, the phones' WebSockets)."""

    name: str
    http: Process
    ws: Process

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def ws_url(self) -> str:
        """The server URL a phone is given (its agent adds /ws/gateway/)."""
        return self.ws.url

    @property
    def port(self) -> int:
        return self.http.port

    def start(self, env: dict[str, str]) -> WebNode:
        # Without a proxy in front, the admin's pairing screen must name the phones' port.
        self.http.start({"PHONE_SERVER_URL": self.ws.url, **env})
        self.ws.start(env)
        return self

    def wait_until_listening(self) -> None:
        for process in (self.http, self.ws):
            wait_for_port(process.port, proc=process.proc, timeout=60, host=process.host)

    def running(self) -> bool:
        return self.http.running() and self.ws.running()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.http.stop(sig)
        self.ws.stop(sig)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        return self.http.log() + self.ws.log()


@dataclass
class Topology:
    root: Path
    web_ports: list[int] = field(default_factory=lambda: free_ports(2))
    # Each node's phone (daphne) port; None: any free one (the tests), else one per web port.
    phone_ports: list[int] | None = None
    # The address the web nodes bind (a LAN address lets a real phone reach them).
    host: str = "127.0.0.1"
    workers: int = 1
    beat: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    # PostgreSQL's durable defaults unless the test harness says otherwise (tests/topology).
    durable: bool = True
    postgres: Postgres | None = None
    redis: Redis | None = None
    web: list[WebNode] = field(default_factory=list)
    # granian WSGI worker processes per node's HTTP server (a 2-core machine: 1 each for 2 nodes).
    http_workers: int = 1
    http_threads: int = WSGI_THREADS
    worker_procs: list[Process] = field(default_factory=list)
    beat_proc: Process | None = None
    env: dict[str, str] = field(default_factory=dict)

    def _secrets(self) -> dict[str, str]:
        # Kept in the topology's folder, so that keys and tokens survive a restart.
        path = self.root / "secrets.env"
        if not path.exists():
            path.write_text(f"SECRET_KEY={secrets.token_urlsafe(50)}\nHASH_SECRET={secrets.token_urlsafe(50)}\n")
            path.chmod(0o600)
        return dict(line.split("=", 1) for line in path.read_text().split())

    def start(self) -> Topology:
        """Everything, in order; if any part fails to start, what did start is stopped again
        (a server left behind would hold its port and its CPU through the rest of the run)."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> Topology:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # PostgreSQL's unprivileged user must reach its data below
        # Every port chosen at once, so that none is another's before its server binds it.
        phone_ports = self.phone_ports or free_ports(len(self.web_ports), besides=self.web_ports)
        pg_port, redis_port = free_ports(2, besides=[*self.web_ports, *phone_ports])
        self.postgres = Postgres(self.root / "postgres", port=pg_port, durable=self.durable).start()
        self.redis = Redis(self.root / "redis", port=redis_port).start()
        self.env = {
            **os.environ,
            **self._secrets(),
            "DJANGO_SETTINGS_MODULE": "mysmsapio.settings",
            "DATABASE_URL": self.postgres.url(),
            "REDIS_URL": self.redis.url(),
            "MYSMSAPIO_VAR_DIR": str(self.root / "var"),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        if self.host not in LOOPBACK_NAMES and "ALLOWED_HOSTS" not in self.env:
            self.env["ALLOWED_HOSTS"] = ",".join([*LOOPBACK_NAMES, self.host])
        self.manage("migrate", "--noinput", "-v", "0")
        python = sys.executable
        for index, (port, ws_port) in enumerate(zip(self.web_ports, phone_ports, strict=True)):
            name = f"web-{index + 1}"
            http = Process(
                f"{name}-http",
                http_server_args(port, workers=self.http_workers, threads=self.http_threads, host=self.host),
                self.root / f"{name}-http.log",
                port,
                self.host,
            )
            ws_args = phone_server_args(ws_port, host=self.host)
            ws = Process(f"{name}-ws", ws_args, self.root / f"{name}-ws.log", ws_port, self.host)
            self.web.append(WebNode(name, http, ws).start(self.env))
        for index in range(self.workers):
            # Both queues here (docker-compose.yml gives webhooks a worker of their own).
            options = "-m celery -A mysmsapio worker -Q celery,webhooks --loglevel=INFO --concurrency=2"
            options += " --without-mingle --without-gossip"
            args = [python, *options.split(), "-n", f"worker{index + 1}@%h"]
            name = f"worker-{index + 1}"
            self.worker_procs.append(Process(name, args, self.root / f"{name}.log").start(self.env))
        if self.beat:
            options = "-m celery -A mysmsapio beat --loglevel=INFO"
            args = [python, *options.split(), "--schedule", str(self.root / "celerybeat-schedule")]
            self.beat_proc = Process("beat", args, self.root / "beat.log").start(self.env)
        for node in self.web:
            node.wait_until_listening()
        return self

    def processes(self) -> list[Process | WebNode]:
        return [*self.web, *self.celery_processes()]

    def celery_processes(self) -> list[Process]:
        return [*self.worker_procs, *([self.beat_proc] if self.beat_proc else [])]

    def restart_crashed(self) -> list[str]:
        """Celery workers and beat that died on their own, started again, as docker-compose's
        ``restart: unless-stopped`` does in production. (kombu 5.7 can take a worker down when
        Redis goes away with a task in flight: "Unrecoverable error: AttributeError ...
        'hostname'".) Returns the names of the restarted."""
        restarted = []
        for process in self.celery_processes():
            if process.proc is not None and not process.stopped and not process.running():
                process.start(self.env)
                restarted.append(process.name)
        return restarted

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def restart_web(self, index: int) -> WebNode:
        node = self.web[index]
        node.stop()
        node.start(self.env)
        node.wait_until_listening()
        return node

    def stop(self) -> None:
        for process in self.processes():
            process.stop()
        if self.redis:
            self.redis.stop()
        if self.postgres:
            self.postgres.stop()
