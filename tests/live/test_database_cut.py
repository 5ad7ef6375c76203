"""A phone's report that meets a database connection cut under it (as a PostgreSQL restart
cuts them all) is stored on the same socket: the phone server answers it "temporarily
unavailable, send again" (and replaces its pool's connections, so that the cut ones fail no
other call), and the agent sends it again within a second or two.

Before the agent sent such a report again only on its next connection, a delivered message
stayed "sent" for as long as the socket lived (the topology's database-restart test caught
it now and then). The connections cut are those of a phone server of this test's own, found
by the application name its libpq reports (PGAPPNAME), so the shared servers keep theirs.
"""

from __future__ import annotations

import pytest
import requests
from django.db import connection

from devtools.services import free_port
from devtools.topology import phone_server_args
from gateways.models import Gateway
from gateways.services import gateway_create
from messaging.models import Message, MessageStatus

from .conftest import server_env, serving
from .helpers import wait_for

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="cuts PostgreSQL connections"),
]
APPLICATION_NAME = "mysmsapio-cut-test"


def _cut_phone_server_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
            [APPLICATION_NAME],
        )
        return cursor.fetchone()[0]


def test_a_delivery_report_meeting_a_cut_database_connection_is_sent_again_and_stored(
    web_servers, agents, raw_key, tmp_path
):
    port = free_port()
    env = {**server_env(), "PGAPPNAME": APPLICATION_NAME}
    with serving(phone_server_args(port), port, env, tmp_path / "daphne.log"):
        phone = gateway_create(name="cut-phone")
        agent = agents("cut", phone.raw_token, [f"http://127.0.0.1:{port}"], deliver_delay=3).start()
        wait_for(lambda: Gateway.objects.get(pk=phone.gateway.pk).is_connected, timeout=20, what="phone online")
        sent = requests.post(
            f"{web_servers[0].url}/api/v1/sms/send",
            json={"to": "+959123456789", "message": "through a cut"},
            headers={"Authorization": f"Bearer {raw_key}"},
            timeout=30,
        )
        message = Message.objects.filter(pk=sent.json()["message_id"])
        wait_for(lambda: message.get().status == MessageStatus.SENT, timeout=20, what="the message sent")

        assert _cut_phone_server_connections() >= 1  # its pool's idle connections, dead unseen

        wait_for(lambda: message.get().status == MessageStatus.DELIVERED, timeout=30, what="the delivery stored")
        # The case this test is about did happen: the first try met a cut connection.
        assert "temporarily unavailable, send again" in agent.log.read_text()
        assert Gateway.objects.get(pk=phone.gateway.pk).is_connected  # on the same socket
        # That failure had the pool's connections replaced, so the cut ones fail nothing more:
        # before, each failed one call, and the last of them the phone's goodbye.
        agent.stop()
        wait_for(lambda: not Gateway.objects.get(pk=phone.gateway.pk).is_connected, timeout=20, what="the goodbye")
        assert "goodbye not recorded" not in (tmp_path / "daphne.log").read_text()
