"""The gateway protocol, driven through mysmsapio.asgi.application."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import channels.consumer
import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import OperationalError

from accounts.services import account_get_or_create
from gateways import dispatch, services
from gateways.models import Gateway, GatewayEvent, GatewayEventType
from gateways.services import gateway_revoke, gateway_roll_token, gateway_set_enabled
from messaging.models import InboundSms, Message, MessageEvent
from tests.conftest import message_send_now
from tests.gateways.conftest import connect_phone, open_socket, phone_with_a_job, refresh, settle

pytestmark = pytest.mark.django_db(transaction=True)


def database_down(**kwargs):
    """A service called while the database restarts."""
    raise OperationalError("terminating connection due to administrator command")


class DatabaseLooks:
    """The consumers' looks at the database for jobs (``dispatch_take_jobs``), counted, so a
    test waits for the look itself rather than for a time; ``before_first`` runs just before
    the first one (a message committed while the phone connects)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.before_first: Callable[[], object] | None = None
        take_jobs = dispatch.dispatch_take_jobs

        def counted(**kwargs):
            if self.count == 0 and self.before_first is not None:
                self.before_first()
            self.count += 1
            return take_jobs(**kwargs)

        monkeypatch.setattr(dispatch, "dispatch_take_jobs", counted)

    async def past(self, count: int) -> int:
        for _ in range(100):
            if self.count > count:
                return self.count
            await settle(0.05)
        raise AssertionError(f"no database read past {count}")


@pytest.fixture
def looks(monkeypatch) -> DatabaseLooks:
    return DatabaseLooks(monkeypatch)


@pytest.mark.parametrize("token", [None, "", "gw_live_wrong", "gw_live_" + "a" * 40, "api_live_" + "a" * 40], ids=str)
def test_a_bad_token_is_refused_with_4401(run, make_phone, token):
    make_phone()

    async def scenario():
        communicator, connected = await open_socket(token=token)
        assert connected  # accepted, then closed, so the phone sees the code
        closed = await communicator.receive_output(timeout=3)
        assert closed == {"type": "websocket.close", "code": 4401}

    run(scenario)
    assert not Gateway.objects.get().is_connected


def test_a_revoked_token_is_refused(run, make_phone):
    phone = make_phone()
    gateway_revoke(gateway=phone.gateway)

    async def scenario():
        communicator, _ = await open_socket(token=phone.raw_token)
        assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}

    run(scenario)


@pytest.mark.parametrize("cut_off", [gateway_revoke, gateway_roll_token], ids=["revoked", "token-rolled"])
def test_revoking_a_connected_phone_or_rolling_its_token_closes_its_socket(run, make_phone, cut_off):
    phone = make_phone()

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        await database_sync_to_async(cut_off)(gateway=phone.gateway)
        assert await socket.ws.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}

    run(scenario)


def test_a_socket_opened_with_a_rolled_token_gets_no_more_jobs_even_if_the_close_is_lost(
    run, make_phone, create_sms, monkeypatch, looks
):
    phone = make_phone()
    monkeypatch.setattr("gateways.services.gateway_signal", lambda **kwargs: None)  # the close signal is lost

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        await looks.past(0)  # its first look at the database left it room to push from a wake
        await database_sync_to_async(gateway_roll_token)(gateway=phone.gateway)
        gateway = await database_sync_to_async(Gateway.objects.get)(pk=phone.gateway.pk)
        assert not gateway.is_online  # offline with its token, not when the close comes through
        message = await create_sms()
        assert message.gateway_id is None  # so nothing new is queued on it: pending for another phone
        assert await socket.nothing_more()
        # Its next heartbeat finds the token rolled: the socket closes as if the signal had come.
        await socket.send({"type": "heartbeat"})
        assert await socket.ws.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}
        assert (await refresh(message)).pushed_at is None

    run(scenario)
    # Offline once, at the roll: the socket's own goodbye afterwards finds another connection.
    went_offline = GatewayEvent.objects.filter(gateway_id=phone.gateway.pk, event=GatewayEventType.DISCONNECTED)
    assert list(went_offline.values_list("detail", flat=True)) == ["token rolled"]


