"""Every example of README.md and docs/ that is not marked "Not run by the docs tests" runs here,
in order, as a reader pastes it, against a real server in embedded mode (``make run``'s daphne,
with a database of its own): a failing command, a JSON error printed, or a command that hangs
fails the test.

What a reader fills in is filled in from what the earlier examples printed, and nothing else
changes: ``localhost:3005`` becomes the test server's address, ``api_live_...`` the key
``create_api_key`` printed, ``gw_live_...`` the token ``create_gateway`` printed, and a Python
example's ``LOGIN`` and ``PASSWORD`` are assigned what ``create_smsgate_login`` printed. Each
document runs in a directory of its own (``.venv`` and ``manage.py`` linked in), so that its
relative paths (``var/agent/``) are its own. A command that serves until stopped (an agent)
is left running, as in a terminal of its own, and stopped when the document ends.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings

from devtools.services import free_port, wait_for_port
from tests.live.helpers import wait_for

from .markdown import ROOT, SHELLS, examples, language, not_run_reason

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(bool(settings.REDIS_URL), reason="the docs describe embedded mode: the embedded pass runs them"),
]
# Commands that serve until stopped: started, checked alive, left running.
LONG_RUNNING = re.compile(r"manage\.py run_gateway|agent\.py ")
COMMAND_TIMEOUT = 120


class Reader:
    """Pastes a document's examples into a shell, one after another."""

    def __init__(self, workdir: Path, server: str, env: dict[str, str]) -> None:
        self.workdir, self.server, self.env = workdir, server, env
        self.filled: dict[str, str] = {}  # placeholder -> what an earlier example printed
        self.names: dict[str, str] = {}  # Python names a reader assigns from what was printed
        self.outputs: list[str] = []
        self.background: list[subprocess.Popen] = []
        self.ran = 0
        self.not_run: list[str] = []
        self.last_command = ""

    def fill(self, text: str) -> str:
        text = re.sub(r"(localhost|127\.0\.0\.1):3005", self.server.removeprefix("http://"), text)
        for placeholder, value in self.filled.items():
            text = text.replace(placeholder, value)
        return text

    def learn(self, output: str) -> None:
        """What a reader copies from a command's output into the next ones."""
        lines = output.strip().splitlines()
        last = lines[-1] if lines else ""
        if re.fullmatch(r"api_live_\w+", last):
            self.filled["api_live_..."] = last
        elif re.fullmatch(r"gw_live_\w+", last):
            self.filled["gw_live_..."] = last
        elif re.fullmatch(r"\S+ \S+", last) and "smsgate" in self.last_command:
            self.names["LOGIN"], self.names["PASSWORD"] = last.split()

    def __call__(self, example) -> None:
        reason = not_run_reason(example)
        if reason:
            self.not_run.append(reason)
            return
        kind = language(example)
        if kind in SHELLS:
            for command in _commands(self.fill(example.parsed)):
                self.last_command = command
                self.shell(command, f"{example.path}:{example.line}")
        elif kind == "python":
            self.python(example)
        else:
            raise AssertionError(f"{example.path}:{example.line}: a {kind} example, neither run nor marked")
        self.ran += 1

    def shell(self, command: str, where: str) -> None:
        env_file = self.workdir / ".env-after"
        # The shell's exported variables carry over to the next command, as in one terminal.
        script = f"{command}\n__status=$?; env -0 > {env_file}; exit $__status"
        if LONG_RUNNING.search(command):
            log = (self.workdir / f"background-{len(self.background)}.log").open("ab")
            proc = subprocess.Popen(
                ["bash", "-c", command],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            time.sleep(3)
            assert proc.poll() is None, f"{where}: `{command}` stopped with {proc.returncode}"
            self.background.append(proc)
            return
        done = self.run(["bash", "-c", script], f"{where}: `{command}`")
        self.env = dict(item.split("=", 1) for item in env_file.read_text().split("\0") if "=" in item)
        for line in done.stdout.splitlines():
            if line.startswith("{"):
                body = json.loads(line)
                assert "error" not in body, f"{where}: `{command}` answered {line}"
        self.outputs.append(done.stdout)
        self.learn(done.stdout)

    def python(self, example) -> None:
        assigned = "".join(f"{name} = {value!r}\n" for name, value in self.names.items())
        code = assigned + self.fill(example.parsed)
        done = self.run([str(ROOT / ".venv" / "bin" / "python"), "-c", code], f"{example.path}:{example.line}")
        self.outputs.append(done.stdout)

    def run(self, args: list[str], what: str) -> subprocess.CompletedProcess:
        """Run in the reader's directory and environment; it must succeed."""
        done = subprocess.run(
            args, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT
        )
        assert done.returncode == 0, f"{what} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done

    def stop(self) -> None:
        for proc in self.background:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)


