#!/usr/bin/env python3
"""MySMSAPio gateway agent: the phone side of the gateway protocol (docs/gateway-protocol.md).

Runs anywhere with Python 3.9+ and the `websockets` package, without Django: on an Android
phone in Termux (driver "termux", sending with termux-sms-send) or as a simulator for tests
and demos (driver "simulator", writing each job to an outbox file).

    python agent.py --server http://192.0.2.10:3005 --token gw_live_... --driver termux
    python agent.py --pair 'mysmsapio://pair?server=...&token=...' --driver termux   # the admin's QR code
    python agent.py --driver termux   # later starts (after a reboot): the saved server and token

Its files live in its home directory (``--home``, default ``var/agent`` under the working
directory): the journal, the simulator's outbox and inbound files, and ``agent.json``, the
server list and token saved (mode 0600) when they are given on the command line.

Guarantees: a message is sent at most once. The agent asks the server to claim a job and
sends only after the server confirmed it; a local SQLite journal records each job's state
before the radio is touched, and every report until the server acks it, so a restart or a
lost connection neither loses a report nor sends twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

PROTOCOL_VERSION = 1
AGENT_VERSION = "1.0"
CLOSE_UNAUTHORIZED = 4401
CLOSE_REVOKED = 4403
CLOSE_GOING_AWAY = 1001  # RFC 6455: the agent is stopping

log = logging.getLogger("mysmsapio.agent")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: UP017 - runs on Python < 3.11


def heartbeat_interval(asked: Any, default: float = 30.0) -> float:
    """The server's heartbeat interval, unless it is not a number or below the minimum."""
    if isinstance(asked, (int, float)) and not isinstance(asked, bool) and asked >= MIN_HEARTBEAT_SECONDS:
        return float(asked)
    return default


def local_time_to_utc(value: Any) -> str | None:
    """A phone's time as UTC ISO 8601. Termux reports a received SMS's time in the phone's
    local time without a zone ("2026-11-25 19:30:00"): read it in the phone's own zone."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("T", " ").replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    # A naive time is local: astimezone() reads it in the phone's zone (TZ, or the system's).
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: UP017


CREDENTIALS_FILE = "agent.json"


def load_credentials(home: Path) -> dict[str, Any]:
    """The server list and token saved at pairing, or {}."""
    try:
        saved = json.loads((home / CREDENTIALS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def save_credentials(home: Path, servers: list[str], token: str) -> Path:
    """Write the server list and token for the next start, readable by this user only."""
    path = home / CREDENTIALS_FILE
    # A partial file of its own (mode 0600 from the start), then one atomic rename: two agents
    # started at once in one home (a shared "partial" name made one of them crash at start)
    # each write whole, and the last rename wins.
    fd, partial = tempfile.mkstemp(dir=home, prefix=CREDENTIALS_FILE + ".", suffix=".partial")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"servers": servers, "token": token}, f)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return path


def websocket_url(server: str) -> str:
    """Accepts the server's base URL (http, https, ws or wss) or the full socket URL."""
    parts = urlsplit(server)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path if parts.path.rstrip("/").endswith("/ws/gateway") else parts.path.rstrip("/") + "/ws/gateway/"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


FINAL_STATES = ("done", "failed", "dropped")
ENCRYPTED_REFUSAL = "Refused by the phone: the message is end-to-end encrypted and this agent has no passphrase"
# What the server may send as a recipient: E.164. The agent checks again before the radio.
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
# Heartbeats more often than this would drain the battery: a server asking for it is ignored.
MIN_HEARTBEAT_SECONDS = 5.0
# The reports the server acknowledges; one it could not store just now ("temporarily
# unavailable, send again": its database restarting) goes again after a second, then after
# twice as long while that goes on, up to half a minute.
REPORT_KINDS = frozenset({"sent", "delivered", "failed", "inbound"})
REPORT_RETRY_SECONDS = 1.0
REPORT_RETRY_MAX_SECONDS = 30.0


