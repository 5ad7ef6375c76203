"""The proxy in front of the nodes, as docker-compose runs it: our Caddyfile, served by a real
Caddy over HTTPS with a certificate from Caddy's own authority (what a LAN address gets), and
an app phone that trusts that authority, as a phone with Caddy's root installed does. Only the
upstreams differ: compose's service names become this test's ports."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User

from adminpanel.models import ApiRequest
from devtools.services import free_port, wait_for_port
from gateways.models import Gateway, GatewayKind
from gateways.services import gateway_create
from tests.fake_app import AppPhone, FakeApp, http_transport

from .helpers import missing_tool, wait_for
from .test_app_phones import OOREDOO_NUMBER, status_of
from .test_gateway_e2e import post_sms

pytestmark = pytest.mark.live
CADDYFILE = Path(settings.BASE_DIR) / "Caddyfile"


@pytest.fixture
def proxy(web_server, tmp_path):
    """Caddy with our Caddyfile on 127.0.0.1:<port>, HTTPS from its local authority."""
    caddy = shutil.which("caddy")
    if caddy is None:
        missing_tool("no caddy: apt-get install caddy (as root)")
    port = free_port()
    web, phones = web_server.url.rsplit(":", 1)[1], web_server.ws_url.rsplit(":", 1)[1]
    text = CADDYFILE.read_text()
    text = text.replace("dynamic a phones 8001", f"to 127.0.0.1:{phones}").replace(
        "dynamic a web 8000", f"to 127.0.0.1:{web}"
    )
    assert "dynamic" not in text
    # No admin endpoint, no change to this machine's trust store, no redirect server on :80.
    config = tmp_path / "Caddyfile"
    config.write_text("{\n\tadmin off\n\tskip_install_trust\n\tauto_https disable_redirects\n}\n" + text)
    env = {
        "SITE_ADDRESS": f"127.0.0.1:{port}",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    log = (tmp_path / "caddy.log").open("wb")
    process = subprocess.Popen(
        [caddy, "run", "--config", str(config), "--adapter", "caddyfile"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, proc=process)
        ca = tmp_path / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        wait_for(ca.exists, timeout=20, what="Caddy's local authority")
        yield f"https://127.0.0.1:{port}", ca
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_an_app_phone_works_through_the_proxy_over_https(web_server, proxy, raw_key):
    base, ca = proxy
    # Without Caddy's root the certificate is not trusted; with it (installed on the phone), it is.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(base + "/up", timeout=5)
    assert requests.get(base + "/up", timeout=5, verify=str(ca)).status_code == 200

    created = gateway_create(name="lan-app", kind=GatewayKind.APP, rate_per_minute=30)
    app = FakeApp(http_transport(base, verify=str(ca)), verify=str(ca))
    assert app.register(created.raw_token).status == 201
    phone = AppPhone(app, base).start()  # the event stream through the proxy, to the phone node
    try:
        wait_for(lambda: Gateway.objects.get(pk=created.gateway.pk).is_online, what="online through the proxy")
        started = time.monotonic()
        message_id = post_sms(web_server, raw_key, OOREDOO_NUMBER, "over TLS")
        wait_for(
            lambda: status_of(web_server, raw_key, message_id)["status"] == "delivered", timeout=20, what="delivered"
        )
        # Woken by the stream, not by its 15-minute polling: the proxy passed the event at once.
        assert time.monotonic() - started < 10
        assert phone.sent == [{"id": message_id, "body": "over TLS", "to": OOREDOO_NUMBER}]
        # The inbound URL the app is given is https:// too (the node trusts the proxy's
        # X-Forwarded-Proto, as TRUST_X_FORWARDED_PROTO=true does behind docker-compose's).
        [hook] = app.webhooks()
        assert re.fullmatch(rf"{re.escape(base)}/api/mobile/v1/inbound/\w+", hook["url"]), hook
    finally:
        phone.stop()
        wait_for(lambda: not Gateway.objects.filter(is_connected=True).exists(), what="offline")


class _FromAddress(requests.adapters.HTTPAdapter):
    """Connections from one loopback address: two clients on one machine, apart to Caddy."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def _client_at(address: str, ca: Path) -> requests.Session:
    session = requests.Session()
    session.mount("https://", _FromAddress(address))
    session.verify = str(ca)
    session.trust_env = False  # else a CA bundle named in the environment wins over ``verify``
    return session


def test_clients_behind_the_proxy_are_counted_apart(web_server, proxy, raw_key):
    base, ca = proxy
    guesser, operator = _client_at("127.0.0.2", ca), _client_at("127.0.0.3", ca)
    attempts = settings.ADMIN_LOGIN_ATTEMPTS  # the servers run with the default
    # The guesser tries a new user name each time (so that only its address is counted), and
    # claims to be someone else: Caddy replaces that header with the address it saw.
    answers = [
        guesser.post(
            f"{base}/admin/login/",
            data={"username": f"guess-{n}", "password": "x"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
            timeout=10,
        ).status_code
        for n in range(attempts + 1)
    ]
    assert 429 not in answers[:attempts] and answers[attempts] == 429, answers
    # The operator behind the same proxy is not locked out (its login form, then a real login).
    form = operator.get(f"{base}/admin/login/", timeout=10)
    assert form.status_code == 200
    # Hashed as the servers hash (the test settings' fast hasher is not in their list).
    hasher = PBKDF2PasswordHasher()
    User.objects.create_superuser("operator", "op@example.test", None)
    User.objects.filter(username="operator").update(password=hasher.encode("a-long-test-password", hasher.salt()))
    login = operator.post(
        f"{base}/admin/login/",
        data={
            "username": "operator",
            "password": "a-long-test-password",
            "csrfmiddlewaretoken": operator.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": f"{base}/admin/login/"},
        timeout=10,
    )
    assert login.status_code == 200 and login.url == f"{base}/admin/", (login.status_code, login.url)

    # The request log records each client's own address.
    sent = operator.post(
        f"{base}/api/v1/sms/send",
        json={"to": OOREDOO_NUMBER, "message": "from the operator's address"},
        headers={"Authorization": f"Bearer {raw_key}"},
        timeout=10,
    )
    assert sent.status_code == 202
    wait_for(lambda: ApiRequest.objects.filter(path="/api/v1/sms/send").exists(), what="the request logged")
    assert ApiRequest.objects.get(path="/api/v1/sms/send").client_ip == "127.0.0.3"

    # /metrics is not routed from outside, even from an address METRICS_ALLOWED_IPS would allow.
    outside = operator.get(f"{base}/metrics", timeout=10)
    assert outside.status_code == 404 and outside.json() == {"error": "Not found", "code": "not_found"}
    assert requests.get(f"{web_server.url}/metrics", timeout=10).status_code == 200