def _commands(block: str) -> Iterator[str]:
    """The block's commands: lines joined where they end in a backslash; comments kept."""
    for command in re.sub(r"\\\n\s*", " ", block).splitlines():
        if command.strip() and not command.lstrip().startswith("#"):
            yield command


@pytest.fixture
def reader(tmp_path) -> Iterator[Reader]:
    """A fresh embedded server (``make run``: migrate, then daphne) and a reader's directory."""
    workdir = tmp_path / "reader"
    workdir.mkdir()
    (workdir / ".venv").symlink_to(ROOT / ".venv")
    (workdir / "manage.py").symlink_to(ROOT / "manage.py")
    env = {
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "MYSMSAPIO_VAR_DIR": str(tmp_path / "var"),  # the server's database and secrets
    }
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    server = subprocess.Popen(
        [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "mysmsapio.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "server.log").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, proc=server, timeout=60)
        reading = Reader(workdir, f"http://127.0.0.1:{port}", env)
        reading.tmp_var = tmp_path / "var"
        yield reading
        reading.stop()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def _run(path: Path, reader: Reader) -> Reader:
    for example in examples(path):
        reader(example)
    return reader


def test_the_readmes_examples(reader):
    _run(ROOT / "README.md", reader)
    assert (reader.ran, len(reader.not_run)) == (6, 3)
    # The message its curl example sent waited as pending; the simulated phone it then
    # started sent it ("Pending messages go out the moment it connects").
    sent = json.loads(next(out for out in reader.outputs if '"message_id"' in out))
    key = {"Authorization": f"Bearer {reader.filled['api_live_...']}"}
    url = f"{reader.server}/api/v1/sms/status/{sent['message_id']}"
    wait_for(lambda: requests.get(url, headers=key, timeout=5).json()["status"] in ("sent", "delivered"), timeout=30)
    # The SMS Gate client example printed its message's state.
    assert any(out.strip().startswith("ProcessState.") for out in reader.outputs)


def test_the_gateway_phone_guides_examples(reader):
    _run(ROOT / "docs" / "gateway-phone.md", reader)
    assert (reader.ran, len(reader.not_run)) == (3, 5)
    # Its simulated phone, run from the reader's directory, forwarded the SMS the guide writes
    # into var/agent/inbound.jsonl: the server stored it.
    database = reader.tmp_var / "mysmsapio.sqlite3"

    def received() -> list:
        with sqlite3.connect(database) as db:
            return db.execute("SELECT sender, body FROM messaging_inboundsms").fetchall()

    assert wait_for(received, timeout=30, what="the inbound SMS stored") == [("+959987654321", "hello")]


def test_the_test_mode_docs_example(reader):
    _run(ROOT / "docs" / "test-mode.md", reader)
    assert (reader.ran, len(reader.not_run)) == (1, 0)
    # It printed a test-mode key, which the server takes.
    key = reader.outputs[-1].split()[-1]
    assert key.startswith("api_test_")
    answer = requests.get(
        f"{reader.server}/api/v1/sms/status/msg_{'0' * 32}", headers={"Authorization": f"Bearer {key}"}, timeout=5
    )
    assert answer.status_code == 404  # known key, no such message (a wrong key is 401)
