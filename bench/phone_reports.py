"""Benchmark of the phone server under many busy phones (not a test).

Starts the production topology on loopback (durable PostgreSQL, Redis, one web node: granian
for HTTP, daphne for the phones), connects N simulated agents that accept every job at once
and report it sent and delivered, and posts `sms/send` at a fixed rate (open loop, from a
process of its own) for D seconds, at each rate asked for. Every message is four commits on
the phone server (push, claim, sent, delivered), so this measures how many messages a second
one phone-server process carries, not how fast one is dispatched (bench/dispatch.py).

For each rate it prints the messages completed per second, POST to the claim's answer and POST
to the delivered report's ack (p50/p99), and the phone server's CPU per message. With
--db-threads 1,4 the whole run is repeated on a stack per value of PHONE_DB_THREADS (the
threads the phone server runs its database calls on; 1 is Channels' one shared thread),
alternating, in the same sitting.

    python bench/phone_reports.py [--phones 40] [--rates 100,200,400] [--duration 8]
        [--db-threads 1,4] [--rounds 1] [--record]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

import psutil  # noqa: E402

from bench.api_send import Connection, record  # noqa: E402
from bench.dispatch import Phone, create_gateways  # noqa: E402
from bench.stack import start_stack  # noqa: E402

SEND_BODY = json.dumps({"to": "+959123456789", "message": "phone server benchmark"}).encode()


def post_process(url: str, keys: list[str], rate: float, duration: float, results) -> None:
    """POSTs at ``rate`` a second for ``duration`` seconds, open loop, in a process of its own;
    puts [(message id, perf_counter at the POST)] (perf_counter is the system's monotonic clock
    on Linux: the phones' process reads the same one)."""

    async def run() -> list[tuple[str, float]]:
        parts = urlsplit(url)
        idle: list[Connection] = []
        posted: list[tuple[str, float]] = []

        async def one(n: int) -> None:
            conn = idle.pop() if idle else Connection(parts.hostname, parts.port)
            start = time.perf_counter()
            status, body = await conn.exchange("POST", "/api/v1/sms/send", keys[n % len(keys)], SEND_BODY)
            if status == 202:
                posted.append((json.loads(body)["message_id"], start))
            idle.append(conn)

        tasks, start = [], time.perf_counter()
        for n in range(int(rate * duration)):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.wait(tasks, timeout=30)
        return posted

    results.put(asyncio.run(run()))


def quantiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms"


async def measure(stack, keys: list[str], tokens: list[str], rate: float, duration: float) -> str:
    ws_url = stack.ws_urls[0].replace("http://", "ws://") + "/ws/gateway/"
    arrivals: dict[str, float] = {}
    claims: dict[str, float] = {}
    done: dict[str, float] = {}
    phones = [Phone(ws_url, token, arrivals, claims, done) for token in tokens]
    for phone in phones:
        await phone.start()
    gc.collect()
    gc.freeze()  # out of the collector's way: its pauses would stamp frames late
    await asyncio.sleep(1.0)
    phone_server = psutil.Process(stack.phone_server_pid(0))
    cpu_before = sum(phone_server.cpu_times()[:2])
    results = multiprocessing.Queue()
    poster = multiprocessing.Process(target=post_process, args=(stack.urls[0], keys, rate, duration, results))
    poster.start()
    posted: list[tuple[str, float]] = await asyncio.to_thread(results.get, timeout=duration + 60)
    poster.join()
    # The backlog drains: every message's delivered report acknowledged, or 30 s more.
    deadline = time.perf_counter() + 30
    while len(done) < len(posted) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    cpu = sum(phone_server.cpu_times()[:2]) - cpu_before
    for phone in phones:
        await phone.ws.close()
    finished = [done[mid] - start for mid, start in posted if mid in done]
    claimed = [claims[mid] - start for mid, start in posted if mid in claims]
    span = max(done.values()) - min(start for _, start in posted) if done else 0.0
    line = (
        f"offered {rate:5,.0f}/s: completed {len(finished) / span if span else 0:5,.0f}/s "
        f"({len(finished)} of {len(posted)}); POST -> claim {quantiles(claimed)}; "
        f"POST -> delivered ack {quantiles(finished)}; phone server CPU {cpu / max(len(finished), 1) * 1000:.2f} ms"
        f" per message"
    )
    return line


def run_stack(db_threads: str, args) -> list[str]:
    """The whole run on a stack of its own, its phone server on ``db_threads`` database threads."""
    stack = start_stack(
        servers=1,
        extra_env={
            "GATEWAY_RATE_WINDOW_SECONDS": "1",  # 30 a second per phone: pacing is not measured
            "SMS_RATE_LIMIT_PER_MINUTE": "1000000",
            **({"PHONE_DB_THREADS": db_threads} if db_threads else {}),
        },
    )
    lines = []
    try:
        keys = stack.manage("""
import json
from accounts.services import api_key_generate
print(json.dumps([api_key_generate(name=f"bench-{i}", permissions=["send_sms"]).raw_key for i in range(20)]))
""")
        tokens = create_gateways(stack, args.phones, "busy")
        asyncio.run(measure(stack, keys, tokens, 50, 2.0))  # warm-up: connections, caches, statements
        for rate in args.rates:
            label = f"PHONE_DB_THREADS={db_threads}  " if db_threads else ""
            line = f"{label}{args.phones} phones  " + asyncio.run(measure(stack, keys, tokens, rate, args.duration))
            print(line, flush=True)
            lines.append(line)
    finally:
        stack.stop(keep=args.keep)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phones", type=int, default=40, help="busy phones (30 messages a second each at most)")
    parser.add_argument("--rates", default="100,200,400", help="comma-separated sms/send rates (each at most 1000/s)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of posting per rate (at most 30)")
    parser.add_argument("--db-threads", default="", help="comma-separated PHONE_DB_THREADS values to compare")
    parser.add_argument("--rounds", type=int, default=1, help="alternating runs of each value")
    parser.add_argument("--record", action="store_true", help="append the figures to bench/results.md")
    parser.add_argument("--keep", action="store_true", help="keep the work directories (server logs)")
    args = parser.parse_args()
    args.rates = [min(float(r), 1000.0) for r in args.rates.split(",")]
    args.duration = min(args.duration, 30.0)
    values = args.db_threads.split(",") if args.db_threads else [""]
    lines = []
    for _ in range(args.rounds):
        for value in values:
            lines += run_stack(value, args)
    if args.record:
        record(lines, "phone_reports.py")


if __name__ == "__main__":
    main()
