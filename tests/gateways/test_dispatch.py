"""Dispatch rules and the periodic tasks, called with ids and clocks as Celery beat would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from gateways import dispatch
from gateways.models import Gateway, GatewayEvent
from gateways.tasks import dispatch_pending, mark_silent_gateways_offline, release_ack_timeouts
from messaging.lifecycle import message_claim
from messaging.models import Message, MessageEvent
from messaging.tasks import expire_messages, prune_old_rows
from tests.conftest import GUIDE_NUMBER, message_send_now

pytestmark = pytest.mark.django_db
MPT_NUMBER = "+959451234567"  # libphonenumber: MPT
TELENOR_NUMBER = "+959791234567"  # libphonenumber: Telenor


@pytest.fixture
def sms(account):
    def create(to=GUIDE_NUMBER, **kwargs) -> Message:
        return message_send_now(account=account, to=to, text="hi", **kwargs)

    return create


def test_pending_messages_go_to_a_phone_with_a_sim_on_the_recipients_carrier(sms, make_gateway):
    mpt_message, telenor_message = sms(MPT_NUMBER), sms(TELENOR_NUMBER)
    assert mpt_message.carrier == "MPT" and telenor_message.status == "pending"
    mpt = make_gateway(sims=[{"slot": 0, "carrier": "MPT"}])
    telenor = make_gateway(sims=[{"slot": 1, "carrier": "Telenor"}])

    assert dispatch_pending.run() == {mpt.pk: 1, telenor.pk: 1}
    assert Message.objects.get(pk=mpt_message.pk).gateway == mpt
    assert Message.objects.get(pk=telenor_message.pk).gateway == telenor
    taken = dispatch.dispatch_take_jobs(gateway_id=telenor.pk, token_hash=telenor.token_hash)
    assert dispatch.sim_slot_for(taken.sims, taken.jobs[0].carrier) == 1


def test_new_messages_prefer_a_phone_on_the_recipients_carrier(sms, make_gateway):
    make_gateway(sims=[{"slot": 0, "carrier": "Telenor"}])
    mpt = make_gateway(sims=[{"slot": 0, "carrier": "MPT"}])
    assert {sms(MPT_NUMBER).gateway for _ in range(3)} == {mpt}


def test_without_a_carrier_match_the_least_loaded_phone_gets_pending_work(sms, make_gateway):
    messages = [sms() for _ in range(4)]
    busy = make_gateway()
    Message.objects.filter(pk=messages[0].pk).update(status="queued", gateway=busy)
    idle = make_gateway()
    assigned = dispatch_pending.run()
    assert assigned == {idle.pk: 2, busy.pk: 1}


def test_assigning_twice_is_harmless(sms, make_gateway):
    sms()
    make_gateway()
    assert sum(dispatch_pending.run().values()) == 1
    assert dispatch_pending.run() == {}
    assert MessageEvent.objects.filter(event="queued").count() == 1


def test_jobs_not_accepted_within_the_ack_timeout_go_to_another_phone(sms, make_gateway, settings):
    slow, other = make_gateway(name="slow"), make_gateway(name="other")
    message = sms(gateway_id=slow.pk)
    dispatch.dispatch_take_jobs(gateway_id=slow.pk, token_hash=slow.token_hash)
    assert release_ack_timeouts.run() == 0
    Message.objects.filter(pk=message.pk).update(pushed_at=timezone.now() - timedelta(seconds=31))

    assert release_ack_timeouts.run() == 1
    moved = Message.objects.get(pk=message.pk)
    assert (moved.status, moved.gateway) == ("queued", other)
    assert moved.pushed_at is None
    assert GatewayEvent.objects.filter(gateway=slow, event="ack_timeout").exists()
    assert not message_claim(gateway_id=slow.pk, message_id=message.pk)  # the late accept loses
    assert message_claim(gateway_id=other.pk, message_id=message.pk)


def test_a_silent_phone_is_marked_offline_and_its_unaccepted_jobs_move(sms, make_gateway):
    silent = make_gateway(name="silent", last_seen_at=timezone.now() - timedelta(seconds=91))
    Gateway.objects.filter(pk=silent.pk).update(last_seen_at=timezone.now())
    message = sms(gateway_id=silent.pk)
    Gateway.objects.filter(pk=silent.pk).update(last_seen_at=timezone.now() - timedelta(seconds=91))
    alive = make_gateway(name="alive")

    assert mark_silent_gateways_offline.run() == [silent.pk]
    assert not Gateway.objects.get(pk=silent.pk).is_connected
    assert GatewayEvent.objects.filter(gateway=silent, event="offline").count() == 1
    assert Message.objects.get(pk=message.pk).gateway == alive
    assert mark_silent_gateways_offline.run() == []


def test_messages_nobody_took_in_time_fail_as_expired(sms, make_gateway):
    waiting = sms()
    queued = sms(gateway_id=make_gateway().pk)
    claimed = sms(gateway_id=Gateway.objects.get().pk)
    message_claim(gateway_id=claimed.gateway_id, message_id=claimed.pk)
    Message.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert expire_messages.run() == 2
    for message in (waiting, queued):
        expired = Message.objects.get(pk=message.pk)
        assert (expired.status, expired.error_message) == ("failed", "Expired: no gateway available")
        assert expired.failed_at is not None
    assert Message.objects.get(pk=claimed.pk).status == "sent"  # a phone has it: not expired
    assert expire_messages.run() == 0


def test_an_otps_message_is_valid_only_as_long_as_the_otp(api_client, online_gateway):
    api_client.post("/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}, format="json")
    message = Message.objects.get()
    assert message.expires_at <= timezone.now() + timedelta(seconds=300)


def test_old_finished_messages_are_pruned(sms, settings):
    old, recent = sms(), sms()
    Message.objects.filter(pk=old.pk).update(status="delivered", created_at=timezone.now() - timedelta(days=91))
    Message.objects.filter(pk=recent.pk).update(status="delivered")
    assert prune_old_rows.run() == 1
    assert list(Message.objects.values_list("pk", flat=True)) == [recent.pk]


def test_pushes_respect_the_rate_counting_every_segment(sms, make_gateway, account):
    phone = make_gateway(rate_per_minute=3)
    long_message = message_send_now(account=account, to=GUIDE_NUMBER, text="x" * 200, gateway_id=phone.pk)  # 2 parts
    short = [sms(gateway_id=phone.pk) for _ in range(2)]
    jobs, retry_in, *_ = dispatch.dispatch_take_jobs(gateway_id=phone.pk, token_hash=phone.token_hash)
    assert [j.message_id for j in jobs] == [long_message.pk, short[0].pk]
    assert 0 < retry_in <= 61  # the window plus the pacing margin
    assert dispatch.dispatch_take_jobs(gateway_id=phone.pk, token_hash=phone.token_hash)[0] == []


def test_1000_messages_for_3_phones_at_10_per_minute_go_out_at_30_per_minute(account, make_gateway):
    phones = [make_gateway(rate_per_minute=10) for _ in range(3)]
    start = timezone.now()
    Message.objects.bulk_create(
        [
            Message(
                account=account,
                to=GUIDE_NUMBER,
                body=f"#{i}",
                encoding="gsm7",
                segments=1,
                status="pending",
                created_at=start + timedelta(microseconds=i),
                expires_at=start + timedelta(days=1),
            )
            for i in range(1000)
        ]
    )
    assert sum(dispatch.dispatch_assign_pending(now=start, limit=1000).values()) == 1000

    pushes: dict[int, list] = {phone.pk: [] for phone in phones}
    tokens = {phone.pk: phone.token_hash for phone in phones}
    wake = {phone.pk: start for phone in phones}  # each consumer wakes when its timer says
    while wake:
        phone_id, now = min(wake.items(), key=lambda item: item[1])
        jobs, retry_in, *_ = dispatch.dispatch_take_jobs(gateway_id=phone_id, token_hash=tokens[phone_id], now=now)
        for job in jobs:
            assert message_claim(gateway_id=phone_id, message_id=job.message_id, now=now)
            pushes[phone_id].append(now)
        if retry_in is None:
            del wake[phone_id]
        else:
            wake[phone_id] = now + timedelta(seconds=retry_in)
    for times in pushes.values():  # never above a phone's rate in any 60 s
        assert all(sum(1 for t in times if s <= t < s + timedelta(seconds=60)) <= 10 for s in times)
    everything = sorted(t for times in pushes.values() for t in times)
    assert len(everything) == 1000  # none dropped
    assert Message.objects.filter(status="sent").count() == 1000
    # 30 a minute in all, less the pacing margin (1 s a minute).
    assert (everything[-1] - start) < timedelta(minutes=35)


def test_a_phone_at_its_daily_quota_gets_nothing_more_today(sms, make_gateway):
    capped = make_gateway(daily_quota=2, rate_per_minute=30)
    for _ in range(3):
        sms(gateway_id=capped.pk)
    jobs, *_ = dispatch.dispatch_take_jobs(gateway_id=capped.pk, token_hash=capped.token_hash)
    assert len(jobs) == 2
    assert dispatch.dispatch_take_jobs(gateway_id=capped.pk, token_hash=capped.token_hash)[:2] == ([], None)
    # Pending work goes to phones with quota left, not to the capped one.
    waiting = sms()
    assert (waiting.status, waiting.gateway_id) == ("pending", None)
    other = make_gateway()
    assert dispatch.dispatch_assign_pending() == {other.pk: 1}
    Message.objects.update(expires_at=timezone.now() + timedelta(days=3))
    tomorrow = timezone.now() + timedelta(days=1)
    assert len(dispatch.dispatch_take_jobs(gateway_id=capped.pk, token_hash=capped.token_hash, now=tomorrow)[0]) == 1
