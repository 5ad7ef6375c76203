from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from standardwebhooks import Webhook

from devtools.services import free_ports, new_workdir
from devtools.topology import BASE_DIR, Topology, WebNode
from tests.live.helpers import wait_for
from tests.webhooks.test_webhooks import Receiver

from .conftest import Clients, assert_delivered_exactly_once, count_lines, node_ready, pytestmark  # noqa: F401


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class ProdLocal:
    """``make prod-local`` as a person runs it: its output read line by line as it comes."""

    def __init__(self, *args: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.prod_local", *args],
            cwd=BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True)
        self.reader.start()

    def wait_for_line(self, start: str, timeout: float = 120) -> str:
        def found():
            return next((line for line in list(self.lines) if line.startswith(start)), None)

        return wait_for(found, timeout=timeout, what=f"a line {start!r} in {self.lines}")

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        self.reader.join(timeout=10)
        assert self.proc.returncode == 0, "".join(self.lines)
        assert self.lines[-1].startswith("stopped")
        return "".join(self.lines)


def test_prod_local_says_ready_when_every_node_is_binds_its_host_and_keeps_ports_and_data_across_a_restart():
    """Bound to 127.0.0.2 (loopback, but not the default address), with the phones' ports
    following the HTTP ports; it says "ready" once both nodes' /ready answer 200, logs the
    probes that found it not yet ready as no ERROR; what a phone and a client hold (the
    phone ports, keys, messages) is there after a restart."""
    host, ports = "127.0.0.2", free_ports(2)
    args = ["--ports", *map(str, ports), "--host", host, "--root", str(new_workdir("mysmsapio-prod-local-"))]
    root = Path(args[-1])
    first = ProdLocal(*args)
    try:
        first.wait_for_line("ready ")
        for port in ports:
            assert requests.get(f"http://{host}:{port}/ready", timeout=5).status_code == 200
            assert not _listening(port)  # on the host asked for, not on 127.0.0.1
        phone_urls = [line.split("phones connect to ")[1].strip() for line in first.lines if "phones connect" in line]
        assert phone_urls == [f"http://{host}:{port + 100}" for port in ports]
        for url in phone_urls:
            with socket.socket() as sock:
                assert sock.connect_ex((host, int(url.rsplit(":", 1)[1]))) == 0
        env = {**os.environ, **dict(line.split("=", 1) for line in (root / "prod.env").read_text().split())}
        command = [sys.executable, "manage.py", "create_api_key", "--name", "rehearsal"]
        raw_key = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True)
        key = {"Authorization": f"Bearer {raw_key.stdout.split()[-1]}"}
        sent = requests.post(
            f"http://{host}:{ports[0]}/api/v1/sms/send",
            json={"to": "+959123456789", "message": "kept"},
            headers=key,
            timeout=10,
        )
        assert sent.status_code == 202, sent.text
    finally:
        first.stop()
    logs = "".join(path.read_text() for path in root.glob("web-*-http.log"))
    assert '"level": "ERROR"' not in logs and "Service Unavailable" not in logs

    second = ProdLocal(*args)
    try:
        second.wait_for_line("ready ")
        assert [line for line in second.lines if "phones connect" in line] == [
            line for line in first.lines if "phones connect" in line
        ]
        status = requests.get(
            f"http://{host}:{ports[1]}/api/v1/sms/status/{sent.json()['message_id']}", headers=key, timeout=10
        )
        assert status.status_code == 200 and status.json()["status"] == "pending"
    finally:
        second.stop()
    shutil.rmtree(root, ignore_errors=True)
    assert not any(_listening(port) for port in ports)


def test_a_topology_that_fails_to_start_leaves_nothing_running(monkeypatch):
    """A web node that never listens (a fresh-clone CI run: "Address already in use") fails
    the start; the servers already started are stopped, not left holding ports and CPU for the
    rest of the run."""

    def never_listening(node) -> None:
        raise RuntimeError(f"{node.name}: process exited with 1 before listening")

    monkeypatch.setattr(WebNode, "wait_until_listening", never_listening)
    root = new_workdir("mysmsapio-topology-failed-")
    topology = Topology(root=root, workers=1)
    with pytest.raises(RuntimeError, match="before listening"):
        topology.start()
    started = [process.proc for node in topology.web for process in (node.http, node.ws)]
    started += [process.proc for process in topology.celery_processes()]
    assert len(started) == 6 and all(proc.poll() is not None for proc in started)  # 2 nodes, worker, beat
    assert topology.postgres.proc is None and topology.redis.proc is None
    shutil.rmtree(root, ignore_errors=True)


def test_every_node_is_ready_with_its_workers_and_beat(topology):
    for node in topology.web:
        body = requests.get(f"{node.url}/ready", timeout=5).json()
        assert body["status"] == "ready", body


