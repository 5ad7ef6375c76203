"""With HTTPS=true, the API and the phones' routes refuse plain HTTP with a JSON 403 on both
servers production runs (granian, daphne), WebSocket handshakes included; a request our proxy
marks as HTTPS passes; the health checks answer either way."""

from __future__ import annotations

import pytest
import requests

from devtools.services import free_ports
from devtools.topology import http_server_args, phone_server_args

from .conftest import server_env, serving

pytestmark = pytest.mark.live
REFUSED = {"error": "HTTPS required: call this server at its https:// address", "code": "https_required"}


@pytest.fixture
def https_servers(transactional_db, tmp_path):
    http_port, phone_port = free_ports(2)
    env = {**server_env(), "HTTPS": "true", "TRUST_X_FORWARDED_PROTO": "true", "TRUSTED_PROXIES": "127.0.0.1/32"}
    with (
        serving(http_server_args(http_port), http_port, env, tmp_path / "granian.log"),
        serving(phone_server_args(phone_port), phone_port, env, tmp_path / "daphne.log"),
    ):
        yield f"http://127.0.0.1:{http_port}", f"http://127.0.0.1:{phone_port}"


def test_plain_http_is_refused_on_the_api_and_the_phones_routes(https_servers):
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    for base in https_servers:
        for method, path in [
            ("POST", "/api/v1/sms/send"),  # the edge's route (granian)
            ("GET", "/api/v1/sms"),
            ("GET", "/api/mobile/v1/events"),  # the app's event stream (daphne: Channels)
            ("PATCH", "/api/mobile/v1/device"),
        ]:
            answer = requests.request(method, base + path, headers={"Authorization": "Bearer api_live_x"}, timeout=10)
            assert (answer.status_code, answer.json()) == (403, REFUSED), (base, path)
            # Through our proxy over HTTPS: past the door (to the missing key's 401, or granian's
            # 404 for the event stream, which only the phone nodes serve).
            secure = requests.request(method, base + path, headers={"X-Forwarded-Proto": "https"}, timeout=10)
            assert secure.status_code in (401, 404) and secure.json()["code"] != "https_required", (base, path)
        assert requests.get(base + "/up", timeout=10).status_code == 200  # a load balancer's check
    ws = https_servers[1].replace("http://", "ws://") + "/ws/gateway/"
    with pytest.raises(InvalidStatus) as refused:
        connect(ws, additional_headers={"Authorization": "Bearer gw_live_x"}, open_timeout=10)
    assert refused.value.response.status_code == 403
    # Over (proxied) HTTPS the handshake reaches the consumer, which refuses the bad token itself.
    headers = {"Authorization": "Bearer gw_live_x", "X-Forwarded-Proto": "https"}
    with connect(ws, additional_headers=headers) as socket, pytest.raises(ConnectionClosed) as closed:
        socket.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
