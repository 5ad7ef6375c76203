"""Benchmark of dispatch (not a test): from `POST /api/v1/sms/send` to the job frame at a phone.

Starts the production topology on loopback (PostgreSQL, Redis, one web node: granian for HTTP,
daphne for the phones), connects
N simulated phones (real WebSockets speaking protocol v1: hello, accept, sent, delivered),
posts messages one at a time and measures the time until the job frame reaches the chosen
phone, for N = 1, 10 and 100. Then it connects idle phones (heartbeats only) and reports the
server process's memory per connected phone.

With --kind app the phones are SMS Gateway for Android apps instead (docs/gateway-protocol.md):
each holds its event stream on the phone server and fetches its jobs over HTTP on every
``MessageEnqueued``, then reports Processed, Sent and Delivered. Two times are measured: POST
to the event on the stream, and POST to the job in the app's hands (the event, then the fetch).

With --background, the API is kept busy meanwhile: it first measures the HTTP server's
maximum rate of `sms/status` polls (the call a client waiting for delivery makes most), then
polls at half that rate, open loop, for the whole measurement. (Background *sends* would queue
on the measured phones and measure their pacing instead of dispatch.)

    python bench/dispatch.py [--phones 1,10,100] [--messages 200] [--warmup 20] [--idle 500] [--nodes 2] [--background]
                             [--kind agent|app]
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
import requests  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from bench.api_send import Connection, closed_loop, record  # noqa: E402
from bench.stack import start_stack  # noqa: E402


def poll_process(url: str, key: str, path: str, rate: float, stop, results) -> None:
    """A process of its own: the measuring event loop must stay idle, or it would stamp the
    phones' frames late and blame the server for its own load."""

    async def run() -> str:
        stopped = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.05)
            stopped.set()

        watcher = asyncio.create_task(watch())
        line = await paced_polls(url, key, path, rate, stopped)
        await watcher
        return line

    results.put(asyncio.run(run()))


async def paced_polls(url: str, key: str, path: str, rate: float, stop: asyncio.Event) -> str:
    """GET ``path`` at ``rate`` per second, open loop, until ``stop``; a line on what it did."""
    parts = urlsplit(url)
    idle: list[Connection] = []
    answered: list[int] = []
    failed: list[str] = []
    tasks: set[asyncio.Task] = set()

    async def one() -> None:
        conn = idle.pop() if idle else Connection(parts.hostname, parts.port)
        try:
            answered.append(await conn.request("GET", path, key))
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            failed.append(type(exc).__name__)  # the connection is dropped, not reused
            return
        idle.append(conn)

    start, sent = time.perf_counter(), 0
    while not stop.is_set():
        delay = start + sent / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        sent += 1
    # A request the server never answers must not keep the report from the measurement.
    _, unanswered = await asyncio.wait(tasks, timeout=10) if tasks else (set(), set())
    for task in unanswered:
        task.cancel()
    elapsed = time.perf_counter() - start
    line = f"background: {len(answered) / elapsed:,.0f} status polls/s answered ({answered.count(200)} x 200)"
    if failed or unanswered:
        line += f", {len(failed)} failed, {len(unanswered)} unanswered after 10 s"
    return line


