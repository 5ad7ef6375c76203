"""How long the request log's flush keeps a web process's other threads waiting (not a test).

A web worker serves requests on a few threads that share one GIL; the request log's thread
writes a second's lines at once (mysmsapio/requestlog.py). Whatever the flush does while
holding the GIL, a request on another thread waits for. On a durable PostgreSQL
(bench/stack.py) this records N lines as requests would, then flushes them while a thread
ticks every 0.2 ms and notes its longest gap: that gap is the stall a request would see. It
prints per round the cost of recording a line, the flush's time, and the longest gap.

    python bench/request_log_flush.py [--lines 1500] [--rounds 15] [--baseline-checkout DIR] [--record]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.api_send import record  # noqa: E402
from bench.stack import checkouts_to_measure, manage_in_checkout  # noqa: E402

FLUSHES = """
import json, statistics, threading, time
from django.conf import settings
from django.utils import timezone
from mysmsapio.requestlog import request_log_flush, request_log_record

settings.REQUEST_LOG_FLUSH_SECONDS = 0  # flushed here, not by the log's own thread

def line(i):
    return {"created_at": timezone.now(), "account_id": 1, "api_key_id": 1, "key_name": "bench key",
            "key_prefix": "api_live_abcd", "method": "GET", "path": f"/api/v1/sms/status/msg_{i:032d}",
            "status": 200, "latency_ms": 1.23, "client_ip": "127.0.0.1"}

record_us, flush_ms, gaps = [], [], []
for _ in range(ROUNDS):
    start = time.perf_counter()
    for i in range(LINES):
        request_log_record(line(i))
    record_us.append((time.perf_counter() - start) / LINES * 1e6)
    stop, longest = threading.Event(), [0.0]

    def tick():
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.0002)
            now = time.perf_counter()
            longest[0], last = max(longest[0], now - last), now

    ticker = threading.Thread(target=tick)
    ticker.start()
    time.sleep(0.01)
    start = time.perf_counter()
    request_log_flush()
    flush_ms.append((time.perf_counter() - start) * 1000)
    time.sleep(0.01)
    stop.set()
    ticker.join()
    gaps.append(longest[0] * 1000)
print(json.dumps([statistics.median(record_us), statistics.median(flush_ms), statistics.median(gaps), max(gaps)]))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1500, help="lines per flush (a second's requests)")
    parser.add_argument("--rounds", type=int, default=15, help="flushes per run")
    parser.add_argument("--runs", type=int, default=2, help="alternating runs of each checkout")
    parser.add_argument("--baseline-checkout", type=Path, help="also measure this checkout of the project")
    parser.add_argument("--record", action="store_true", help="append the figures to bench/results.md")
    args = parser.parse_args()
    checkouts = checkouts_to_measure(args.baseline_checkout)
    script = FLUSHES.replace("ROUNDS", str(args.rounds)).replace("LINES", str(args.lines))
    lines = [f"{args.lines} lines per flush, {args.rounds} flushes per run (medians; the longest gap also at its max):"]
    for _ in range(args.runs):
        for name, checkout in checkouts.items():
            record_us, flush_ms, gap, worst = manage_in_checkout(checkout, script)
            lines.append(
                f"{name:18} record {record_us:5.1f} us/line  flush {flush_ms:5.1f} ms  "
                f"longest wait of another thread {gap:5.2f} ms (max {worst:5.2f} ms)"
            )
            print(lines[-1], flush=True)
    if args.record:
        record(lines, "request_log_flush.py")


if __name__ == "__main__":
    main()