def test_periodic_tasks_run_once_per_schedule_however_many_workers(topology):
    """Beat puts each due task on the queue once; exactly one of the two workers runs it."""
    time.sleep(6)  # a few heartbeats: one a second in this topology
    sent = count_lines(topology.beat_proc.log_path, "Sending due task worker-heartbeat")
    time.sleep(1.5)  # the last one sent has run by now
    runs = [count_lines(w.log_path, "core.tasks.worker_heartbeat[", "succeeded") for w in topology.worker_procs]
    assert sent >= 5
    # Each one sent ran once (the next may already have been sent and run meanwhile).
    assert sent <= sum(runs) <= sent + 2, (sent, runs)
    # Two workers were consuming the queue all along: a run twice would have shown above.
    assert all(count_lines(w.log_path, "ready.") for w in topology.worker_procs)
    assert all(w.running() for w in topology.worker_procs)


def test_a_killed_web_node_loses_nothing_and_sends_nothing_twice(topology, api_key, phones):
    clients = Clients(topology, api_key)
    for index in range(20):
        assert clients.send(f"before the crash {index}", prefer=index % 2) == 202
    topology.web[0].kill()  # SIGKILL: no goodbye to the phones or the clients
    for index in range(40):
        assert clients.send(f"after the crash {index}", prefer=index % 2) == 202
    try:
        assert_delivered_exactly_once(clients, phones)
        assert len(clients.accepted) == 60
    finally:
        topology.restart_web(0)
        wait_for(lambda: node_ready(topology.web[0].url), timeout=60, what="node 1 ready again")


def test_a_redis_restart_under_traffic_is_survived(topology, api_key, phones):
    """Redis carries signals, never the only copy: while it is down the API answers 202 or a
    JSON 503, never a 500; when it is back, everything recovers by itself."""
    clients = Clients(topology, api_key)
    for index in range(10):
        assert clients.send(f"before Redis stops {index}", prefer=index % 2) == 202
    redis = topology.redis
    port = redis.port
    redis.proc.kill()  # no clean shutdown
    redis.proc.wait()
    outage_answers = []
    for index in range(10):
        outage_answers.append(_post_once(topology.web[index % 2].url, api_key, f"while Redis is down {index}"))
    for status, body in outage_answers:
        assert status in (202, 503), (status, body)
        if status == 503:
            assert set(body) >= {"error", "code"}
        else:
            clients.accepted.append(body["message_id"])
    redis.port = port
    redis.start()
    for node in topology.web:
        wait_for(lambda node=node: node_ready(node.url), timeout=60, what=f"{node.name} ready after Redis returned")
    for index in range(10):
        assert clients.send(f"after Redis returned {index}", prefer=index % 2) == 202
    assert_delivered_exactly_once(clients, phones)


def test_a_stopped_database_gives_json_503s_and_recovery_is_automatic(topology, api_key, phones):
    clients = Clients(topology, api_key)
    for index in range(5):
        assert clients.send(f"before the database stops {index}", prefer=index % 2) == 202
    assert_delivered_exactly_once(clients, phones)
    topology.postgres.stop()
    try:
        for node in topology.web:
            up = requests.get(f"{node.url}/up", timeout=15)
            assert (up.status_code, up.json()["code"]) == (503, "database_unavailable")
            status, body = _post_once(node.url, api_key, "while the database is down")
            assert status == 503 and {"error", "code"} <= set(body), (status, body)
    finally:
        topology.postgres.start()
    for node in topology.web:
        wait_for(lambda node=node: node_ready(node.url), timeout=60, what=f"{node.name} ready again")
    for index in range(5):
        assert clients.send(f"after the database returned {index}", prefer=index % 2) == 202
    assert_delivered_exactly_once(clients, phones)


def _post_once(url: str, api_key: str, text: str) -> tuple[int, dict]:
    response = requests.post(
        f"{url}/api/v1/sms/send",
        json={"to": "+959123456789", "message": text},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    return response.status_code, response.json()  # JSON whatever happened


def test_a_worker_killed_mid_task_runs_it_again_harmlessly(topology):
    """acks_late + reject_on_worker_lost: the task a killed worker process was running goes
    back on the queue and runs again; the task re-checks state, so the work happens once."""
    import psutil
    import psycopg
    from celery import Celery

    # An account with no phone: its message stays pending whatever an earlier test's phones
    # (the default account's, perhaps not yet marked offline) are doing.
    lonely = topology.manage(
        "create_api_key", "--name", "lonely", "--permissions", "send_sms", "--account", f"lonely-{time.time_ns()}"
    ).stdout.split()[-1]
    clients = Clients(topology, lonely)
    assert clients.send("nobody will take this one") == 202  # no phone of its account: pending
    message_id = clients.accepted[-1]
    database = topology.postgres.url()
    with psycopg.connect(database, autocommit=True) as db:
        db.execute("UPDATE messaging_message SET expires_at = now() - interval '1 second' WHERE id = %s", [message_id])
    with psycopg.connect(database) as lock:
        # Hold the row, so that the expiry task blocks mid-way on its conditional UPDATE.
        lock.execute("SELECT 1 FROM messaging_message WHERE id = %s FOR UPDATE", [message_id])
        task_id = Celery(broker=topology.redis.url()).send_task("messaging.tasks.expire_messages").id
        with psycopg.connect(database, autocommit=True) as db:
            wait_for(
                lambda: (
                    db.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND query LIKE 'UPDATE %%messaging_message%%'"
                    ).fetchone()[0]
                    >= 1  # this task, or beat's own run of it as well
                ),
                timeout=30,
                what="the expiry task blocked on the row",
            )
        children = [c for w in topology.worker_procs for c in psutil.Process(w.proc.pid).children()]
        for child in children:
            child.kill()  # the pool process running the task dies mid-task
        lock.rollback()

    def ran_again() -> bool:
        logs = "".join(w.log() for w in topology.worker_procs)
        return logs.count(f"expire_messages[{task_id}] succeeded") == 1 and "WorkerLostError" in logs

    wait_for(ran_again, timeout=60, what="the killed task run again")
    with psycopg.connect(database) as db:
        status, error = db.execute(
            "SELECT status, error_message FROM messaging_message WHERE id = %s", [message_id]
        ).fetchone()
        events = db.execute("SELECT event FROM messaging_messageevent WHERE message_id = %s", [message_id]).fetchall()
    assert (status, error) == ("failed", "Expired: no gateway available")
    assert events == [("expired",)]  # once, though the task ran twice
    assert all(w.running() for w in topology.worker_procs)  # the workers replaced their pool processes