class Phone:
    """An agent that accepts every job at once and reports it sent and delivered. It stamps
    each job frame in ``arrivals``, and, if given, each claim's answer in ``claims`` and each
    delivered report's ack in ``done`` (the message's whole life through the phone server)."""

    def __init__(
        self,
        url: str,
        token: str,
        arrivals: dict[str, float],
        claims: dict[str, float] | None = None,
        done: dict[str, float] | None = None,
    ) -> None:
        self.url, self.token, self.arrivals = url, token, arrivals
        self.claims, self.done = claims, done
        self.ws = None
        self.reader: asyncio.Future | None = None

    async def start(self) -> None:
        self.ws = await connect(self.url, additional_headers={"Authorization": f"Bearer {self.token}"})
        await self.ws.recv()  # welcome
        await self.ws.send(json.dumps({"type": "hello", "protocol": 1, "device": {"model": "bench"}}))
        self.reader = asyncio.ensure_future(self.loop())

    async def loop(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            if frame["type"] == "job":
                self.arrivals[frame["message_id"]] = time.perf_counter()
                await self.ws.send(json.dumps({"type": "accept", "message_id": frame["message_id"]}))
            elif frame["type"] == "claim" and frame["ok"]:
                if self.claims is not None:
                    self.claims[frame["message_id"]] = time.perf_counter()
                for kind in ("sent", "delivered"):
                    report = {"type": kind, "id": f"{kind}-{frame['message_id']}", "message_id": frame["message_id"]}
                    await self.ws.send(json.dumps(report))
            elif frame["type"] == "ack" and self.done is not None and frame["id"].startswith("delivered-"):
                self.done[frame["id"].removeprefix("delivered-")] = time.perf_counter()


class AppPhone:
    """A fake SMS Gateway for Android app: its event stream, and a fetch on every wake."""

    def __init__(
        self, stream_url: str, http_url: str, token: str, arrivals: dict[str, float], wakes: list[float]
    ) -> None:
        self.stream_url, self.registration_token, self.arrivals, self.wakes = stream_url, token, arrivals, wakes
        parts = urlsplit(http_url)
        self.http = Connection(parts.hostname, parts.port)
        self.token = ""
        self.woken = False
        self.reader = self.writer = None
        self.task: asyncio.Future | None = None

    async def start(self) -> None:
        device = json.dumps({"name": "bench", "simCards": [{"slotIndex": 0, "simNumber": 1}]}).encode()
        status, body = await self.http.exchange("POST", "/api/mobile/v1/device", self.registration_token, device)
        assert status == 201, body
        self.token = json.loads(body)["token"]
        parts = urlsplit(self.stream_url)
        self.reader, self.writer = await asyncio.open_connection(parts.hostname, parts.port)
        self.writer.write(
            f"GET /api/mobile/v1/events HTTP/1.1\r\nHost: {parts.hostname}\r\n"
            f"Authorization: Bearer {self.token}\r\n\r\n".encode()
        )
        assert b" 200 " in await self.reader.readline()
        self.task = asyncio.ensure_future(self.loop())

    async def loop(self) -> None:
        # Chunked framing lines are skipped: only the event names matter here. Fetches run
        # beside the stream, as in the app (a worker per wake): a slow fetch must not delay
        # the stamp of the next event.
        fetching: asyncio.Future | None = None
        while line := await self.reader.readline():
            if line.startswith(b"event: MessageEnqueued"):
                self.wakes.append(time.perf_counter())
                self.woken = True
                if fetching is None or fetching.done():
                    fetching = asyncio.ensure_future(self.fetch_while_woken())

    async def fetch_while_woken(self) -> None:
        while self.woken:
            self.woken = False
            await self.fetch()

    async def fetch(self) -> None:
        status, body = await self.http.exchange("GET", "/api/mobile/v1/message", self.token)
        assert status == 200, body
        now = time.perf_counter()
        for item in json.loads(body):
            self.arrivals.setdefault(item["id"], now)
            for state in ("Processed", "Sent", "Delivered"):
                report = json.dumps([{"id": item["id"], "state": state, "recipients": [], "states": {}}]).encode()
                await self.http.request("PATCH", "/api/mobile/v1/message", self.token, report)

    async def close(self) -> None:
        self.task.cancel()
        self.writer.close()


def create_gateways(stack, count: int, prefix: str, kind: str = "agent") -> list[str]:
    return stack.manage(f"""
import json
from gateways.services import gateway_create
print(json.dumps([gateway_create(name=f"{prefix}-{{i}}", rate_per_minute=30, kind="{kind}").raw_token
                  for i in range({count})]))
""")


def quantiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"


async def measure(
    stack,
    api_keys: list[str],
    first: int,
    tokens: list[str],
    messages: int,
    background: tuple[str, float] | None = None,
    kind: str = "agent",
    warmup: int = 0,
) -> str:
    # Phones on the first node, POSTs to the last: with --nodes 2 every job crosses nodes
    # through the Redis channel layer.
    ws_url = stack.ws_urls[0].replace("http://", "ws://") + "/ws/gateway/"
    arrivals: dict[str, float] = {}
    wakes: list[float] = []
    if kind == "app":
        phones = [AppPhone(stack.ws_urls[0], stack.urls[0], token, arrivals, wakes) for token in tokens]
    else:
        phones = [Phone(ws_url, token, arrivals) for token in tokens]
    for phone in phones:
        await phone.start()
    # Out of the collector's way: a full collection here stamped frames 25 ms late.
    gc.collect()
    gc.freeze()
    await asyncio.sleep(1.0)
    stop, results = multiprocessing.Event(), multiprocessing.Queue()
    polls = None
    if background:
        path, rate = background
        polls = multiprocessing.Process(
            target=poll_process, args=(stack.urls[-1], api_keys[0], path, rate, stop, results)
        )
        polls.start()
        await asyncio.sleep(1.5)  # the background load is under way before the first POST
    session = requests.Session()
    latencies, answers, event_latencies, after_answer = [], [], [], []
    phone_server = psutil.Process(stack.phone_server_pid(0))
    cpu_before = sum(phone_server.cpu_times()[:2])
    for i in range(warmup + messages):
        if i == warmup:  # the first messages only warm the processes up: not measured
            latencies, answers, event_latencies, after_answer = [], [], [], []
            cpu_before = sum(phone_server.cpu_times()[:2])
        start = time.perf_counter()
        response = await asyncio.to_thread(
            session.post,
            f"{stack.urls[-1]}/api/v1/sms/send",
            json={"to": "+959123456789", "message": f"bench #{i}"},
            headers={"Authorization": f"Bearer {api_keys[(first + i) // 90]}"},
            timeout=10,
        )
        answers.append(time.perf_counter() - start)
        message_id = response.json()["message_id"]
        while message_id not in arrivals and time.perf_counter() - start < 5:
            await asyncio.sleep(0.0005)
        if message_id in arrivals:
            latencies.append(arrivals[message_id] - start)
            # How long the frame came after the POST's answer (negative: before it).
            after_answer.append(arrivals[message_id] - start - answers[-1])
            woken = [t for t in wakes[-5:] if t >= start]
            if woken:
                event_latencies.append(min(woken) - start)
        # 20 messages a second stays under one phone's pace (30 per 1 s window, plus margin):
        # what is measured is dispatch, not pacing.
        await asyncio.sleep(0.05)
    stop.set()
    phone_cpu_ms = (sum(phone_server.cpu_times()[:2]) - cpu_before) / messages * 1000
    for phone in phones:
        await (phone.close() if kind == "app" else phone.ws.close())
    lost = messages - len(latencies)
    result = f"{quantiles(latencies)} over {len(latencies)} messages" + (f", {lost} not arrived in 5 s" if lost else "")
    if kind == "app":
        result = f"event {quantiles(event_latencies)}; job in hand {result}"
    answer_q = statistics.quantiles(answers, n=100, method="inclusive")
    after_q = statistics.quantiles(after_answer, n=100, method="inclusive") if len(after_answer) > 1 else [0.0] * 99
    result += (
        f" (the POST's own answer: p50 {answer_q[49] * 1000:.1f} ms, p99 {answer_q[98] * 1000:.1f} ms;"
        f" frame after the answer: p50 {after_q[49] * 1000:.1f} ms, p99 {after_q[98] * 1000:.1f} ms;"
        f" phone server CPU {phone_cpu_ms:.1f} ms per message)"
    )
    if polls is None:
        return result
    line = results.get(timeout=60)
    polls.join()
    return f"{result}; {line}"


async def idle_capacity(stack, tokens: list[str], server_pid: int) -> str:
    ws_url = stack.ws_urls[0].replace("http://", "ws://") + "/ws/gateway/"
    process = psutil.Process(server_pid)
    before = process.memory_info().rss
    sockets = []
    started = time.perf_counter()
    for batch in range(0, len(tokens), 50):
        group = tokens[batch : batch + 50]
        sockets += await asyncio.gather(
            *(connect(ws_url, additional_headers={"Authorization": f"Bearer {t}"}, ping_interval=None) for t in group)
        )
        # Phones reconnect with jitter; 100 a second is a server restart's reconnect storm.
        await asyncio.sleep(0.5)
    for ws in sockets:
        await ws.recv()
    connect_time = time.perf_counter() - started
    await asyncio.gather(*(ws.send(json.dumps({"type": "heartbeat", "battery": 50})) for ws in sockets))
    await asyncio.sleep(2.0)
    after = process.memory_info().rss
    result = (
        f"{len(sockets)} idle phones connected in {connect_time:.1f} s; server RSS {before / 2**20:.0f} MB -> "
        f"{after / 2**20:.0f} MB, {(after - before) / len(sockets) / 1024:.0f} KB per phone"
    )
    for ws in sockets:
        await ws.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phones", default="1,10,100", help="comma-separated phone counts to measure")
    parser.add_argument("--messages", type=int, default=200, help="messages per measurement (at most 1000)")
    parser.add_argument(
        "--warmup", type=int, default=20, help="messages sent before each measurement, not measured (cold caches)"
    )
    parser.add_argument("--idle", type=int, default=500, help="idle phones for the capacity run (at most 5000)")
    parser.add_argument(
        "--nodes",
        type=int,
        choices=[1, 2],
        default=1,
        help="2: phones on node 1, POSTs to node 2 (the cross-node path)",
    )
    parser.add_argument("--background", action="store_true", help="keep the API at half its maximum rate meanwhile")
    parser.add_argument(
        "--background-rate", type=float, help="with --background: this many polls/s instead (A/B runs at one load)"
    )
    parser.add_argument("--record", action="store_true", help="append the figures to bench/results.md")
    parser.add_argument(
        "--kind",
        choices=["agent", "app"],
        default="agent",
        help="app: SMS Gateway for Android apps (event stream + fetch) instead of agents",
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    counts = [int(n) for n in args.phones.split(",")]
    messages = min(args.messages, 1000)

    # One-second pacing windows: the phones' rate limits must not be what is measured.
    stack = start_stack(servers=args.nodes, extra_env={"GATEWAY_RATE_WINDOW_SECONDS": "1"})
    try:
        # 100 sends per minute per key: enough keys that the limit is never hit.
        key_count = len(counts) * (messages + args.warmup) // 90 + 1
        api_keys = stack.manage(f"""
import json
from accounts.services import api_key_generate
keys = [api_key_generate(name=f"bench-{{i}}", permissions=["send_sms"]).raw_key for i in range({key_count})]
print(json.dumps(keys))
""")
        background, lines = None, []
        if args.background:
            message_id = stack.manage("""
import json
from accounts.models import Account
from messaging.lifecycle import message_create
print(json.dumps(message_create(account=Account.objects.get(), to="+959123456789", text="polled").pk))
""")
            path = f"/api/v1/sms/status/{message_id}"
            pids = [stack.server_pid(len(stack.urls) - 1)]
            top = asyncio.run(closed_loop([stack.urls[-1]], api_keys[:1], "status", [message_id], 16, 3.0, pids))
            # The maximum swings by half from run to run, and the tail with it: a fixed rate
            # compares two checkouts at one load.
            rate = args.background_rate or top.rate / 2
            background = (path, rate)
            lines.append(f"sms/status maximum {top.rate:,.0f}/s; background load at {rate:,.0f}/s")
            print(lines[-1], flush=True)
        sent = 0
        for count in counts:
            tokens = create_gateways(stack, count, f"phones{count}", args.kind)
            result = asyncio.run(measure(stack, api_keys, sent, tokens, messages, background, args.kind, args.warmup))
            sent += args.warmup + messages
            path = "POST on node 2 -> job frame on node 1" if args.nodes == 2 else "POST -> job frame"
            if args.kind == "app":
                path = "app phones: POST on node 2 -> node 1's stream" if args.nodes == 2 else "app phones: POST ->"
            lines.append(f"{count:>4} phone(s): {path} {result}")
            print(lines[-1], flush=True)
            stack.manage("""
import json
from gateways.models import Gateway
from gateways.services import gateway_set_enabled
print(json.dumps(gateway_set_enabled(gateway_ids=list(Gateway.objects.values_list("pk", flat=True)), enabled=False)))
""")
        if args.idle:
            tokens = create_gateways(stack, min(args.idle, 5000), "idle")
            server_pid = stack.phone_server_pid(0)  # the node the phones connect to
            lines.append(asyncio.run(idle_capacity(stack, tokens, server_pid)))
            print(lines[-1], flush=True)
        if args.record:
            record(lines, "dispatch.py")
    finally:
        stack.stop(keep=args.keep)


if __name__ == "__main__":
    main()
