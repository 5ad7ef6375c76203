"""The production topology on loopback for benchmarks: PostgreSQL and Redis (from the test
harness's pip packages) and daphne processes with production settings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from devtools.services import Postgres, Redis, free_port, new_workdir, wait_for_port  # noqa: E402

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Stack:
    workdir: Path
    env: dict[str, str]
    urls: list[str] = field(default_factory=list)
    procs: list = field(default_factory=list)

    def manage(self, script: str) -> object:
        """Run Python in Django (``manage.py shell``); its last stdout line is JSON."""
        out = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=BASE_DIR, env=self.env, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        return json.loads(out.strip().splitlines()[-1])

    def stop(self, *, keep: bool = False) -> None:
        for proc in reversed(self.procs):
            if isinstance(proc, subprocess.Popen):
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            else:
                proc.stop()
        if keep:
            print(f"work directory kept: {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_stack(*, servers: int, extra_env: dict[str, str] | None = None) -> Stack:
    workdir = new_workdir("mysmsapio-bench-")
    stack = Stack(workdir=workdir, env={})
    postgres = Postgres(workdir / "postgres").start()
    stack.procs.append(postgres)
    redis = Redis(workdir / "redis").start()
    stack.procs.append(redis)
    stack.env = {
        **os.environ,
        "DATABASE_URL": postgres.url(),
        "REDIS_URL": redis.url(),
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "HASH_SECRET": "bench-hash-secret-" + "y" * 40,
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "mysmsapio.settings",
        **(extra_env or {}),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=BASE_DIR, env=stack.env, check=True)
    for _ in range(servers):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "mysmsapio.asgi:application"],
            cwd=BASE_DIR,
            env=stack.env,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / f"daphne-{port}.log").open("wb"),
        )
        stack.procs.append(proc)
        wait_for_port(port, proc=proc)
        stack.urls.append(f"http://127.0.0.1:{port}")
    return stack
