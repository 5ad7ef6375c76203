"""Real web nodes (granian for HTTP, daphne for the phones) serving the test database, for
end-to-end tests.

Two server processes share the database (and Redis in production mode), as several web
nodes would; tests that only need one use the first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection, connections

from core.invalidation import forget_everything
from devtools.services import free_ports, wait_for_port
from devtools.topology import http_server_args, phone_server_args
from gateways.models import Gateway, GatewayKind
from tests.fake_app import AppPhone, FakeApp, http_transport

from .helpers import Agent, missing_tool, wait_for, wait_for_phones_offline

BASE_DIR = Path(settings.BASE_DIR)


@dataclass
class LiveServer:
    """One web node as its mode runs it. Production: granian (WSGI) answers HTTP at ``url``,
    daphne (ASGI) holds the phones' WebSockets at ``ws_url`` (a proxy routes /ws/ there; here
    each has its own port). Embedded (``make run``): one daphne process serves both, since its
    in-memory channel layer reaches no other process."""

    url: str
    ws_url: str
    procs: list[subprocess.Popen]
    log_paths: list[Path]

    def log(self) -> str:
        return "".join(path.read_text(errors="replace") for path in self.log_paths)


def _database_env() -> dict[str, str]:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return {"SQLITE_PATH": str(db["NAME"])}
    return {"DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}


def server_env() -> dict[str, str]:
    """What the test servers run with: the test database, and the settings below."""
    return {
        **os.environ,
        **_database_env(),
        "DJANGO_SETTINGS_MODULE": "mysmsapio.settings",
        "EMBEDDED_SCHEDULER": "false",
        # Pacing windows of 2 s instead of 60 s, so that end-to-end runs take seconds.
        "GATEWAY_RATE_WINDOW_SECONDS": "2",
        # App phones' streams re-check their token every 2 s instead of 15 s.
        "GATEWAY_APP_KEEPALIVE_SECONDS": "2",
        # Behind the proxy (tests/live/test_proxy.py), as docker-compose's .env says.
        "TRUST_X_FORWARDED_PROTO": "true",
        # ... whose address is Caddy's: X-Forwarded-For is believed from it alone.
        "TRUSTED_PROXIES": "127.0.0.1/32",
        # Webhook receivers of the tests listen on loopback.
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        # Schemathesis probes each SMS Gate operation with the same wrong credentials
        # (ignored_auth): at the default 10 the lock-out would answer its probes 429, not 401.
        "SMSGATE_LOGIN_FAILURES": "1000",
        "LOG_LEVEL": "DEBUG",
        "PYTHONUNBUFFERED": "1",
    }


@contextmanager
def serving(args: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """One server process of a test's own (its settings differ from the shared servers')."""
    process = subprocess.Popen(
        args, cwd=BASE_DIR, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_for_port(port, proc=process)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def web_servers(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[list[LiveServer]]:
    with django_db_blocker.unblock():
        env = server_env()
    logs = tmp_path_factory.mktemp("servers")
    servers = []
    ports = free_ports(4)
    for index in range(2):
        http_port, ws_port = ports[2 * index : 2 * index + 2]
        if not settings.REDIS_URL:
            http_port = ws_port
        ws_url = f"http://127.0.0.1:{ws_port}"
        procs, log_paths = [], []
        # daphne's access log on: the tests check that a token in a phone's URL never reaches it.
        roles = [("ws", phone_server_args(ws_port, access_log=True), {})]
        if settings.REDIS_URL:
            roles.append(("http", http_server_args(http_port), {"PHONE_SERVER_URL": ws_url}))
        for name, args, extra in roles:
            log_path = logs / f"{name}-{index}.log"
            procs.append(
                subprocess.Popen(
                    args,
                    cwd=BASE_DIR,
                    env={**env, **extra},
                    stdout=log_path.open("ab"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            log_paths.append(log_path)
        servers.append(LiveServer(f"http://127.0.0.1:{http_port}", ws_url, procs, log_paths))
    try:
        for server in servers:
            for url, proc in zip([server.ws_url, server.url], server.procs, strict=False):
                wait_for_port(int(url.rsplit(":", 1)[1]), proc=proc)
        yield servers
    finally:
        for server in servers:
            for proc in server.procs:
                os.killpg(proc.pid, signal.SIGTERM)
        for server in servers:
            for proc in server.procs:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def web_server(web_servers, transactional_db) -> LiveServer:
    return web_servers[0]


@pytest.fixture(autouse=True)
def _committed_data(transactional_db):
    """The servers are other processes: what a test creates must be committed to be seen.
    Each test's rows are flushed behind the services' back: the servers forget what they
    hold in memory (keys, phones) at the start of each test."""
    forget_everything(everywhere=True)


@pytest.fixture
def raw_key(transactional_db) -> str:
    """A key made as the guide's "Create an API Key" step makes it."""
    from accounts.services import api_key_generate

    return api_key_generate(
        name="My SaaS App",
        permissions={"send_sms": True, "receive_sms": True, "send_otp": True, "verify_otp": True},
    ).raw_key


@pytest.fixture
def agents(tmp_path):
    started: list[Agent] = []

    def make(name: str, token: str, servers: list[str], **options) -> Agent:
        agent = Agent(tmp_path, name, token, servers, **options)
        started.append(agent)
        return agent

    yield make
    for agent in started:
        agent.stop()
    wait_for_phones_offline()


@pytest.fixture
def app_phones():
    """Fake SMS Gateway for Android apps at work (tests/fake_app.py): ``make(registration_token,
    server)`` registers one over the node's HTTP and holds its event stream on the node's phone
    server, as the proxy routes them."""
    started: list[AppPhone] = []

    def make(registration_token: str, server: LiveServer, **options) -> AppPhone:
        app = FakeApp(http_transport(server.url), **options)
        answer = app.register(registration_token)
        assert answer.status == 201, answer
        phone = AppPhone(app, server.ws_url)
        started.append(phone)
        return phone.start()

    yield make
    for phone in started:
        phone.stop()
    apps = Gateway.objects.filter(kind=GatewayKind.APP, is_connected=True)
    wait_for(lambda: not apps.exists(), timeout=20, what="app phones offline")
    time.sleep(0.5)


CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# Root in CI needs --no-sandbox; the rest keeps Chromium from calling home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture
def browser_page(web_server, monkeypatch):
    """A page in real headless Chromium (Debian's binary, driven by Playwright; nothing is
    downloaded). CI installs chromium (.ci/run) and fails without it; elsewhere the browser
    tests are skipped with the command that installs it."""
    if not CHROMIUM.exists():
        missing_tool(f"no {CHROMIUM}: apt-get install chromium (as root), or set CHROMIUM_PATH")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop open in this thread, which Django's guard
    # against ORM calls from async code would see; the test's own ORM calls are plain sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=web_server.url)
        # Every page must work offline: anything but loopback is refused and fails the test.
        outside: list[str] = []

        def loopback_only(route) -> None:
            if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", loopback_only)
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            # While Playwright's loop runs, Django keeps a separate connection for this
            # context (asgiref's Local); close it, or the test database cannot be dropped.
            connections.close_all()
            context.close()
            browser.close()
        assert not outside, f"pages asked for outside resources: {outside}"