@pytest.mark.parametrize("frame", ["accept", "sent", "delivered", "failed", "inbound"])
def test_a_rolled_tokens_socket_is_refused_at_its_next_frame_if_the_close_is_lost(
    run, make_phone, create_sms, monkeypatch, frame
):
    """Not at its next heartbeat: meanwhile it claimed pushed jobs and stored inbound SMS."""
    phone = make_phone()
    monkeypatch.setattr("gateways.services.gateway_signal", lambda **kwargs: None)  # the close signal is lost

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        message = await create_sms(gateway_id=phone.gateway.pk)
        await database_sync_to_async(gateway_roll_token)(gateway=phone.gateway)
        content = {"type": frame, "id": "r1", "message_id": message.pk, "from": "+959441234567", "text": "hi"}
        await socket.send(content)
        closed = await socket.ws.receive_output(timeout=3)
        while closed.get("type") != "websocket.close":  # the job frame pushed before the roll
            closed = await socket.ws.receive_output(timeout=3)
        assert closed == {"type": "websocket.close", "code": 4403}
        assert (await refresh(message)).status == "queued"

    run(scenario)
    assert not InboundSms.objects.exists()


def test_a_revoked_phone_whose_close_is_lost_is_closed_at_its_next_heartbeat(run, make_phone, monkeypatch):
    phone = make_phone()
    monkeypatch.setattr("gateways.services.gateway_signal", lambda **kwargs: None)

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        await socket.send({"type": "heartbeat"})
        assert await socket.nothing_more()  # a heartbeat of a valid token changes nothing
        await database_sync_to_async(gateway_revoke)(gateway=phone.gateway)
        await socket.send({"type": "heartbeat"})
        assert await socket.ws.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}

    run(scenario)


def test_a_newer_socket_of_the_same_phone_does_not_close_the_older_one_at_its_heartbeat(run, make_phone):
    """Only a rolled or revoked token closes a socket from its heartbeat: a phone that opened a
    second socket (a reconnect that overtook the old socket's goodbye) is not told it is revoked."""
    phone = make_phone()

    async def scenario():
        old = await connect_phone(phone.raw_token)
        new = await connect_phone(phone.raw_token)
        await old.send({"type": "heartbeat"})
        assert await old.nothing_more()
        await new.close()
        await old.close()

    run(scenario)


def test_a_disabled_phone_cannot_report_inbound_sms(run, make_phone):
    phone = make_phone()

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        await database_sync_to_async(gateway_set_enabled)(gateway_ids=[phone.gateway.pk], enabled=False)
        await socket.send({"type": "inbound", "id": "sms-1", "from": "+959987654321", "text": "hi"})
        ack = await socket.recv_type("ack")
        await socket.close()
        return ack

    ack = run(scenario)
    assert ack["rejected"] == "this gateway is disabled: its inbound SMS are not accepted"
    assert not InboundSms.objects.exists()


def test_the_token_may_come_in_the_query_string(run, make_phone):
    phone = make_phone()

    async def scenario():
        communicator, _ = await open_socket(query_token=phone.raw_token)
        assert (await communicator.receive_json_from())["type"] == "welcome"
        await communicator.disconnect()

    run(scenario)


def test_connect_hello_and_heartbeat_make_the_phone_online_with_its_device_facts(run, make_phone):
    phone = make_phone(name="pixel")

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        await socket.send(
            {
                "type": "hello",
                "protocol": 1,
                "device": {
                    "model": "Pixel 7",
                    "app_version": "1.0",
                    "battery": 80,
                    "charging": False,
                    "signal": 3,
                    "sims": [{"slot": 0, "carrier": "MPT", "number": "+959450000000"}],
                },
            }
        )
        await socket.send({"type": "heartbeat", "battery": 79, "charging": True, "signal": 4})
        await settle(0.2)
        gateway = await database_sync_to_async(Gateway.objects.get)(pk=phone.gateway.pk)
        assert gateway.is_online
        assert (gateway.device_model, gateway.battery, gateway.charging, gateway.signal) == ("Pixel 7", 79, True, 4)
        assert gateway.sims == [{"slot": 0, "carrier": "MPT", "number": "+959450000000"}]
        assert gateway.protocol_version == 1
        await socket.close()
        await settle(0.2)
        gateway = await database_sync_to_async(Gateway.objects.get)(pk=phone.gateway.pk)
        assert not gateway.is_online

    run(scenario)
    assert list(GatewayEvent.objects.order_by("created_at").values_list("event", flat=True)) == [
        "connected",
        "disconnected",
    ]


