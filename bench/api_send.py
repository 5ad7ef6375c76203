"""Benchmark of the public API against a reference, back to back in one run (not a test).

Starts the production topology on loopback (durable PostgreSQL, Redis, web nodes as
production runs them: granian's WSGI interface for HTTP), creates API keys and online phones,
and starts bench/reference_app.py (a bare ASGI app doing the minimum durable work of each call)
on the same PostgreSQL and Redis. Then, for each endpoint and each client count, it runs the
reference and the project one after the other, C concurrent keep-alive clients for D seconds,
and prints accepted answers per second, p50/p99 latency, CPU per request of the server's
processes, and the project's rate as a fraction of the reference's. Figures swing from day to
day on shared machines: only the ratio within one run means much.

    python bench/api_send.py [--endpoints send,status,verify,smsgate] [--clients 16,64] [--duration 10]
        [--nodes 1] [--http-workers 1] [--baseline-checkout DIR] [--rounds 1] [--record]

--nodes/--http-workers size the project's side (the whole machine: --nodes 1 --http-workers 2).
--baseline-checkout DIR also measures another checkout of the project (an older commit, its
migrations compatible) served the way that checkout's own topology serves it, on the same
database. --record appends the figures to bench/results.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

import psutil  # noqa: E402

from bench.stack import Stack, start_stack  # noqa: E402
from devtools.services import free_port, wait_for_port  # noqa: E402

SEND_BODY = json.dumps({"to": "+959123456789", "message": "Benchmark message"}).encode()
SMSGATE_BODY = json.dumps(
    {"phoneNumbers": ["+959123456789"], "textMessage": {"text": "Benchmark message"}, "priority": 0}
).encode()
RESULTS = BASE_DIR / "bench" / "results.md"


@dataclass
class Result:
    ok_status: int
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0
    cpu_seconds: float = 0.0

    def merged(self, other: Result | None) -> Result:
        """This measurement and an earlier one of the same server, as one."""
        if other is None:
            return self
        statuses = {s: self.statuses.get(s, 0) + other.statuses.get(s, 0) for s in {*self.statuses, *other.statuses}}
        return Result(
            self.ok_status,
            other.latencies + self.latencies,
            statuses,
            other.elapsed + self.elapsed,
            other.cpu_seconds + self.cpu_seconds,
        )

    def add(self, status: int, latency: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == self.ok_status:
            self.latencies.append(latency)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def summary(self) -> str:
        if not self.latencies:
            return f"nothing answered {self.ok_status}; statuses {self.statuses}"
        q = statistics.quantiles(self.latencies, n=100, method="inclusive")
        cpu_ms = self.cpu_seconds / len(self.latencies) * 1000
        others = {s: n for s, n in self.statuses.items() if s != self.ok_status}
        return (
            f"{self.rate:7,.0f}/s  p50 {q[49] * 1000:6.1f} ms  p99 {q[98] * 1000:6.1f} ms  "
            f"CPU {cpu_ms:.2f} ms/request" + (f"  other statuses {others}" if others else "")
        )


class Connection:
    """A minimal HTTP/1.1 keep-alive client: light enough to leave the CPU to the server."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, key: str, body: bytes = b"") -> int:
        return (await self.exchange(method, path, key, body))[0]

    async def exchange(self, method: str, path: str, key: str, body: bytes = b"") -> tuple[int, bytes]:
        """The status and body of one request."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        # A key, or a whole Authorization value ("Basic ..." for SMS Gate's client API).
        authorization = key if " " in key else f"Bearer {key}"
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: {authorization}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write((head + "\r\n").encode() + body)
        status_line = await self.reader.readline()
        length, keep_alive = 0, True
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                keep_alive = False
        answer = await self.reader.readexactly(length)
        if not keep_alive:
            self.writer.close()
            self.writer = None
        return int(status_line.split()[1]), answer


def _requests(endpoint: str, message_ids: list[str]):
    """(method, path, body, expected status) for the n-th request of ``endpoint``."""
    if endpoint == "send":
        return lambda n: ("POST", "/api/v1/sms/send", SEND_BODY, 202)
    if endpoint == "smsgate":  # SMS Gate's client API, one recipient (its libraries' send)
        return lambda n: ("POST", "/api/3rdparty/v1/messages", SMSGATE_BODY, 202)
    if endpoint == "status":
        return lambda n: ("GET", f"/api/v1/sms/status/{message_ids[n % len(message_ids)]}", b"", 200)

    # verify: numbers with no code sent, the guide's 422 "Invalid or expired OTP" (the cheap,
    # common path of a verification that must still lock its number's row)
    def verify(n: int) -> tuple[str, str, bytes, int]:
        body = json.dumps({"phone_number": f"+9591{n % 50000:07d}", "code": "123456"}).encode()
        return "POST", "/api/v1/otp/verify", body, 422

    return verify


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            for p in [process, *process.children(recursive=True)]:
                times = p.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


async def closed_loop(
    urls: list[str],
    keys: list[str],
    endpoint: str,
    message_ids: list[str],
    clients: int,
    duration: float,
    pids: list[int],
) -> Result:
    make = _requests(endpoint, message_ids)
    result = Result(ok_status=make(0)[3])
    counter = iter(range(10**9))
    deadline = time.perf_counter() + duration

    async def client(index: int) -> None:
        parts = urlsplit(urls[index % len(urls)])
        conn = Connection(parts.hostname, parts.port)
        while time.perf_counter() < deadline:
            n = next(counter)
            method, path, body, _ = make(n)
            start = time.perf_counter()
            status = await conn.request(method, path, keys[n % len(keys)], body)
            result.add(status, time.perf_counter() - start)

    cpu_before = _cpu(pids)
    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    result.elapsed = time.perf_counter() - start
    result.cpu_seconds = _cpu(pids) - cpu_before
    return result


@dataclass
class Server:
    name: str
    urls: list[str]
    pids: list[int]
    procs: list[subprocess.Popen] = field(default_factory=list)

    def stop(self) -> None:
        for proc in self.procs:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=15)


def start_reference(stack: Stack) -> Server:
    port = free_port()
    env = {**stack.topology.env, "PYTHONPATH": str(BASE_DIR)}
    log = (stack.topology.root / "reference.log").open("ab")
    options = "-m granian --interface asgi --host 127.0.0.1 --workers 1 --log-level warning"
    proc = subprocess.Popen(
        [sys.executable, *options.split(), "--port", str(port), "bench.reference_app:app"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port(port, proc=proc)
    return Server("reference", [f"http://127.0.0.1:{port}"], [proc.pid], [proc])


def start_baseline(stack: Stack, checkout: Path, nodes: int) -> Server:
    """Another checkout's web nodes, the way its own devtools.topology started them, on our
    database and Redis (its code, its server)."""
    # A checkout from before the WSGI servers has no mysmsapio/wsgi.py worth serving: daphne.
    has_wsgi = (checkout / "devtools" / "topology.py").read_text().count("def http_server_args") > 0
    urls, procs = [], []
    for index in range(nodes):
        port = free_port()
        if has_wsgi:
            options = "-m granian --interface wsgi --host 127.0.0.1 --workers 1 --blocking-threads 4 --no-ws"
            args = [sys.executable, *options.split(), "--port", str(port), "mysmsapio.wsgi:application"]
        else:
            args = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--access-log", os.devnull]
            args.append("mysmsapio.asgi:application")
        log = (stack.topology.root / f"baseline-{index}.log").open("ab")
        procs.append(
            subprocess.Popen(
                args, cwd=checkout, env=stack.topology.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    for url, proc in zip(urls, procs, strict=True):
        wait_for_port(int(url.rsplit(":", 1)[1]), proc=proc, timeout=60)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True)
    return Server(f"baseline {commit.stdout.strip()}", urls, [p.pid for p in procs], procs)


def setup(stack: Stack, *, keys: int, gateways: int, messages: int) -> tuple[list[str], list[str], list[str]]:
    # Phones that look online for the whole run (seen "tomorrow"), so messages are queued; and
    # some messages for sms/status to read.
    return stack.manage(f"""
