"""An operator's ``manage.py revoke_gateway``, run as its own process, ends every connection
of that phone within a few seconds, in either mode, against a phone server run as shipped:
its app streams re-check their token only every 15 s, so only the close path can be in time.

Embedded mode: the command's close signal goes into its own memory (its channel layer reaches
no server); the server's scheduler sweep (``gateways.tasks.close_ended_connections``, every
2 s) repeats it. Production mode: the signal goes through Redis, and no sweep runs here (no
beat), so the test fails if that signal is lost.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from django.conf import settings

from devtools.services import free_port
from devtools.topology import phone_server_args
from gateways.models import Gateway, GatewayKind
from gateways.services import gateway_create
from tests.fake_app import FakeApp, http_transport

from .conftest import BASE_DIR, server_env, serving
from .helpers import wait_for

pytestmark = pytest.mark.live
CLOSED_WITHIN_SECONDS = 5


@pytest.fixture
def shipped_phone_server(transactional_db, tmp_path):
    """One daphne, as `make run` (embedded: its scheduler on) or a phone node (production) runs."""
    port = free_port()
    env = {
        **server_env(),
        "GATEWAY_APP_KEEPALIVE_SECONDS": "15",
        "EMBEDDED_SCHEDULER": "false" if settings.REDIS_URL else "true",
    }
    log = tmp_path / "daphne.log"
    with serving(phone_server_args(port), port, env, log):
        yield f"http://127.0.0.1:{port}", log


def _revoke_elsewhere(gateway_id: int) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "revoke_gateway", str(gateway_id)],
        cwd=BASE_DIR,
        env={**server_env(), "EMBEDDED_SCHEDULER": "false"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "Revoked gateway" in done.stdout, done.stderr


def test_a_revoke_from_another_process_ends_the_phones_connections_within_seconds(shipped_phone_server):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    base, log = shipped_phone_server
    agent = gateway_create(name="agent-phone")
    app_phone = gateway_create(name="app-phone", kind=GatewayKind.APP)
    app = FakeApp(http_transport(base))
    assert app.register(app_phone.raw_token).status == 201
    assert app.open_events(base).status_code == 200
    url = base.replace("http://", "ws://") + "/ws/gateway/"
    with connect(url, additional_headers={"Authorization": f"Bearer {agent.raw_token}"}) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
        wait_for(lambda: Gateway.objects.filter(is_connected=True).count() == 2, what="both phones connected")

        _revoke_elsewhere(app_phone.gateway.pk)
        _revoke_elsewhere(agent.gateway.pk)
        revoked_at = time.monotonic()
        # The app's stream ends cleanly (its last chunk sent), not by a reset or a crash.
        app.wait_event("closed", timeout=CLOSED_WITHIN_SECONDS)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=max(0.1, revoked_at + CLOSED_WITHIN_SECONDS - time.monotonic()))
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403, closed.value
        assert time.monotonic() - revoked_at < CLOSED_WITHIN_SECONDS
    assert app.start().status == 401
    assert "Exception inside application" not in log.read_text(errors="replace")
