"""Benchmark of `POST /api/v1/sms/send` (not a test).

By default it starts the production topology on loopback (PostgreSQL and Redis from the test
harness, N daphne processes with production settings), creates API keys and three online
gateways, then runs two phases against it:

1. throughput: C concurrent keep-alive clients for D seconds, as fast as the server answers;
2. paced: an open-loop load of R requests per second for D seconds (latency under load).

It prints accepted requests per second and p50/p95/p99 latency for each phase. With --url and
--key it measures a server that is already running instead (loopback only).

    python bench/api_send.py [--servers 2] [--duration 10] [--concurrency 32] [--rate 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.stack import LOOPBACK, Stack, start_stack  # noqa: E402

BODY = json.dumps({"to": "+959123456789", "message": "Benchmark message"}).encode()


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, status: int, latency: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == 202:
            self.latencies.append(latency)

    def report(self, name: str, elapsed: float) -> str:
        accepted = self.statuses.get(202, 0)
        if not self.latencies:
            return f"{name}: nothing accepted; statuses {self.statuses}"
        q = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return (
            f"{name}: {accepted / elapsed:,.0f} accepted/s over {elapsed:.1f}s "
            f"({accepted} accepted, statuses {dict(sorted(self.statuses.items()))}); "
            f"latency p50 {q[49] * 1000:.1f} ms, p95 {q[94] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms"
        )


class Connection:
    """A minimal HTTP/1.1 keep-alive client: light enough to leave the CPU to the server."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, key: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
        ).encode() + BODY
        self.writer.write(request)
        status_line = await self.reader.readline()
        length = 0
        keep_alive = True
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                keep_alive = False
        await self.reader.readexactly(length)
        if not keep_alive:
            self.writer.close()
            self.writer = None
        return int(status_line.split()[1])


async def closed_loop(urls: list[str], keys: list[str], concurrency: int, duration: float) -> tuple[Result, float]:
    result = Result()
    deadline = time.perf_counter() + duration
    counter = iter(range(10**9))

    async def worker(index: int) -> None:
        parts = urlsplit(urls[index % len(urls)])
        conn = Connection(parts.hostname, parts.port)
        while time.perf_counter() < deadline:
            key = keys[next(counter) % len(keys)]
            start = time.perf_counter()
            status = await conn.post("/api/v1/sms/send", key)
            result.add(status, time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return result, time.perf_counter() - start


async def open_loop(urls: list[str], keys: list[str], rate: float, duration: float) -> tuple[Result, float]:
    """Requests start on a fixed schedule whatever the server does, so slow answers show as
    latency instead of silently lowering the load."""
    result = Result()
    idle: list[Connection] = []
    total = int(rate * duration)

    async def one(index: int) -> None:
        parts = urlsplit(urls[index % len(urls)])
        conn = next((c for c in idle if (c.host, c.port) == (parts.hostname, parts.port)), None)
        if conn is not None:
            idle.remove(conn)
        else:
            conn = Connection(parts.hostname, parts.port)
        start = time.perf_counter()
        status = await conn.post("/api/v1/sms/send", keys[index % len(keys)])
        result.add(status, time.perf_counter() - start)
        idle.append(conn)

    start = time.perf_counter()
    tasks = []
    for index in range(total):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    return result, time.perf_counter() - start


def setup(stack: Stack, *, keys: int, gateways: int) -> list[str]:
    # Phones that look online for the whole run (seen "tomorrow"), so messages are queued.
    return stack.manage(f"""
import json
from datetime import timedelta
from django.utils import timezone
from accounts.services import api_key_generate
from gateways.models import Gateway
seen = timezone.now() + timedelta(days=1)
for i in range({gateways}):
    Gateway.objects.create(name=f"bench-phone-{{i}}", is_connected=True, last_seen_at=seen)
print(json.dumps([api_key_generate(name=f"bench-{{i}}", permissions=["send_sms"]).raw_key for i in range({keys})]))
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", action="append", help="a running server (loopback only); repeatable")
    parser.add_argument("--key", action="append", help="API key(s) for --url")
    parser.add_argument("--servers", type=int, default=2, help="daphne processes to start (default 2)")
    parser.add_argument("--keys", type=int, default=400, help="API keys to spread the load over")
    parser.add_argument("--gateways", type=int, default=3, help="online phones (0: every message pending)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (server logs)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase (at most 60)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second in the paced phase")
    args = parser.parse_args()
    duration = min(args.duration, 60.0)

    stack = None
    if args.url:
        for url in args.url:
            if urlsplit(url).hostname not in LOOPBACK:
                parser.error(f"{url}: benchmarks only talk to loopback")
        urls, keys = args.url, args.key or parser.error("--key is required with --url")
    else:
        print(f"starting PostgreSQL, Redis and {args.servers} daphne process(es)...", flush=True)
        stack = start_stack(servers=args.servers)
        urls, keys = stack.urls, setup(stack, keys=args.keys, gateways=args.gateways)
    try:
        asyncio.run(closed_loop(urls, keys, 8, 1.0))  # warm-up: connections, caches
        print(f"target: {', '.join(urls)} with {len(keys)} API key(s)", flush=True)
        result, elapsed = asyncio.run(closed_loop(urls, keys, args.concurrency, duration))
        print(result.report(f"throughput ({args.concurrency} clients)", elapsed), flush=True)
        result, elapsed = asyncio.run(open_loop(urls, keys, args.rate, duration))
        print(result.report(f"paced at {args.rate:.0f}/s", elapsed), flush=True)
    finally:
        if stack is not None:
            stack.stop(keep=args.keep)


if __name__ == "__main__":
    main()