def test_a_job_is_sent_only_after_the_server_confirms_the_claim_then_reports_close_it(run, make_phone, create_sms):
    phone = make_phone()

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        message = await create_sms(text="Hello ✓ မင်္ဂလာပါ")
        (job,) = await socket.jobs(1)
        assert job == {
            "type": "job",
            "message_id": message.pk,
            "to": "+959123456789",
            "text": "Hello ✓ မင်္ဂလာပါ",
            "sim_slot": None,
            "priority": "normal",
            "expires_at": message.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        assert (await refresh(message)).status == "queued"

        await socket.send({"type": "accept", "message_id": message.pk})
        assert await socket.recv_type("claim") == {"type": "claim", "message_id": message.pk, "ok": True}
        sent = await refresh(message)
        assert sent.status == "sent" and sent.sent_at is not None

        await socket.send({"type": "sent", "id": "r1", "message_id": message.pk})
        assert await socket.recv_type("ack") == {"type": "ack", "id": "r1"}
        await socket.send({"type": "delivered", "id": "r2", "message_id": message.pk})
        assert await socket.recv_type("ack") == {"type": "ack", "id": "r2"}
        delivered = await refresh(message)
        assert delivered.status == "delivered" and delivered.delivered_at is not None

        # A report resent after a lost ack is acked again and changes nothing.
        await socket.send({"type": "delivered", "id": "r2", "message_id": message.pk})
        assert await socket.recv_type("ack") == {"type": "ack", "id": "r2"}
        assert (await refresh(message)).delivered_at == delivered.delivered_at
        await socket.close()

    run(scenario)
    events = list(MessageEvent.objects.order_by("pk").values_list("event", flat=True))
    assert events == ["pushed", "sent", "radio_sent", "delivered"]


def test_a_phone_reporting_another_phones_message_changes_nothing(run, make_phone, create_sms):
    owner, other = make_phone("owner"), make_phone("other")

    async def scenario():
        message = await create_sms(gateway_id=owner.gateway.pk)
        socket = await connect_phone(other.raw_token)
        for report in ("sent", "delivered"):  # acked, so that the phone drops them
            await socket.send({"type": report, "id": f"r-{report}", "message_id": message.pk})
            assert await socket.recv_type("ack") == {"type": "ack", "id": f"r-{report}"}
        await socket.close()
        return message

    message = run(scenario)
    assert Message.objects.get(pk=message.pk).status == "queued"
    assert not MessageEvent.objects.filter(message_id=message.pk).exclude(event="pushed").exists()


def test_a_failure_report_fails_the_message_with_androids_error(run, make_phone, create_sms):
    phone = make_phone()

    async def scenario():
        socket, message = await phone_with_a_job(phone.raw_token, create_sms)
        await socket.send({"type": "accept", "message_id": message.pk})
        await socket.recv_type("claim")
        await socket.send(
            {
                "type": "failed",
                "id": "f1",
                "message_id": message.pk,
                "error_code": 4,
                "error": "RESULT_ERROR_NO_SERVICE",
            }
        )
        await socket.recv_type("ack")
        failed = await refresh(message)
        assert (failed.status, failed.error_message) == ("failed", "RESULT_ERROR_NO_SERVICE (code 4)")
        await socket.close()

    run(scenario)


def test_only_one_phone_can_claim_a_message(run, make_phone, create_sms):
    first, second = make_phone(name="a"), make_phone(name="b")

    async def scenario():
        phone_a, message = await phone_with_a_job(first.raw_token, create_sms, gateway_id=first.gateway.pk)
        phone_b = await connect_phone(second.raw_token)
        await phone_b.send({"type": "accept", "message_id": message.pk})
        assert await phone_b.recv_type("claim") == {"type": "claim", "message_id": message.pk, "ok": False}
        await phone_a.send({"type": "accept", "message_id": message.pk})
        assert (await phone_a.recv_type("claim"))["ok"] is True
        # Asking again after a lost answer: yes again (the phone's journal prevents a resend).
        await phone_a.send({"type": "accept", "message_id": message.pk})
        assert (await phone_a.recv_type("claim"))["ok"] is True
        await phone_a.close()
        await phone_b.close()

    run(scenario)


def test_pending_messages_go_out_when_the_first_phone_connects(run, make_phone, create_sms):
    phone = make_phone()

    async def scenario():
        waiting = [await create_sms(text=f"#{i}") for i in range(3)]
        assert {(await refresh(m)).status for m in waiting} == {"pending"}
        socket = await connect_phone(phone.raw_token)
        jobs = await socket.jobs(3)
        assert [j["message_id"] for j in jobs] == [m.pk for m in waiting]
        await socket.close()

    run(scenario)


def test_a_phone_that_goes_away_before_accepting_loses_its_jobs_to_another_phone(run, make_phone, create_sms):
    first, second = make_phone(name="a"), make_phone(name="b")

    async def scenario():
        phone_a, message = await phone_with_a_job(first.raw_token, create_sms)
        phone_b = await connect_phone(second.raw_token)
        await phone_a.close()  # cut after the push, before the accept
        (job_b,) = await phone_b.jobs(1)
        assert job_b["message_id"] == message.pk
        moved = await refresh(message)
        assert (moved.status, moved.gateway_id) == ("queued", second.gateway.pk)
        await phone_b.send({"type": "accept", "message_id": message.pk})
        assert (await phone_b.recv_type("claim"))["ok"] is True
        await phone_b.close()

    run(scenario)


def test_a_phone_that_goes_away_after_claiming_keeps_the_job_and_reports_on_return(run, make_phone, create_sms):
    first, second = make_phone(name="a"), make_phone(name="b")

    async def scenario():
        phone_a, message = await phone_with_a_job(first.raw_token, create_sms, gateway_id=first.gateway.pk)
        await phone_a.send({"type": "accept", "message_id": message.pk})
        await phone_a.recv_type("claim")
        phone_b = await connect_phone(second.raw_token)
        await phone_a.close()
        assert await phone_b.nothing_more()  # the claimed job is not offered to anyone else
        assert (await refresh(message)).status == "sent"
        phone_a = await connect_phone(first.raw_token)
        await phone_a.send({"type": "delivered", "id": "late", "message_id": message.pk})
        await phone_a.recv_type("ack")
        assert (await refresh(message)).status == "delivered"
        await phone_a.close()
        await phone_b.close()

    run(scenario)


def test_a_reconnecting_phone_is_offered_its_unaccepted_jobs_again(run, make_phone, create_sms):
    phone = make_phone()

    async def scenario():
        socket, message = await phone_with_a_job(phone.raw_token, create_sms)
        await socket.close()
        socket = await connect_phone(phone.raw_token)
        (job,) = await socket.jobs(1)
        assert job["message_id"] == message.pk
        await socket.close()

    run(scenario)


def test_pacing_holds_a_phone_to_its_rate_and_otps_jump_the_queue(run, make_phone, create_sms, settings):
    settings.GATEWAY_RATE_WINDOW_SECONDS = 1.0
    phone = make_phone(rate_per_minute=2)

    async def scenario():
        ordinary = [await create_sms(text=f"#{i}") for i in range(4)]
        otp = await create_sms(text="code", priority=10)
        socket = await connect_phone(phone.raw_token)
        first_window = await socket.jobs(2)
        assert first_window[0]["message_id"] == otp.pk and first_window[0]["priority"] == "otp"
        assert first_window[1]["message_id"] == ordinary[0].pk
        assert await socket.nothing_more(0.5)
        second_window = await socket.jobs(2, timeout=2)
        assert [j["message_id"] for j in second_window] == [m.pk for m in ordinary[1:3]]
        await socket.close()

    run(scenario)


def test_inbound_sms_are_stored_once(run, make_phone):
    phone = make_phone()

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        frame = {
            "type": "inbound",
            "id": "sms-7",
            "from": "+959987654321",
            "text": "STOP ✋",
            "sim_slot": 1,
            "received_at": "2025-10-22T10:30:00Z",
        }
        for _ in range(2):
            await socket.send(frame)
            assert await socket.recv_type("ack") == {"type": "ack", "id": "sms-7"}
        await socket.close()

    run(scenario)
    sms = InboundSms.objects.get()
    assert (sms.sender, sms.body, sms.sim_slot, sms.gateway_id) == ("+959987654321", "STOP ✋", 1, phone.gateway.pk)
    assert sms.received_at.isoformat() == "2025-10-22T10:30:00+00:00"


@pytest.mark.parametrize("received_at", ["2025-10-22 10:30:00", "2025-10-22T10:30:00", "yesterday", 1761129000])
def test_an_inbound_time_without_a_zone_is_refused_and_nothing_is_stored(run, make_phone, received_at):
    phone = make_phone()

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        await socket.send(
            {"type": "inbound", "id": "sms-8", "from": "+959987654321", "text": "hi", "received_at": received_at}
        )
        ack = await socket.recv_type("ack")
        await socket.close()
        return ack

    # Refused for good: acknowledged as rejected, with the reason, so the phone stops resending.
    ack = run(scenario)
    assert ack["id"] == "sms-8"
    assert ack["rejected"].startswith("'received_at' must be an ISO 8601 time with a zone")
    assert not InboundSms.objects.exists()


def test_a_report_naming_no_message_is_acknowledged_as_rejected_and_the_socket_stays(run, make_phone):
    phone = make_phone()

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        await socket.send({"type": "sent", "id": "r-1"})
        rejected = await socket.recv_type("ack")
        await socket.send({"type": "heartbeat", "battery": 50})
        await socket.send({"type": "inbound", "id": "sms-9", "from": "+9599\u0000", "text": "nul \u0000 \ud83d x"})
        stored = await socket.recv_type("ack")
        await socket.close()
        return rejected, stored

    rejected, stored = run(scenario)
    assert rejected == {"type": "ack", "id": "r-1", "rejected": "'message_id' must be a non-empty string"}
    assert stored == {"type": "ack", "id": "sms-9"}
    sms = InboundSms.objects.get()
    assert "\x00" not in sms.body + sms.sender and sms.body == "nul \ufffd \ufffd x"


def test_a_database_failure_on_one_frame_answers_that_frame_and_keeps_the_connection(run, make_phone, monkeypatch):
    phone = make_phone()

    monkeypatch.setattr("gateways.consumers.gateway_inbound_sms", database_down)

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        await socket.send({"type": "inbound", "id": "sms-10", "from": "+959987654321", "text": "hi"})
        error = await socket.recv_type("error")
        await socket.send({"type": "heartbeat", "battery": 42})
        await socket.close()
        return error

    error = run(scenario)
    assert error == {"type": "error", "error": "temporarily unavailable, send again", "in_reply_to": "inbound"}
    Gateway = type(phone.gateway)
    assert Gateway.objects.get(pk=phone.gateway.pk).battery == 42  # the socket still served the heartbeat


def test_an_inbound_time_with_an_offset_is_stored_in_utc(run, make_phone):
    phone = make_phone()

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        await socket.send(
            {
                "type": "inbound",
                "id": "sms-9",
                "from": "+959987654321",
                "text": "hi",
                "received_at": "2026-11-25T19:30:00+06:30",
            }
        )
        await socket.recv_type("ack")
        await socket.close()

    run(scenario)
    assert InboundSms.objects.get().received_at.isoformat() == "2026-11-25T13:00:00+00:00"


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "dance"},
        {"no": "type"},
        {"type": "accept"},
        {"type": "delivered", "message_id": "x"},
        {"type": "inbound", "id": "1"},
    ],
)
def test_malformed_frames_get_an_error_or_a_rejection_and_the_socket_stays_open(run, make_phone, frame):
    phone = make_phone()

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        await socket.send(frame)
        if "id" in frame:  # a report: refused for good, so acknowledged as rejected
            assert (await socket.recv_type("ack"))["rejected"]
        else:
            assert (await socket.recv_type("error"))["type"] == "error"
        await socket.send({"type": "heartbeat"})
        await socket.send({"type": "inbound", "id": "ok", "from": "+959987654321", "text": "still here"})
        assert (await socket.recv_type("ack"))["id"] == "ok"
        await socket.close()

    run(scenario)


