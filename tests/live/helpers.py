from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from gateways.models import Gateway

BASE_DIR = Path(__file__).resolve().parents[2]
GUIDE = BASE_DIR / "docs" / "INTEGRATION_GUIDE.md"
# Our notes beside the guide's text: a blank line, then a quote whose first line starts so.
GUIDE_NOTE = re.compile(r"\n> \*\*MySMSAPio note:\*\*.*\n(?:>.*\n)*\n")


def guide_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.S)


def all_at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run every call on its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def wait_for_fresh_minute(margin: float = 8.0) -> None:
    """Start a burst well inside one rate-limit window, so that it cannot straddle two."""
    into_window = time.time() % 60
    if into_window > 60 - margin:
        time.sleep(60 - into_window + 0.2)


def substitute(text: str, server_url: str, raw_key: str) -> str:
    """A guide example pointed at our server with a real key: the only change we make."""
    text = text.replace("http://your-server:3005", server_url)
    return re.sub(r"api_live_your_key(_here)?", raw_key, text)


def wal_frames_unpublished(database: Path) -> int:
    """Frames of the current WAL generation past the last one the wal-index publishes: a
    transaction written (maybe committed) that readers cannot see yet. SQLite's file formats:
    WAL header 32 bytes (page size at 8, salts at 16, big-endian), frame headers 24 bytes
    (salts at 8); the wal-index header's mxFrame is a native-endian u32 at offset 16."""
    wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
    if not wal.exists() or not shm.exists():
        return 0
    data, index = wal.read_bytes(), shm.read_bytes()
    if len(data) < 32 or len(index) < 20:
        return 0
    page_size, salts = int.from_bytes(data[8:12], "big"), data[16:24]
    published = int.from_bytes(index[16:20], sys.byteorder)
    frame_size = 24 + page_size
    unpublished = 0
    for frame in range(published, (len(data) - 32) // frame_size):
        start = 32 + frame * frame_size
        if data[start + 8 : start + 16] == salts:
            unpublished += 1
    return unpublished


class Agent:
    def __init__(self, tmp_path: Path, name: str, token: str, servers: list[str], **options) -> None:
        self.outbox = tmp_path / f"{name}-outbox.jsonl"
        self.inbound = tmp_path / f"{name}-inbound.jsonl"
        self.journal = tmp_path / f"{name}-journal.sqlite3"
        self.log = tmp_path / f"{name}.log"
        # A home of its own: where it saves its credentials (never the repository's var/agent).
        self.args = [
            sys.executable,
            "-m",
            "agent.agent",
            "--home",
            str(tmp_path / f"{name}-home"),
            "--token",
            token,
            "--driver",
            "simulator",
            "--outbox",
            str(self.outbox),
            "--journal",
            str(self.journal),
            "--inbound",
            str(self.inbound),
            "--inbound-interval",
            "0.2",
            "--deliver-delay",
            "0.05",
        ]
        for server in servers:
            self.args += ["--server", server]
        for key, value in options.items():
            self.args += [f"--{key.replace('_', '-')}", str(value)]
        self.proc: subprocess.Popen | None = None

    def start(self) -> Agent:
        self.proc = subprocess.Popen(self.args, cwd=BASE_DIR, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def kill_between_sends(self, attempts: int = 500) -> None:
        """SIGKILL at any step of the exchange but one: between the journal's "sending" and the
        radio, where the agent rightly reports the outcome unknown (failed) instead of risking
        a second send. Frozen by SIGSTOP, its journal can be read without a race."""
        for _ in range(attempts):
            self.proc.send_signal(signal.SIGSTOP)
            self._wait_until_stopped()
            try:
                db = sqlite3.connect(f"file:{self.journal}?mode=ro", uri=True, timeout=0)
                try:
                    sending = db.execute("SELECT count(*) FROM jobs WHERE state = 'sending'").fetchone()[0]
                finally:
                    db.close()
                # Frozen between writing a commit to the WAL and publishing it in the index, the
                # reader does not see the write, yet the restart's recovery keeps it.
                sending += wal_frames_unpublished(self.journal)
            except sqlite3.OperationalError:
                sending = 1  # frozen in the middle of a write: let it finish
            if not sending:
                self.kill()
                return
            self.proc.send_signal(signal.SIGCONT)
            time.sleep(0.005)
        raise AssertionError(f"{self.journal.name}: a job was always mid-send")

    def _wait_until_stopped(self, timeout: float = 2.0) -> None:
        # SIGSTOP is delivered asynchronously, and to each thread in turn: reading the journal
        # before every thread has stopped let one (the agent writes its journal off the event
        # loop's thread) move a job to "sending" between the read and the kill.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(state in ("T", "t") for state in self._thread_states()):
                return
            time.sleep(0.0005)
        raise AssertionError(f"agent {self.proc.pid} did not stop on SIGSTOP")

    def _thread_states(self) -> list[str]:
        states = []
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
            except FileNotFoundError:
                continue  # the thread ended meanwhile
        return states

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def sent(self) -> list[dict]:
        if not self.outbox.exists():
            return []
        return [json.loads(line) for line in self.outbox.read_text(encoding="utf-8").splitlines() if line.strip()]


def wait_for(condition, timeout: float = 60, interval: float = 0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")


def wait_for_phones_offline() -> None:
    """The servers handle each disconnect (taking jobs back) after the phone is gone: let them
    finish before the test database is flushed, or the flush and that work deadlock."""
    wait_for(lambda: not Gateway.objects.filter(is_connected=True).exists(), timeout=20, what="phones offline")
    time.sleep(0.5)


def missing_tool(reason: str) -> None:
    """A tool .ci/run installs is missing: in CI that is a failure (a skip would hide that
    the guide's example never ran), elsewhere a skip that says how to get it."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (.ci/run installs it)")
    pytest.skip(reason)
