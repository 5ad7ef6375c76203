"""What one message's whole life costs the database (not a test).

On a durable PostgreSQL (bench/stack.py), one connection runs N lives through the lifecycle's
own functions: create (queued on a phone), push, claim (sent), the radio's report, delivered,
with their events.
It prints per message: wall time, the PostgreSQL backend's CPU, and the WAL written (what
every commit must flush, and what replicas and backups carry).

    python bench/lifecycle.py [--messages 2000] [--rounds 3] [--baseline-checkout DIR] [--record]

--baseline-checkout DIR runs the same lives on another checkout of the project (its own
migrations, so its own indexes), alternating with this one, in the same sitting.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.api_send import record  # noqa: E402
from bench.stack import checkouts_to_measure, manage_in_checkout  # noqa: E402

LIVES = """
import json, time, psutil
from datetime import timedelta
from django.db import connection
from django.utils import timezone
from accounts.services import api_key_generate
from gateways.models import Gateway
from messaging.lifecycle import (message_claim, message_create, message_mark_delivered, message_mark_radio_sent,
                                 message_push)

tag = time.time()
seen = timezone.now() + timedelta(days=1)
phone = Gateway.objects.create(name=f"life-{tag}", shared=True, is_connected=True, last_seen_at=seen)
key = api_key_generate(name=f"life-{tag}", permissions=["send_sms"]).api_key

def life(text):
    message = message_create(account=key.account, api_key=key, to="+959123456789", text=text, gateway_id=phone.pk,
                             wake=False)
    message_push(gateway_id=phone.pk, message_ids=[message.pk])
    message_claim(gateway_id=phone.pk, message_id=message.pk)
    message_mark_radio_sent(gateway_id=phone.pk, message_id=message.pk)
    message_mark_delivered(gateway_id=phone.pk, message_id=message.pk)

for _ in range(50):  # warm-up: the connection, its prepared statements
    life("warm-up")
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_backend_pid(), pg_current_wal_lsn()")
    pid, lsn = cursor.fetchone()
backend = psutil.Process(pid)
cpu, start = sum(backend.cpu_times()[:2]), time.perf_counter()
for _ in range(MESSAGES):
    life("lifecycle benchmark")
elapsed, cpu = time.perf_counter() - start, sum(backend.cpu_times()[:2]) - cpu
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [lsn])
    wal = float(cursor.fetchone()[0])
print(json.dumps([elapsed / MESSAGES * 1000, cpu / MESSAGES * 1000, wal / MESSAGES]))
"""


def run(checkout: Path, messages: int) -> list[float]:
    """One round on ``checkout``: [wall ms, PostgreSQL CPU ms, WAL bytes] per message."""
    return manage_in_checkout(checkout, LIVES.replace("MESSAGES", str(messages)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each checkout")
    parser.add_argument("--baseline-checkout", type=Path, help="also measure this checkout of the project")
    parser.add_argument("--record", action="store_true", help="append the figures to bench/results.md")
    args = parser.parse_args()
    lines = []
    for _ in range(args.rounds):
        for name, checkout in checkouts_to_measure(args.baseline_checkout).items():
            figures = run(checkout, args.messages)
            line = f"{name:18} {figures[0]:5.2f} ms wall  PostgreSQL CPU {figures[1]:.3f} ms  WAL {figures[2]:,.0f} B"
            print(line, flush=True)
            lines.append(line)
    life = "create, push, claim, radio sent, delivered; one connection"
    lines.insert(0, f"{args.messages} lives per run ({life}), per message:")
    if args.record:
        record(lines, "lifecycle.py")


if __name__ == "__main__":
    main()