def test_a_disabled_phone_gets_no_jobs(run, make_phone, create_sms):
    phone = make_phone()
    Gateway.objects.filter(pk=phone.gateway.pk).update(enabled=False)

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        message = await create_sms()
        assert await socket.nothing_more()
        assert (await refresh(message)).status == "pending"
        await socket.close()

    run(scenario)


def test_a_lost_wake_up_signal_is_repaired_by_the_periodic_retry(run, make_phone, create_sms, monkeypatch):
    from gateways.tasks import dispatch_pending
    from messaging import lifecycle

    phone = make_phone()

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        await settle(0.3)  # the consumer's first push cycle is over
        monkeypatch.setattr(lifecycle, "gateway_wake", lambda **kwargs: None)  # the signal is lost
        message = await create_sms()
        assert await socket.nothing_more()
        monkeypatch.undo()
        await database_sync_to_async(dispatch_pending.run)()
        (job,) = await socket.jobs(1)
        assert job["message_id"] == message.pk
        await socket.close()

    run(scenario)


def test_a_new_message_is_pushed_from_its_wake_before_any_database_read_within_the_rate(
    run, make_phone, create_sms, settings, looks
):
    """The wake carries the job: an idle phone with room in its rate gets the frame without
    the consumer reading the database first (bench/dispatch.py's POST to job frame), the push
    is recorded right after, and past the room the database path paces as before."""
    settings.GATEWAY_RATE_WINDOW_SECONDS = 30.0  # nothing leaves the window during the test
    phone = make_phone(rate_per_minute=3)

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        looked = await looks.past(0)  # the connect's own look at the database: room for 3
        first = await create_sms(text="one")
        otp = await create_sms(text="Your code is 123456", display_text="Your code is ••••••", priority=10)
        jobs = await socket.jobs(2)
        assert [(j["message_id"], j["text"], j["priority"]) for j in jobs] == [
            (first.pk, "one", "normal"),
            (otp.pk, "Your code is 123456", "otp"),
        ]
        assert looks.count == looked  # no database read before those frames
        third = await create_sms(text="three")
        (job,) = await socket.jobs(1)
        assert job["message_id"] == third.pk
        await settle(0.2)
        fourth = await create_sms(text="four")  # past the rate: the database path holds it
        await looks.past(looked)
        assert await socket.nothing_more(0.5)
        for message in (first, otp, third):
            assert (await refresh(message)).pushed_at is not None
        assert (await refresh(fourth)).pushed_at is None
        await socket.close()

    run(scenario)
    pushed = MessageEvent.objects.filter(event="pushed").values_list("message_id", flat=True)
    assert len(pushed) == 3 and len(set(pushed)) == 3  # each push recorded once