import json
from datetime import timedelta
from django.utils import timezone
from accounts.services import api_key_generate
from gateways.models import Gateway
from messaging.lifecycle import message_create
seen = timezone.now() + timedelta(days=1)
for i in range({gateways}):
    Gateway.objects.create(name=f"bench-phone-{{i}}", shared=True, is_connected=True, last_seen_at=seen)
generated = [api_key_generate(name=f"bench-{{i}}", permissions=["send_sms", "verify_otp"]) for i in range({keys})]
account = generated[0].api_key.account
ids = [message_create(account=account, to="+959123456789", text=f"status {{i}}").pk for i in range({messages})]
logins = []
try:  # SMS Gate's client API: Basic credentials (a checkout from before it has none)
    import base64
    from accounts.services import smsgate_login_issue
    for i in range({keys} // 10 or 1):
        issued = smsgate_login_issue(account=account, name=f"bench-{{i}}")
        pair = f"{{issued.credential.login}}:{{issued.password}}".encode()
        logins.append("Basic " + base64.b64encode(pair).decode())
except ImportError:
    pass
print(json.dumps([[g.raw_key for g in generated], ids, logins]))
""")


def record(lines: list[str], script: str) -> None:
    """Append ``lines`` to bench/results.md under what was measured: when, which commit, on what."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BASE_DIR, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=BASE_DIR, capture_output=True, text=True
    ).stdout.strip()
    cpu = platform.processor() or platform.machine()
    revision = commit.stdout.strip() + (" (modified)" if dirty else "")
    header = (
        f"\n## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {revision}, "
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}\n\n"
        f"`python bench/{script} {' '.join(sys.argv[1:])}`\n\n```\n"
    )
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nWritten by `bench/*.py --record`; newest last.\n")
    with RESULTS.open("a") as out:
        out.write(header + "\n".join(lines) + "\n```\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", default="send,status,verify")
    parser.add_argument("--clients", default="16,64", help="comma-separated concurrent client counts")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (at most 60)")
    parser.add_argument("--nodes", type=int, default=1, help="web nodes (HTTP servers) of the project")
    parser.add_argument("--http-workers", type=int, default=1, help="granian worker processes per node")
    parser.add_argument("--http-threads", type=int, help="granian blocking threads per worker (default: topology's)")
    parser.add_argument("--keys", type=int, default=400, help="API keys to spread the load over")
    parser.add_argument("--gateways", type=int, default=3, help="online phones (0: every message pending)")
    parser.add_argument("--baseline-checkout", type=Path, help="also measure this checkout of the project")
    parser.add_argument("--baseline-nodes", type=int, default=1, help="server processes of the baseline")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference app")
    parser.add_argument(
        "--rounds", type=int, default=1, help="measure each pair this many times, the order reversed each round"
    )
    parser.add_argument("--record", action="store_true", help="append the figures to bench/results.md")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (server logs)")
    args = parser.parse_args()
    duration = min(args.duration, 60.0)
    endpoints = args.endpoints.split(",")
    client_counts = [int(c) for c in args.clients.split(",")]

    print(f"starting durable PostgreSQL, Redis and {args.nodes} web node(s) ...", flush=True)
    # The per-key limit is the guide's 100/minute: raised here so that the server's speed,
    # not the limit, is what is measured.
    stack = start_stack(
        servers=args.nodes,
        http_workers=args.http_workers,
        http_threads=args.http_threads,
        extra_env={"SMS_RATE_LIMIT_PER_MINUTE": "1000000"},
    )
    servers: list[Server] = []
    lines: list[str] = []
    try:
        keys, message_ids, logins = setup(stack, keys=args.keys, gateways=args.gateways, messages=500)
        if not args.no_reference:
            servers.append(start_reference(stack))
        project_pids = [stack.server_pid(i) for i in range(args.nodes)]
        servers.append(
            Server(f"project ({args.nodes} node(s) x {args.http_workers} worker(s))", stack.urls, project_pids)
        )
        if args.baseline_checkout:
            servers.append(start_baseline(stack, args.baseline_checkout.resolve(), args.baseline_nodes))
        project = servers[0 if args.no_reference else 1]

        def targets(endpoint: str) -> list[Server]:
            # SMS Gate's client API is the project's alone: measured against its own sms/send.
            return [project] if endpoint == "smsgate" else servers

        def credentials(endpoint: str) -> list[str]:
            return logins if endpoint == "smsgate" else keys

        for endpoint in endpoints:  # warm-up: connections, caches, prepared statements
            for server in targets(endpoint):
                asyncio.run(closed_loop(server.urls, credentials(endpoint), endpoint, message_ids, 8, 1.0, server.pids))
        measured: dict[tuple[str, int], Result] = {}
        for endpoint in endpoints:
            for clients in client_counts:
                results: dict[str, Result] = {}
                for round_ in range(args.rounds):
                    # Each round in the other order: whoever runs right after the heavy writes
                    # (a checkpoint, autovacuum) is not always the same server.
                    for server in targets(endpoint)[:: 1 if round_ % 2 == 0 else -1]:
                        loop = closed_loop(
                            server.urls, credentials(endpoint), endpoint, message_ids, clients, duration, server.pids
                        )
                        result = asyncio.run(loop)
                        results[server.name] = result.merged(results.get(server.name))
                for server in targets(endpoint):
                    line = f"{endpoint:6} {clients:3} clients  {server.name:40} {results[server.name].summary()}"
                    print(line, flush=True)
                    lines.append(line)
                measured[endpoint, clients] = results[project.name]
                send = measured.get(("send", clients))
                if endpoint == "smsgate" and send and send.rate:
                    ratio = results[project.name].rate / send.rate
                    line = f"{endpoint:6} {clients:3} clients  project smsgate / project send = {ratio:.2f}"
                    print(line, flush=True)
                    lines.append(line)
                reference = results.get("reference")
                if reference and reference.rate:
                    for name, result in results.items():
                        if name != "reference":
                            ratio = result.rate / reference.rate
                            line = f"{endpoint:6} {clients:3} clients  {name} / reference = {ratio:.2f}"
                            print(line, flush=True)
                            lines.append(line)
        if args.record:
            record(lines, "api_send.py")
    finally:
        for server in servers:
            server.stop()
        stack.stop(keep=args.keep)


if __name__ == "__main__":
    main()
