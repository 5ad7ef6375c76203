"""The agent's own guarantees, without a server: its journal and its drivers."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agent import agent


def make_agent(tmp_path: Path, *extra: str) -> agent.Agent:
    args = agent.build_parser().parse_args(
        [
            "--server",
            "http://127.0.0.1:9",
            "--token",
            "gw_live_x",
            "--driver",
            "simulator",
            "--journal",
            str(tmp_path / "journal.sqlite3"),
            "--outbox",
            str(tmp_path / "outbox.jsonl"),
            *extra,
        ]
    )
    return agent.Agent(args)


JOB = {"type": "job", "message_id": "msg_1", "to": "+959123456789", "text": "hi", "sim_slot": None}


def test_server_urls_become_the_gateway_socket_url():
    assert agent.websocket_url("http://127.0.0.1:3005") == "ws://127.0.0.1:3005/ws/gateway/"
    assert agent.websocket_url("https://sms.example.test/") == "wss://sms.example.test/ws/gateway/"
    assert agent.websocket_url("ws://127.0.0.1:3005/ws/gateway/") == "ws://127.0.0.1:3005/ws/gateway/"


def test_a_job_is_accepted_once_and_sent_only_after_the_claim(tmp_path):
    gateway_agent = make_agent(tmp_path)
    sent_frames = []

    async def scenario():
        async def capture(frame):
            sent_frames.append(frame)

        gateway_agent.send_frame = capture
        await gateway_agent.on_frame(JOB)
        assert sent_frames == [{"type": "accept", "message_id": "msg_1"}]
        assert not (tmp_path / "outbox.jsonl").exists()  # nothing goes out before the claim
        await gateway_agent.send_sms("msg_1")
        await gateway_agent.send_sms("msg_1")  # a second claim confirmation changes nothing
        await gateway_agent.on_frame(JOB)  # nor does the same job pushed again

    asyncio.run(scenario())
    lines = (tmp_path / "outbox.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["msg_1"]
    assert gateway_agent.journal.job_state("msg_1") == "done"
    kinds = [r["type"] for r in gateway_agent.journal.unacked_reports()]
    assert kinds == ["sent", "delivered"]


def test_a_claim_refused_drops_the_job(tmp_path):
    gateway_agent = make_agent(tmp_path)

    async def scenario():
        gateway_agent.send_frame = lambda frame: asyncio.sleep(0)
        await gateway_agent.on_frame(JOB)
        await gateway_agent.on_frame({"type": "claim", "message_id": "msg_1", "ok": False})

    asyncio.run(scenario())
    assert gateway_agent.journal.job_state("msg_1") == "dropped"


def test_a_restart_never_resends_a_job_that_was_being_sent(tmp_path):
    first = make_agent(tmp_path)
    first.journal.add_job(JOB)
    first.journal.set_state("msg_1", "sending")  # the agent died with the radio busy

    restarted = make_agent(tmp_path)
    assert restarted.journal.job_state("msg_1") == "failed"
    (report,) = restarted.journal.unacked_reports()
    assert (report["type"], report["message_id"]) == ("failed", "msg_1")
    assert "outcome unknown" in report["error"]
    assert not (tmp_path / "outbox.jsonl").exists()


def test_a_restart_reports_a_send_the_simulator_did_complete(tmp_path):
    first = make_agent(tmp_path)
    first.journal.add_job(JOB)
    first.journal.set_state("msg_1", "sending")
    (tmp_path / "outbox.jsonl").write_text(json.dumps({"id": "msg_1"}) + "\n")

    restarted = make_agent(tmp_path)
    assert [r["type"] for r in restarted.journal.unacked_reports()] == ["sent"]
    assert restarted.journal.job_state("msg_1") == "sent"  # its delivery report follows on connection
    assert len((tmp_path / "outbox.jsonl").read_text().splitlines()) == 1


def test_reports_stay_in_the_journal_until_acked(tmp_path):
    gateway_agent = make_agent(tmp_path)
    gateway_agent.report("delivered", "msg_1")
    (report,) = make_agent(tmp_path).journal.unacked_reports()
    asyncio.run(gateway_agent.on_frame({"type": "ack", "id": report["id"]}))
    assert make_agent(tmp_path).journal.unacked_reports() == []


def test_a_report_the_server_could_not_store_goes_again_on_the_same_connection(tmp_path, monkeypatch):
    monkeypatch.setattr(agent, "REPORT_RETRY_SECONDS", 0.05)
    gateway_agent = make_agent(tmp_path)
    sent_frames = []
    unavailable = {"type": "error", "error": "temporarily unavailable, send again", "in_reply_to": "delivered"}

    async def scenario():
        async def capture(frame):
            sent_frames.append(frame)

        gateway_agent.send_frame = capture
        gateway_agent.ws = object()  # connected
        gateway_agent.report("delivered", "msg_1")
        await asyncio.sleep(0)
        (report,) = sent_frames
        await gateway_agent.on_frame(unavailable)
        await gateway_agent.on_frame(unavailable)  # errors in a row ask for one resend, not two
        await asyncio.sleep(0.2)
        assert sent_frames == [report, report]
        await gateway_agent.on_frame(unavailable)  # still failing: again, after up to twice as long
        assert gateway_agent.report_retry_delay == pytest.approx(0.2)  # the next wait, should it fail again
        await asyncio.sleep(0.2)
        assert sent_frames == [report, report, report]
        await gateway_agent.on_frame({"type": "ack", "id": report["id"]})
        assert gateway_agent.report_retry_delay == pytest.approx(0.05)
        await gateway_agent.on_frame(unavailable)  # about something else: nothing of ours is left
        await asyncio.sleep(0.2)
        assert sent_frames == [report, report, report]

    asyncio.run(scenario())
    assert gateway_agent.journal.unacked_reports() == []


def test_a_heartbeat_sends_again_the_reports_whose_answer_never_came(tmp_path):
    gateway_agent = make_agent(tmp_path)
    gateway_agent.report("sent", "msg_1")
    (old,) = gateway_agent.journal.unacked_reports()
    gateway_agent.journal.db.execute("UPDATE reports SET created = created - 60")
    gateway_agent.report("delivered", "msg_1")
    sent_frames = []

    async def scenario():
        async def capture(frame):
            sent_frames.append(frame)

        gateway_agent.send_frame = capture
        await gateway_agent.resend_reports(older_than=30)

    asyncio.run(scenario())
    assert sent_frames == [old]  # the fresh one may still have its answer on the way


def fake_termux(tmp_path: Path, monkeypatch, inbox: list[dict]) -> Path:
    """termux-sms-* stand-ins on PATH that record their arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.jsonl"
    scripts = {
        "termux-sms-send": f"import json,sys\ncall = {{'argv': sys.argv[1:], 'stdin': sys.stdin.read()}}\n"
        f"open({str(calls)!r},'a').write(json.dumps(call)+'\\n')\n"
        "sys.exit(1 if '+959000000000' in sys.argv else 0)\n",
        "termux-sms-list": f"import json\nprint(json.dumps({inbox!r}))\n",
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!{os.sys.executable}\n{body}")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return calls


def test_the_termux_driver_sends_with_the_sim_slot_and_reads_the_inbox(tmp_path, monkeypatch, utc_zone):
    inbox = [{"_id": 7, "number": "+959987654321", "body": "hello back", "received": "2025-10-22 10:30:00"}]
    calls = fake_termux(tmp_path, monkeypatch, inbox)
    args = agent.build_parser().parse_args(["--server", "http://127.0.0.1:9", "--token", "t", "--driver", "termux"])
    driver = agent.TermuxDriver(args)

    async def scenario():
        ok = await driver.send({"to": "+959123456789", "text": "hi ✓", "sim_slot": 1})
        failed = await driver.send({"to": "+959000000000", "text": "x", "sim_slot": None})
        first = await driver.poll_inbound()
        again = await driver.poll_inbound()
        return ok, failed, first, again

    ok, failed, first, again = asyncio.run(scenario())
    assert ok == (True, None, "")
    assert failed[0] is False and failed[1] == 1
    recorded = [json.loads(line) for line in calls.read_text().splitlines()]
    assert recorded[0] == {"argv": ["-n", "+959123456789", "-s", "1"], "stdin": "hi ✓"}
    assert recorded[1] == {"argv": ["-n", "+959000000000"], "stdin": "x"}
    assert first == [
        {
            "id": "termux-7",
            "from": "+959987654321",
            "text": "hello back",
            "sim_slot": None,
            "received_at": "2025-10-22T10:30:00Z",
        }
    ]  # the agent wrote the phone's local time in UTC (this test runs in UTC)
    assert again == []  # each SMS is forwarded once


def test_the_termux_driver_needs_termux_api(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    args = agent.build_parser().parse_args(["--server", "http://127.0.0.1:9", "--token", "t", "--driver", "termux"])
    with pytest.raises(SystemExit, match="termux-sms-send not found"):
        agent.TermuxDriver(args)


def _in_zone(monkeypatch, zone: str):
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def phone_zone(monkeypatch):
    """Run the agent in a zone six and a half hours ahead of UTC (Myanmar, the guide's)."""
    yield from _in_zone(monkeypatch, "Asia/Yangon")


@pytest.fixture
def utc_zone(monkeypatch):
    yield from _in_zone(monkeypatch, "UTC")


def test_termux_times_are_read_in_the_phones_zone_and_reported_in_utc(tmp_path, monkeypatch, phone_zone):
    inbox = [{"_id": 8, "number": "+959987654321", "body": "evening", "received": "2026-11-25 19:30:00"}]
    fake_termux(tmp_path, monkeypatch, inbox)
    args = agent.build_parser().parse_args(["--server", "http://127.0.0.1:9", "--token", "t", "--driver", "termux"])
    (sms,) = asyncio.run(agent.TermuxDriver(args).poll_inbound())
    assert sms["received_at"] == "2026-11-25T13:00:00Z"


def test_the_agents_files_default_to_its_home_under_var(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MYSMSAPIO_AGENT_HOME", raising=False)
    args = agent.build_parser().parse_args(["--server", "http://127.0.0.1:9", "--token", "t", "--driver", "simulator"])
    Path(args.home).mkdir(parents=True)
    gateway_agent = agent.Agent(args)
    asyncio.run(gateway_agent.driver.send({"message_id": "msg_1", "to": "+959123456789", "text": "hi"}))
    home = tmp_path / "var" / "agent"
    assert (home / "journal.sqlite3").exists() and (home / "outbox.jsonl").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["var"]


def test_pairing_saves_the_server_and_token_for_the_next_start(tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(agent.Agent, "run_forever", lambda self: started.append((self.servers, self.token)) or _done())
    monkeypatch.delenv("MYSMSAPIO_GATEWAY_TOKEN", raising=False)
    home = tmp_path / "agent-home"
    uri = "mysmsapio://pair?server=http%3A%2F%2F127.0.0.1%3A3005&token=gw_live_abc"
    assert agent.main(["--pair", uri, "--driver", "simulator", "--home", str(home)]) == 0
    saved = home / "agent.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text()) == {"servers": ["http://127.0.0.1:3005"], "token": "gw_live_abc"}
    # After a reboot: no server, no token on the command line.
    assert agent.main(["--driver", "simulator", "--home", str(home)]) == 0
    assert started[1] == (["ws://127.0.0.1:3005/ws/gateway/"], "gw_live_abc")


def test_agents_saving_their_pairing_at_once_in_one_home_each_write_a_whole_file(tmp_path):
    """Two agents started together in one home: one crashed at start when both wrote the
    same partial file (FileNotFoundError at its chmod, the other had renamed it)."""

    def save(index: int) -> None:
        for _ in range(200):
            agent.save_credentials(tmp_path, [f"http://127.0.0.1:{index}"], f"gw_live_{index}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(save, range(4)))  # re-raises any worker's error
    saved = json.loads((tmp_path / "agent.json").read_text())
    assert saved["token"] == f"gw_live_{saved['servers'][0].rsplit(':', 1)[1]}"
    assert stat.S_IMODE((tmp_path / "agent.json").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["agent.json"]  # no partial file left behind


def test_without_a_saved_pairing_the_agent_says_what_it_needs(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MYSMSAPIO_GATEWAY_TOKEN", raising=False)
    assert agent.main(["--driver", "simulator", "--home", str(tmp_path)]) == 2
    assert "a server is required" in capsys.readouterr().err


async def _done() -> None:
    return None


@pytest.mark.parametrize("text", ["-n+15551234567 hi", "-h", "--", "$(reboot)", "-s 1 text"])
def test_a_text_that_looks_like_options_is_sent_as_written_to_the_validated_number(tmp_path, monkeypatch, text):
    calls = fake_termux(tmp_path, monkeypatch, [])
    args = agent.build_parser().parse_args(["--server", "http://127.0.0.1:9", "--token", "t", "--driver", "termux"])
    ok = asyncio.run(agent.TermuxDriver(args).send({"to": "+959123456789", "text": text, "sim_slot": None}))
    assert ok == (True, None, "")
    (call,) = [json.loads(line) for line in calls.read_text().splitlines()]
    assert call == {"argv": ["-n", "+959123456789"], "stdin": text}


@pytest.mark.parametrize("to", ["-h", "+959123456789,+15551234567", "959123456789", "+95912345678901234", None])
def test_the_agent_refuses_a_recipient_that_is_not_e164_before_the_radio(tmp_path, monkeypatch, to):
    calls = fake_termux(tmp_path, monkeypatch, [])
    args = agent.build_parser().parse_args(["--server", "http://127.0.0.1:9", "--token", "t", "--driver", "termux"])
    ok, code, error = asyncio.run(agent.TermuxDriver(args).send({"to": to, "text": "hi", "sim_slot": None}))
    assert (ok, code) == (False, "invalid_number") and "E.164" in error
    assert not calls.exists()


def test_sms_received_before_the_phone_was_first_paired_are_never_uploaded(tmp_path, monkeypatch, utc_zone):
    sender = "+959987654321"
    inbox = [
        {"_id": 1, "number": sender, "body": "the owner's old SMS", "received": "2020-01-01 10:00:00"},
        {"_id": 2, "number": sender, "body": "for the gateway", "received": "2099-01-01 10:00:00"},
    ]
    fake_termux(tmp_path, monkeypatch, inbox)
    args = agent.build_parser().parse_args(
        ["--server", "http://127.0.0.1:9", "--token", "t", "--driver", "termux", "--home", str(tmp_path)]
    )
    gateway_agent = agent.Agent(args)
    first_paired = gateway_agent.journal.first_paired_at()
    assert [sms["text"] for sms in asyncio.run(gateway_agent.driver.poll_inbound())] == ["for the gateway"]
    # The first pairing is remembered across restarts, not moved forward by them.
    assert agent.Agent(args).journal.first_paired_at() == first_paired


def test_a_final_jobs_text_leaves_the_journal(tmp_path):
    gateway_agent = make_agent(tmp_path)
    otp_job = {**JOB, "text": "Your verification code is 482913."}
    gateway_agent.journal.add_job(otp_job)
    for state in ("sending", "sent"):
        gateway_agent.journal.set_state("msg_1", state)
        assert gateway_agent.journal.job("msg_1")["text"] == otp_job["text"]  # still needed
    gateway_agent.journal.set_state("msg_1", "done")
    assert "text" not in gateway_agent.journal.job("msg_1")
    gateway_agent.journal.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("journal.sqlite3*"))
    assert b"482913" not in on_disk


@pytest.mark.parametrize(
    ("asked", "kept"),
    [(30, 30.0), (5, 5.0), (12.5, 12.5), (4.9, 30.0), (0, 30.0), (-1, 30.0), ("1", 30.0), (None, 30.0), (True, 30.0)],
)
def test_a_heartbeat_interval_below_5_s_is_ignored(asked, kept):
    assert agent.heartbeat_interval(asked) == kept