class Journal:
    """Jobs and unacknowledged reports, on disk. States of a job:
    accepted (claim asked) -> sending (radio about to be used) -> sent -> done (delivery
    report given or not available) | failed | dropped (claimed by another phone, or cancelled)."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # A forgotten text (an OTP code) is overwritten on disk, not merely unlinked from a page.
        self.db.execute("PRAGMA secure_delete=ON")
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS jobs (message_id TEXT PRIMARY KEY, job TEXT NOT NULL, "
            "state TEXT NOT NULL, updated REAL NOT NULL)"
        )
        self.db.execute("CREATE TABLE IF NOT EXISTS reports (id TEXT PRIMARY KEY, frame TEXT NOT NULL, created REAL)")

    def job_state(self, message_id: str) -> str | None:
        row = self.db.execute("SELECT state FROM jobs WHERE message_id = ?", (message_id,)).fetchone()
        return row[0] if row else None

    def job(self, message_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT job FROM jobs WHERE message_id = ?", (message_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def add_job(self, job: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO jobs VALUES (?, ?, 'accepted', ?)", (job["message_id"], json.dumps(job), time.time())
        )

    def set_state(self, message_id: str, state: str, *, only_from: tuple[str, ...] = ()) -> bool:
        sql = "UPDATE jobs SET state = ?, updated = ? WHERE message_id = ?"
        params: list[Any] = [state, time.time(), message_id]
        if only_from:
            sql += f" AND state IN ({','.join('?' * len(only_from))})"
            params += list(only_from)
        changed = self.db.execute(sql, params).rowcount == 1
        if changed and state in FINAL_STATES:
            # A final job is never sent again: its text (an OTP code, say) leaves the phone's disk.
            self.db.execute("UPDATE jobs SET job = json_remove(job, '$.text') WHERE message_id = ?", (message_id,))
        return changed

    def first_paired_at(self) -> str:
        """When this phone was first paired (UTC ISO 8601), recorded on the first call."""
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('first_paired_at', ?)", (now_iso(),))
        return self.db.execute("SELECT value FROM meta WHERE key = 'first_paired_at'").fetchone()[0]

    def jobs_in(self, state: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT message_id FROM jobs WHERE state = ?", (state,))]

    def add_report(self, frame: dict[str, Any]) -> None:
        self.db.execute("INSERT OR IGNORE INTO reports VALUES (?, ?, ?)", (frame["id"], json.dumps(frame), time.time()))

    def unacked_reports(self, *, created_before: float | None = None) -> list[dict[str, Any]]:
        """Oldest first; with ``created_before`` (a ``time.time()``), those older than it."""
        if created_before is None:
            rows = self.db.execute("SELECT frame FROM reports ORDER BY created")
        else:
            rows = self.db.execute("SELECT frame FROM reports WHERE created < ? ORDER BY created", (created_before,))
        return [json.loads(r[0]) for r in rows]

    def ack(self, report_id: str) -> None:
        self.db.execute("DELETE FROM reports WHERE id = ?", (report_id,))


class SimulatorDriver:
    """Sends nothing: appends each job as a JSON line to the outbox file, then reports it
    sent and (after a delay) delivered. Inbound SMS are injected as JSON lines
    ({"from": ..., "text": ...}) appended to the inbound file."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.outbox = Path(args.outbox) if args.outbox else Path(args.home) / "outbox.jsonl"
        self.send_delay = args.send_delay
        self.deliver_delay = args.deliver_delay
        self.failure_rate = args.failure_rate
        self.inbound = Path(args.inbound) if args.inbound else Path(args.home) / "inbound.jsonl"
        self.inbound_offset = 0

    def device_info(self) -> dict[str, Any]:
        return {
            "model": "simulator",
            "app_version": AGENT_VERSION,
            "battery": 100,
            "charging": True,
            "signal": 4,
            "sims": [{"slot": 0, "carrier": "Simulated", "number": ""}],
        }

    async def send(self, job: dict[str, Any]) -> tuple[bool, Any, str]:
        if self.send_delay:
            await asyncio.sleep(self.send_delay)
        if random.random() < self.failure_rate:
            return False, 1, "RESULT_ERROR_GENERIC_FAILURE (simulated)"
        line = {
            "id": job["message_id"],
            "to": job["to"],
            "body": job["text"],
            "sim_slot": job.get("sim_slot"),
            "priority": job.get("priority"),
            "at": now_iso(),
            "ts": time.time(),
            "pid": os.getpid(),
        }
        with self.outbox.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return True, None, ""

    async def delivered(self, job: dict[str, Any]) -> bool | None:
        await asyncio.sleep(self.deliver_delay)
        return True

    def recover(self, message_id: str) -> bool | None:
        """After a crash mid-send: did the job reach the outbox?"""
        if not self.outbox.exists():
            return False
        with self.outbox.open(encoding="utf-8") as f:
            return any(json.loads(line).get("id") == message_id for line in f if line.strip())

    async def poll_inbound(self) -> list[dict[str, Any]]:
        if not self.inbound.exists():
            return []
        with self.inbound.open(encoding="utf-8") as f:
            f.seek(self.inbound_offset)
            lines = f.readlines()
            self.inbound_offset = f.tell()
        found = []
        for line in lines:
            if line.strip():
                sms = json.loads(line)
                found.append(
                    {
                        "id": sms.get("id") or str(uuid.uuid4()),
                        "from": sms["from"],
                        "text": sms["text"],
                        "sim_slot": sms.get("sim_slot", 0),
                        "received_at": sms.get("received_at") or now_iso(),
                    }
                )
        return found