def test_webhooks_arrive_at_least_once_across_a_killed_web_node_and_a_failing_receiver(topology, api_key, phones):
    """The outbox row is committed with the change; the web node that committed it dies with
    its kicks; the receiver fails twice first. Every event still arrives, signed, and its
    retries carry the same webhook-id."""
    receiver = Receiver()
    receiver.script = [500, 500]
    try:
        # The phones serve the default account: the endpoint is its, and other tests' messages
        # may be told too; only this test's count.
        secret = topology.manage("create_webhook", "--url", receiver.url, "--events", "message.delivered").stdout
        secret = secret.split()[-1]
        clients = Clients(topology, api_key)
        for index in range(10):
            assert clients.send(f"hooked {index}", prefer=index % 2) == 202
        topology.web[0].kill()  # with whatever it committed and had not yet handed to a worker
        try:
            assert_delivered_exactly_once(clients, phones)
            mine = set(clients.accepted)

            def told(*, answered_ok: bool = False) -> list[tuple[str, str]]:
                tries = [
                    (Webhook(secret).verify(body, headers), headers, status)
                    for (headers, body), status in zip(receiver.received, receiver.answered, strict=False)
                ]
                return [
                    (p["data"]["message_id"], h["webhook-id"])
                    for p, h, status in tries
                    if p["data"]["message_id"] in mine and (status == 200 or not answered_ok)
                ]

            wait_for(
                lambda: {message for message, _ in told(answered_ok=True)} == mine,
                timeout=60,
                what="every delivery told",
            )
            webhook_ids = {message: set() for message in mine}
            for message, webhook_id in told():
                webhook_ids[message].add(webhook_id)
            assert all(len(ids) == 1 for ids in webhook_ids.values())  # one id per event, on every try
            assert len(receiver.received) >= len(mine) + 2  # the two failures were tried again
        finally:
            topology.restart_web(0)
            wait_for(lambda: node_ready(topology.web[0].url), timeout=60, what="node 1 ready again")
    finally:
        receiver.server.shutdown()


def test_a_test_mode_key_is_served_by_the_workers_and_never_by_a_phone(topology, phones):
    """Production's own schedule (Celery beat, workers) moves a test key's messages to
    delivered, and the phones online meanwhile send none of them."""
    test_key = topology.manage("create_api_key", "--name", "CI", "--permissions", "send_sms", "--test")
    clients = Clients(topology, test_key.stdout.split()[-1])
    for index in range(4):  # the phones are connected (the fixture waits): they could take work
        assert clients.send(f"test mode {index}", prefer=index % 2) == 202
    assert len(clients.accepted) == 4  # else the waits below would hold for no message at all
    wait_for(
        lambda: all(clients.status(m) == "delivered" for m in clients.accepted),
        timeout=60,
        what=lambda: f"test messages delivered; now {[clients.status(m) for m in clients.accepted]}",
    )
    sent_by_phones = {line["id"] for phone in phones for line in phone.sent()}
    assert sent_by_phones.isdisjoint(clients.accepted)


def test_a_crashed_worker_is_started_again_and_the_nodes_stay_ready(topology):
    """A Celery worker can die on a broker outage (kombu 5.7, a task in flight when Redis goes):
    the restart policy starts it again, and the nodes' readiness (which needs a worker's
    heartbeat) comes back by itself."""
    worker = topology.worker_procs[0]
    crashed = worker.proc
    os.killpg(crashed.pid, signal.SIGKILL)  # the main process and its pool, no goodbye
    crashed.wait()
    wait_for(lambda: worker.proc is not crashed and worker.running(), timeout=30, what="the worker started again")
    wait_for(lambda: worker.log().count("ready.") >= 2, timeout=60, what="the new worker ready")  # its log appends
    for node in topology.web:
        wait_for(lambda node=node: node_ready(node.url), timeout=60, what=f"{node.name} ready")
