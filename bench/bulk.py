"""Benchmark (not a test): 1,000 messages as one `POST /api/v1/sms/bulk` against 1,000 single
`POST /api/v1/sms/send`, on the production topology on loopback (one web node, durable
PostgreSQL, Redis), in the same run: sequentially on one keep-alive connection, and over 16
concurrent connections. Prints the wall time of each and the ratios.

    python bench/bulk.py [--messages 1000] [--rounds 3] [--record]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.api_send import Connection, record  # noqa: E402
from bench.stack import start_stack  # noqa: E402

TEXT = "Your order #12345 has shipped and will arrive on Thursday."


async def singles(url: str, key: str, count: int, concurrency: int) -> float:
    parts = urlsplit(url)
    body = json.dumps({"to": "+959441234567", "message": TEXT}).encode()
    remaining = iter(range(count))

    async def client() -> None:
        conn = Connection(parts.hostname, parts.port)
        for _ in remaining:
            status = await conn.request("POST", "/api/v1/sms/send", key, body)
            assert status == 202, status

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - started


async def bulk(url: str, key: str, count: int) -> float:
    parts = urlsplit(url)
    body = json.dumps({"messages": [{"to": "+959441234567", "message": TEXT} for _ in range(count)]}).encode()
    conn = Connection(parts.hostname, parts.port)
    started = time.perf_counter()
    status, answer = await conn.exchange("POST", "/api/v1/sms/bulk", key, body)
    elapsed = time.perf_counter() - started
    assert status == 202 and json.loads(answer)["accepted"] == count, (status, answer[:200])
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000, help="messages per way (at most 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each way, alternating (at most 10)")
    parser.add_argument("--record", action="store_true", help="append the figures to bench/results.md")
    args = parser.parse_args()
    count, rounds = min(args.messages, 1000), min(args.rounds, 10)
    # The per-key limit raised so that it is never what is measured; 3 phones online take the jobs.
    stack = start_stack(servers=1, extra_env={"SMS_RATE_LIMIT_PER_MINUTE": "1000000"})
    try:
        key = stack.manage("""
import json
from accounts.services import api_key_generate
from gateways.models import Gateway
from django.utils import timezone
for i in range(3):  # online for the online window (90 s), longer than a run
    Gateway.objects.create(name=f"bench-{i}", shared=True, is_connected=True, last_seen_at=timezone.now())
print(json.dumps(api_key_generate(name="bench", permissions=["send_sms"]).raw_key))
""")
        url = stack.urls[0]
        times: dict[str, list[float]] = {"bulk": [], "single x1": [], "single x16": []}
        for _ in range(rounds):
            times["bulk"].append(asyncio.run(bulk(url, key, count)))
            times["single x1"].append(asyncio.run(singles(url, key, count, 1)))
            times["single x16"].append(asyncio.run(singles(url, key, count, 16)))
        median = {way: statistics.median(values) for way, values in times.items()}
        lines = [f"{count} messages, median of {rounds} rounds (alternating), one web node, durable PostgreSQL"]
        lines += [f"{way:<11} {median[way] * 1000:8.0f} ms  ({count / median[way]:,.0f} messages/s)" for way in times]
        lines.append(
            f"bulk is {median['single x1'] / median['bulk']:.1f}x faster than sequential single sends, "
            f"{median['single x16'] / median['bulk']:.1f}x faster than 16 concurrent ones"
        )
        print("\n".join(lines))
        if args.record:
            record(lines, "bulk.py")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
