"""Real daphne processes serving the test database, for end-to-end HTTP tests.

Two server processes share the database (and Redis in production mode), as several web
nodes would; tests that only need one use the first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from devtools.services import free_port, wait_for_port

BASE_DIR = Path(settings.BASE_DIR)


@dataclass
class LiveServer:
    url: str
    proc: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _database_env() -> dict[str, str]:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return {"SQLITE_PATH": str(db["NAME"])}
    return {"DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}


@pytest.fixture(scope="session")
def daphne_servers(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[list[LiveServer]]:
    with django_db_blocker.unblock():
        env = {
            **os.environ,
            **_database_env(),
            "DJANGO_SETTINGS_MODULE": "mysmsapio.settings",
            "EMBEDDED_SCHEDULER": "false",
            # Pacing windows of 2 s instead of 60 s, so that end-to-end runs take seconds.
            "GATEWAY_RATE_WINDOW_SECONDS": "2",
            "LOG_LEVEL": "DEBUG",
            "PYTHONUNBUFFERED": "1",
        }
    logs = tmp_path_factory.mktemp("daphne")
    servers = []
    for index in range(2):
        port = free_port()
        log_path = logs / f"daphne-{index}.log"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "mysmsapio.asgi:application",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )
        servers.append(LiveServer(url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path))
    try:
        for server in servers:
            wait_for_port(int(server.url.rsplit(":", 1)[1]), proc=server.proc)
        yield servers
    finally:
        for server in servers:
            server.proc.terminate()
        for server in servers:
            try:
                server.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.proc.kill()


@pytest.fixture
def daphne_server(daphne_servers, transactional_db) -> LiveServer:
    return daphne_servers[0]


@pytest.fixture(autouse=True)
def _committed_data(transactional_db):
    """The servers are other processes: what a test creates must be committed to be seen."""


@pytest.fixture
def raw_key(transactional_db) -> str:
    """A key made as the guide's "Create an API Key" step makes it."""
    from accounts.services import api_key_generate

    return api_key_generate(
        name="My SaaS App",
        permissions={"send_sms": True, "receive_sms": True, "send_otp": True, "verify_otp": True},
    ).raw_key
