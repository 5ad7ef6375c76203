"""The production topology for real: PostgreSQL, Redis, two web nodes, two Celery workers and
beat (devtools/topology.py), driven only from outside, over HTTP and WebSockets, as clients
and phones see it, with Celery processes that die started again as docker-compose's restart
policy does. Runs in the production pass (`make test-production`)."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from django.conf import settings

from devtools.services import new_workdir
from devtools.topology import Topology
from tests.conftest import GUIDE_NUMBER
from tests.live.helpers import Agent, wait_for

# Fast pacing and heartbeats, so that a fault and its recovery take seconds, not minutes.
TOPOLOGY_ENV = {
    "GATEWAY_RATE_WINDOW_SECONDS": "2",
    "GATEWAY_HEARTBEAT_SECONDS": "2",
    "GATEWAY_ONLINE_WINDOW_SECONDS": "10",
    "GATEWAY_ACK_TIMEOUT_SECONDS": "5",
    "WORKER_HEARTBEAT_SECONDS": "1",
    "READY_WORKER_MAX_AGE_SECONDS": "10",
    "SMS_RATE_LIMIT_PER_MINUTE": "1000",
    "DB_POOL_TIMEOUT": "3",
    "LOG_LEVEL": "INFO",
    "WEBHOOK_ALLOW_PRIVATE_URLS": "true",  # the test's receiver is on loopback
}

pytestmark = [
    pytest.mark.topology,
    pytest.mark.skipif(not settings.REDIS_URL, reason="runs in the production pass (make test-production)"),
]


@pytest.fixture(scope="package")
def topology() -> Iterator[Topology]:
    root = new_workdir("mysmsapio-topology-")
    stack = Topology(root=root, workers=2, extra_env=TOPOLOGY_ENV, durable=False).start()
    done = threading.Event()

    def supervise() -> None:  # production's restart policy (docker-compose.yml)
        while not done.wait(0.5):
            stack.restart_crashed()

    supervisor = threading.Thread(target=supervise, name="topology-supervisor", daemon=True)
    supervisor.start()
    try:
        for node in stack.web:
            wait_for(lambda node=node: node_ready(node.url), timeout=60, what=f"{node.name} ready")
        yield stack
    finally:
        done.set()
        supervisor.join()
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


def node_ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/ready", timeout=5).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="package")
def api_key(topology) -> str:
    return topology.manage("create_api_key", "--name", "fault tests", "--permissions", "send_sms").stdout.split()[-1]


@pytest.fixture
def phones(topology, tmp_path) -> Iterator[list[Agent]]:
    """Three phones: two prefer node 1, one node 2; each falls back to the other node."""
    a, b = (node.ws_url for node in topology.web)
    agents, names = [], []
    for index, servers in enumerate([[a, b], [a, b], [b, a]]):
        name = f"phone-{tmp_path.name[-12:]}-{index}"
        token = topology.manage("create_gateway", "--name", name, "--rate", "30").stdout.split()[-1]
        agents.append(Agent(tmp_path, name, token, servers).start())
        names.append(name)
    wait_for_phones_connected(topology, names)
    yield agents
    for agent in agents:
        agent.stop()


def wait_for_phones_connected(topology: Topology, names: list[str], *, timeout: float = 30) -> None:
    """Until the server has every named phone's socket (it could take work): not a sleep."""
    with psycopg.connect(topology.postgres.url(), autocommit=True) as db:

        def connected() -> int:
            query = "SELECT count(*) FROM gateways_gateway WHERE name = ANY(%s) AND is_connected"
            return db.execute(query, [names]).fetchone()[0]

        wait_for(
            lambda: connected() == len(names),
            timeout=timeout,
            what=lambda: f"{connected()}/{len(names)} phones connected",
        )


class Clients:
    """Client apps: post to a node, and when the answer is lost (the node is down or dies
    mid-request) retry on the other one with the same Idempotency-Key."""

    def __init__(self, topology: Topology, api_key: str) -> None:
        self.urls = [node.url for node in topology.web]
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.accepted: list[str] = []
        self.answers: list[tuple[int, dict]] = []

    def send(self, text: str, *, prefer: int = 0) -> int:
        urls = self.urls[prefer:] + self.urls[:prefer]
        headers = {**self.headers, "Idempotency-Key": uuid.uuid4().hex}
        for attempt in range(40):
            url = urls[attempt % len(urls)]
            try:
                response = requests.post(
                    f"{url}/api/v1/sms/send", json={"to": GUIDE_NUMBER, "message": text}, headers=headers, timeout=10
                )
            except requests.RequestException:
                continue  # no answer (the node is down, or died mid-request): the other one
            body = response.json()  # every answer is JSON, faults included
            self.answers.append((response.status_code, body))
            if response.status_code == 202:
                if body["message_id"] not in self.accepted:
                    self.accepted.append(body["message_id"])
                return 202
            if response.status_code != 503:
                return response.status_code
            time.sleep(0.25)
        return 0

    def status(self, message_id: str) -> str | None:
        for url in self.urls:
            try:
                response = requests.get(f"{url}/api/v1/sms/status/{message_id}", headers=self.headers, timeout=10)
            except requests.ConnectionError:
                continue
            if response.status_code == 200:
                return response.json()["status"]
        return None


def assert_delivered_exactly_once(clients: Clients, phones: list[Agent], *, timeout: float = 90) -> None:
    """Every accepted message delivered, and no message sent twice by any phone."""
    wait_for(
        lambda: all(clients.status(m) == "delivered" for m in clients.accepted),
        timeout=timeout,
        interval=0.5,
        what=lambda: _undelivered(clients),
    )
    jobs = [job for phone in phones for job in phone.sent()]
    sent = [job["id"] for job in jobs]
    assert len(sent) == len(set(sent)), "a message was sent twice"
    assert set(clients.accepted) <= set(sent)
    # And no client's message twice: retries carried an Idempotency-Key.
    texts = [job["body"] for job in jobs]
    assert len(texts) == len(set(texts)), "a client's message was sent twice"


def _undelivered(clients: Clients) -> str:
    states = {m: clients.status(m) for m in clients.accepted}
    return f"undelivered: {json.dumps({m: s for m, s in states.items() if s != 'delivered'})[:500]}"


def count_lines(path: Path, *needles: str) -> int:
    """Lines of a process's log holding every one of ``needles``."""
    if not path.exists():
        return 0
    return sum(all(n in line for n in needles) for line in path.read_text(errors="replace").splitlines())