def test_a_phone_disabled_after_its_last_look_gets_no_job_from_a_wake(run, make_phone, create_sms, looks):
    """The room a consumer pushes by at once is forgotten when the phone is disabled (or its
    rate changed): a message picked for it just before is not pushed."""
    phone = make_phone(rate_per_minute=10)

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        await looks.past(0)  # its connect looked at the database: room for 10
        await database_sync_to_async(gateway_set_enabled)(gateway_ids=[phone.gateway.pk], enabled=False)
        await settle(0.2)
        message = await create_sms(text="picked before the disable", gateway_id=phone.gateway.pk)
        assert await socket.nothing_more(0.5)
        assert (await refresh(message)).pushed_at is None
        await socket.close()

    run(scenario)


def test_frames_and_wakes_reach_their_handlers_without_a_hop_to_the_sync_thread(
    run, make_phone, create_sms, monkeypatch
):
    """Channels' dispatch sweeps database connections on the shared sync thread before every
    handler, where a wake waited behind other phones' commits; the phones' consumers skip it
    (each of their database calls sweeps around itself)."""
    sweeps = []

    async def sweep() -> None:
        sweeps.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", sweep)
    phone = make_phone()

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        message = await create_sms(text="one")
        (job,) = await socket.jobs(1)
        await socket.send({"type": "accept", "message_id": job["message_id"]})
        assert (await socket.recv_type("claim"))["ok"] is True
        assert (await refresh(message)).status == "sent"
        await socket.close()

    run(scenario)
    assert sweeps == []