class TermuxDriver:
    """A real Android phone: Termux with the Termux:API app and package."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.seen_inbound: set[str] = set()
        # SMS received before this phone was first paired are the owner's, not the gateway's.
        self.not_before: str | None = None
        for program in ("termux-sms-send", "termux-sms-list"):
            if shutil.which(program) is None:
                raise SystemExit(f"{program} not found: install Termux:API (pkg install termux-api)")

    def device_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"model": "android/termux", "app_version": AGENT_VERSION}
        battery = self._json(["termux-battery-status"])
        if isinstance(battery, dict):
            info["battery"] = battery.get("percentage")
            info["charging"] = battery.get("plugged") not in (None, "UNPLUGGED")
        sims = self._json(["termux-telephony-deviceinfo"])
        if isinstance(sims, dict):
            info["sims"] = [{"slot": 0, "carrier": sims.get("network_operator_name", ""), "number": ""}]
        return info

    @staticmethod
    def _json(command: list[str]) -> Any:
        if shutil.which(command[0]) is None:
            return None
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=20).stdout
            return json.loads(out) if out.strip() else None
        except (subprocess.TimeoutExpired, json.JSONDecodeError, OSError):
            return None

    async def send(self, job: dict[str, Any]) -> tuple[bool, Any, str]:
        to = job.get("to")
        if not isinstance(to, str) or not E164.match(to):
            return False, "invalid_number", "Refused by the phone: the recipient is not an E.164 number"
        command = ["termux-sms-send", "-n", to]
        if isinstance(job.get("sim_slot"), int):
            command += ["-s", str(job["sim_slot"])]
        # The text goes on standard input, never on the command line: a text such as "-n +1..."
        # would otherwise be read as options.
        proc = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await proc.communicate(str(job.get("text", "")).encode())
        if proc.returncode == 0:
            return True, None, ""
        return False, proc.returncode, (stderr.decode(errors="replace").strip() or "termux-sms-send failed")[:300]

    async def delivered(self, job: dict[str, Any]) -> bool | None:
        return None  # termux-sms-send gives no delivery report: the message stays "sent"

    def recover(self, message_id: str) -> bool | None:
        return None  # Android keeps no record we can read of what termux-sms-send did

    async def poll_inbound(self) -> list[dict[str, Any]]:
        listed = await asyncio.to_thread(self._json, ["termux-sms-list", "-t", "inbox", "-l", "50"])
        found = []
        for sms in listed or []:
            sms_id = str(sms.get("_id", ""))
            if not sms_id or sms_id in self.seen_inbound:
                continue
            self.seen_inbound.add(sms_id)
            received_at = local_time_to_utc(sms.get("received")) or now_iso()
            if self.not_before is not None and received_at < self.not_before:
                continue
            found.append(
                {
                    "id": f"termux-{sms_id}",
                    "from": sms.get("number", ""),
                    "text": sms.get("body", ""),
                    "sim_slot": None,
                    "received_at": received_at,
                }
            )
        return found


DRIVERS = {"simulator": SimulatorDriver, "termux": TermuxDriver}


class Refused(Exception):
    pass


class Agent:
    def __init__(self, args: argparse.Namespace) -> None:
        self.servers = [websocket_url(s) for s in args.server]
        self.token = args.token
        self.driver = DRIVERS[args.driver](args)
        self.journal = Journal(args.journal or str(Path(args.home) / "journal.sqlite3"))
        if hasattr(self.driver, "not_before"):
            self.driver.not_before = self.journal.first_paired_at()
        self.ws: Any = None
        self.heartbeat_interval = 30.0
        self.inbound_interval = args.inbound_interval
        self.tasks: set[asyncio.Task] = set()
        self.awaiting_delivery: set[str] = set()
        self.report_retry: asyncio.Task | None = None
        self.report_retry_delay = REPORT_RETRY_SECONDS
        self.finish_interrupted_sends()

    def finish_interrupted_sends(self) -> None:
        # A job left in "sending" means the agent died while the radio had it. Sending again
        # could deliver it twice, so never resend: report what the driver can tell, or failed.
        for message_id in self.journal.jobs_in("sending"):
            if self.driver.recover(message_id):
                self.journal.set_state(message_id, "sent")
                self.report("sent", message_id)
                continue  # the delivery report follows from the "sent" state on connection
            self.journal.set_state(message_id, "failed")
            self.report(
                "failed", message_id, error="Agent restarted during send: outcome unknown", error_code="unknown"
            )

    def report(self, kind: str, message_id: str | None = None, **fields: Any) -> None:
        frame = {"type": kind, "id": str(uuid.uuid4()), **fields}
        if message_id is not None:
            frame["message_id"] = message_id
        self.journal.add_report(frame)
        if self.ws is not None:  # otherwise it goes out from the journal on the next connection
            self.spawn(self.send_frame(frame))

    def spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def resend_reports_soon(self) -> None:
        """Send the unacknowledged reports again shortly (once, however many errors asked)."""
        if self.report_retry is not None and not self.report_retry.done():
            return
        delay = random.uniform(self.report_retry_delay / 2, self.report_retry_delay)
        self.report_retry_delay = min(self.report_retry_delay * 2, REPORT_RETRY_MAX_SECONDS)
        self.report_retry = asyncio.get_running_loop().create_task(self.resend_reports(after=delay))

    async def resend_reports(self, *, after: float = 0.0, older_than: float = 0.0) -> None:
        """The reports still unacknowledged ``after`` seconds from now and made more than
        ``older_than`` seconds before that, sent again (the server takes a report twice as once)."""
        await asyncio.sleep(after)
        for frame in self.journal.unacked_reports(created_before=time.time() - older_than):
            await self.send_frame(frame)

    async def send_frame(self, frame: dict[str, Any]) -> None:
        if self.ws is None:
            return  # resent from the journal on the next connection
        with contextlib.suppress(Exception):  # the connection dropped; the journal keeps the frame
            await self.ws.send(json.dumps(frame, ensure_ascii=False))

    async def run_until_stopped(self) -> None:
        """``run_forever`` until SIGTERM or SIGINT, then a goodbye: the socket closes with 1001
        (going away), so the server records a clean departure, not a dropped connection (1006).
        Nothing is lost by stopping: the journal on disk keeps every job's state."""
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals on this platform
                loop.add_signal_handler(signum, stopping.set)
        runner = asyncio.ensure_future(self.run_forever())
        stopped = asyncio.ensure_future(stopping.wait())
        await asyncio.wait({runner, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if runner.done():
            stopped.cancel()
            runner.result()  # Refused, or another failure, goes to main
            return
        log.info("stopping: closing the connection")
        ws = self.ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=CLOSE_GOING_AWAY, reason="agent stopping"), timeout=5)
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner

    async def run_forever(self) -> None:
        attempt = 0
        index = 0
        while True:
            url = self.servers[index % len(self.servers)]
            try:
                await self.session(url)
                attempt = 0
            except Refused:
                raise
            except Exception as exc:
                log.warning("connection to %s failed: %s", url, exc.__class__.__name__)
                index += 1  # try the next server
            attempt += 1
            # Exponential backoff with full jitter: a fleet of phones must not reconnect in step.
            await asyncio.sleep(random.uniform(0.2, min(30.0, 0.5 * 2 ** min(attempt, 6))))

    async def session(self, url: str) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        headers = {"Authorization": f"Bearer {self.token}"}
        async with connect(url, additional_headers=headers, open_timeout=10, ping_interval=20) as ws:
            try:
                first = json.loads(await ws.recv())
            except ConnectionClosed as exc:
                if exc.rcvd is not None and exc.rcvd.code in (CLOSE_UNAUTHORIZED, CLOSE_REVOKED):
                    raise Refused(f"server refused the token (close code {exc.rcvd.code})") from exc
                raise
            self.heartbeat_interval = heartbeat_interval(first.get("heartbeat_interval"))
            log.info("connected to %s as gateway %s", url, first.get("gateway"))
            self.ws = ws
            try:
                await ws.send(
                    json.dumps({"type": "hello", "protocol": PROTOCOL_VERSION, "device": self.driver.device_info()})
                )
                for frame in self.journal.unacked_reports():
                    await ws.send(json.dumps(frame, ensure_ascii=False))
                for message_id in self.journal.jobs_in("accepted"):
                    await ws.send(json.dumps({"type": "accept", "message_id": message_id}))
                for message_id in self.journal.jobs_in("sent"):
                    self.spawn(self.await_delivery(message_id))
                background = [asyncio.ensure_future(self.heartbeats(ws)), asyncio.ensure_future(self.inbound_loop())]
                try:
                    async for raw in ws:
                        await self.on_frame(json.loads(raw))
                except ConnectionClosed as exc:
                    if exc.rcvd is not None and exc.rcvd.code in (CLOSE_UNAUTHORIZED, CLOSE_REVOKED):
                        raise Refused(f"server closed with {exc.rcvd.code}") from exc
                    raise
                finally:
                    for task in background:
                        task.cancel()
                if ws.close_code in (CLOSE_UNAUTHORIZED, CLOSE_REVOKED):
                    raise Refused(f"server closed with {ws.close_code}")
            finally:
                self.ws = None

    async def heartbeats(self, ws) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            info = self.driver.device_info()
            await ws.send(
                json.dumps({"type": "heartbeat", **{k: info.get(k) for k in ("battery", "charging", "signal")}})
            )
            # A report neither acknowledged nor refused within a heartbeat (its answer lost)
            # goes again, rather than only when the connection is next made.
            await self.resend_reports(older_than=self.heartbeat_interval)

    async def inbound_loop(self) -> None:
        while True:
            for sms in await self.driver.poll_inbound():
                frame = {"type": "inbound", **sms}
                self.journal.add_report(frame)
                await self.send_frame(frame)
            await asyncio.sleep(self.inbound_interval)

    async def on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "job":
            message_id = frame["message_id"]
            state = self.journal.job_state(message_id)
            if state is None:
                self.journal.add_job(frame)
            elif state != "accepted":
                return  # already handled: never twice
            await self.send_frame({"type": "accept", "message_id": message_id})
        elif kind == "claim":
            if frame.get("ok"):
                self.spawn(self.send_sms(frame["message_id"]))
            else:
                self.journal.set_state(frame["message_id"], "dropped", only_from=("accepted",))
        elif kind == "cancel":
            self.journal.set_state(frame["message_id"], "dropped", only_from=("accepted",))
        elif kind == "ack":
            if frame.get("rejected"):
                # The server can never accept this report as sent: keeping it would resend it forever.
                log.warning("server rejected report %s: %s", frame.get("id"), frame["rejected"])
            self.journal.ack(frame["id"])
            self.report_retry_delay = REPORT_RETRY_SECONDS
        elif kind == "error":
            log.warning("server error: %s", frame.get("error"))
            if frame.get("in_reply_to") in REPORT_KINDS:
                self.resend_reports_soon()

    async def send_sms(self, message_id: str) -> None:
        # The journal moves to "sending" before the radio is touched, atomically: a second
        # claim confirmation for the same job finds it no longer "accepted" and stops here.
        if not self.journal.set_state(message_id, "sending", only_from=("accepted",)):
            return
        job = self.journal.job(message_id)
        if job.get("encrypted") is True:
            # Number and text encrypted end to end by an SMS Gate client, with a passphrase only
            # the SMS Gateway app is given: this agent cannot send it, and says why.
            ok, error_code, error = False, "encrypted", ENCRYPTED_REFUSAL
        else:
            ok, error_code, error = await self.driver.send(job)
        if not ok:
            self.journal.set_state(message_id, "failed")
            self.report("failed", message_id, error=error, error_code=error_code)
            return
        self.journal.set_state(message_id, "sent")
        self.report("sent", message_id)
        await self.await_delivery(message_id)

    async def await_delivery(self, message_id: str) -> None:
        """Wait for the delivery report of a sent job, once per job (also after a restart)."""
        if message_id in self.awaiting_delivery:
            return
        self.awaiting_delivery.add(message_id)
        try:
            delivered = await self.driver.delivered(self.journal.job(message_id))
            if delivered:
                self.report("delivered", message_id, at=now_iso())
            self.journal.set_state(message_id, "done", only_from=("sent",))
        finally:
            self.awaiting_delivery.discard(message_id)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="MySMSAPio gateway agent")
    parser.add_argument(
        "--server",
        action="append",
        default=[],
        help="server URL (http://host:3005); repeat for fallbacks, tried in turn",
    )
    parser.add_argument(
        "--pair", metavar="URI", help="the admin's pairing QR code text (mysmsapio://pair?server=...&token=...)"
    )
    parser.add_argument("--token", default=os.environ.get("MYSMSAPIO_GATEWAY_TOKEN"), help="gw_live_... token")
    parser.add_argument("--driver", choices=sorted(DRIVERS), default="termux")
    parser.add_argument(
        "--home",
        default=os.environ.get("MYSMSAPIO_AGENT_HOME", os.path.join("var", "agent")),
        help="the agent's directory: journal, saved server and token (default: var/agent)",
    )
    parser.add_argument("--journal", help="local journal file (default: HOME/journal.sqlite3)")
    parser.add_argument("--outbox", help="simulator: file the sent jobs are appended to (default: HOME/outbox.jsonl)")
    parser.add_argument("--inbound", help="simulator: file watched for injected inbound SMS (HOME/inbound.jsonl)")
    parser.add_argument("--send-delay", type=float, default=0.0, help="simulator: seconds per send")
    parser.add_argument("--deliver-delay", type=float, default=0.2, help="simulator: seconds until delivered")
    parser.add_argument("--failure-rate", type=float, default=0.0, help="simulator: share of sends that fail")
    parser.add_argument("--inbound-interval", type=float, default=5.0, help="seconds between inbound SMS polls")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def parse_pairing_uri(uri: str) -> tuple[str, str]:
    """(server, token) from the pairing QR code's text."""
    parts = urlsplit(uri.strip())
    query = parse_qs(parts.query)
    if parts.scheme != "mysmsapio" or parts.netloc != "pair" or "server" not in query or "token" not in query:
        raise ValueError("not a MySMSAPio pairing code (mysmsapio://pair?server=...&token=...)")
    return query["server"][0], query["token"][0]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.pair:
        try:
            server, token = parse_pairing_uri(args.pair)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
        args.server = [server, *args.server]
        args.token = args.token or token
    home = Path(args.home)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    if args.server and args.token:
        # Given on the command line (or the environment): saved for the next start, so that
        # a phone's boot script needs neither.
        save_credentials(home, args.server, args.token)
    else:
        saved = load_credentials(home)
        args.server = args.server or [s for s in saved.get("servers", []) if isinstance(s, str)]
        args.token = args.token or saved.get("token")
    if not args.server:
        print(
            f"a server is required (--server or --pair; saved in {home / CREDENTIALS_FILE} after that)", file=sys.stderr
        )
        return 2
    if not args.token:
        print(
            f"a token is required (--token, MYSMSAPIO_GATEWAY_TOKEN or --pair; saved in {home / CREDENTIALS_FILE})",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s")
    agent = Agent(args)
    try:
        asyncio.run(agent.run_until_stopped())
    except Refused as exc:
        log.error("%s", exc)
        return 3
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