def test_a_wake_after_the_connects_own_look_pushed_its_message_does_not_push_it_again(run, make_phone, looks):
    """The message is committed while the phone connects: the connect's first look at the
    database pushes it, then its wake arrives carrying it. One job frame, not two."""
    phone = make_phone()
    created: list[Message] = []
    looks.before_first = lambda: created.append(
        message_send_now(account=account_get_or_create(), to="+959123456789", text="one", gateway_id=phone.gateway.pk)
    )

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        (job,) = await socket.jobs(1)
        assert job["message_id"] == created[0].pk
        await looks.past(1)  # the wake found it pushed and left it to the database
        assert await socket.nothing_more(0.5)
        await socket.close()

    run(scenario)


def test_one_phones_slow_database_call_does_not_hold_up_another_phones_reports(run, make_phone, monkeypatch):
    """On PostgreSQL the phones' database calls run on PHONE_DB_THREADS threads (gateways/db.py):
    a phone whose call waits (a lock, a slow commit) holds up no other phone's frames."""
    if settings.PHONE_DB_THREADS <= 1:
        pytest.skip("SQLite: the phones' calls share one thread, as SQLite takes one writer at a time")
    slow, quick = make_phone("slow"), make_phone("quick")
    stuck, release = threading.Event(), threading.Event()

    def gateway_seen(**kwargs):
        if kwargs["gateway_id"] == slow.gateway.pk and kwargs.get("info") == {"type": "heartbeat"}:
            stuck.set()
            release.wait(timeout=10)
        return services.gateway_seen(**kwargs)

    monkeypatch.setattr("gateways.consumers.gateway_seen", gateway_seen)

    async def scenario():
        slow_socket, quick_socket = await connect_phone(slow.raw_token), await connect_phone(quick.raw_token)
        try:
            await slow_socket.send({"type": "heartbeat"})
            assert await asyncio.to_thread(stuck.wait, 3)
            await quick_socket.send({"type": "inbound", "id": "sms-1", "from": "+959987654321", "text": "hi"})
            assert await quick_socket.recv_type("ack", timeout=3) == {"type": "ack", "id": "sms-1"}
        finally:
            release.set()
        await slow_socket.close()
        await quick_socket.close()

    run(scenario)
    assert InboundSms.objects.get().gateway_id == quick.gateway.pk


def test_a_goodbye_the_database_cannot_record_ends_quietly(run, make_phone, monkeypatch):
    """The database restarting while a phone leaves: the socket's end raises nothing (daphne
    logged it as a crash); the phone goes offline by its silence instead."""
    phone = make_phone()

    monkeypatch.setattr("gateways.dispatch.gateway_disconnected", database_down)

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        await socket.close()  # raised the OperationalError before

    run(scenario)
    assert Gateway.objects.get(pk=phone.gateway.pk).is_connected  # until marked silent
