"""Daily quotas: a phone that has used its quota is chosen by no path (a send, an OTP, the
periodic hand-out), and work queued on it before it ran out goes to other phones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from gateways import dispatch
from gateways.choice import PhoneCandidate, gateway_choose, quota_day_start
from gateways.selectors import gateway_pick_for_message
from gateways.tasks import dispatch_pending
from messaging.lifecycle import message_claim
from messaging.models import Message, MessageEvent
from otp.services import NoGatewayOnline, otp_issue
from tests.conftest import GUIDE_NUMBER, message_send_now

pytestmark = pytest.mark.django_db


def use_up_quota(phone, account, count: int) -> None:
    """``count`` messages pushed to ``phone`` and claimed by it today."""
    for _ in range(count):
        message_send_now(account=account, to=GUIDE_NUMBER, text="hi", gateway_id=phone.pk)
    jobs, *_ = dispatch.dispatch_take_jobs(gateway_id=phone.pk, token_hash=phone.token_hash)
    assert len(jobs) == count
    for job in jobs:
        assert message_claim(gateway_id=phone.pk, message_id=job.message_id)


def test_the_chooser_skips_a_phone_without_room_and_prefers_carrier_then_own_then_lighter_load():
    pool = PhoneCandidate(1, None, ("MPT",))
    mine_full = PhoneCandidate(2, 7, ("MPT",), room=0)
    mine = PhoneCandidate(3, 7, ("Telenor",), room=5)
    theirs = PhoneCandidate(4, 8, ("MPT",))
    phones = [pool, mine_full, mine, theirs]

    assert gateway_choose(phones, account_id=7, carrier="MPT", load={}) == pool  # carrier first
    assert gateway_choose(phones, account_id=7, carrier="", load={}) == mine  # own before pool
    assert gateway_choose([pool, PhoneCandidate(5, None, ())], account_id=7, load={1: 3, 5: 1}).pk == 5
    assert gateway_choose([mine_full, theirs], account_id=7, load={}) is None  # never another tenant's


def test_today_is_the_utc_day():
    evening_in_yangon = datetime(2026, 12, 6, 23, 30, tzinfo=UTC) + timedelta(hours=6, minutes=30)
    assert quota_day_start(evening_in_yangon) == datetime(2026, 12, 7, tzinfo=UTC)


def test_a_phone_at_its_quota_is_chosen_by_no_path(account, make_gateway, memo_queries):
    capped = make_gateway(daily_quota=2)
    use_up_quota(capped, account, 2)

    assert gateway_pick_for_message(account_id=account.pk) is None  # the send path
    with pytest.raises(NoGatewayOnline):
        otp_issue(account=account, phone_number=GUIDE_NUMBER)  # OTPs
    waiting = message_send_now(account=account, to=GUIDE_NUMBER, text="hi")
    assert (waiting.status, waiting.gateway_id) == ("pending", None)
    assert dispatch_pending.run() == {}  # the periodic hand-out


def test_a_phone_with_room_for_one_more_gets_one_more_then_no_more(account, make_gateway, memo_queries):
    capped = make_gateway(daily_quota=3)
    use_up_quota(capped, account, 2)

    first = message_send_now(account=account, to=GUIDE_NUMBER, text="hi")
    second = message_send_now(account=account, to=GUIDE_NUMBER, text="hi")
    assert (first.gateway_id, second.gateway_id) == (capped.pk, None)


def test_an_sms_sent_when_the_only_phone_is_at_quota_goes_out_on_a_phone_that_comes_online(
    api_client, account, make_gateway, memo_queries
):
    capped = make_gateway(daily_quota=1)
    use_up_quota(capped, account, 1)

    response = api_client.post("/api/v1/sms/send", {"to": GUIDE_NUMBER, "message": "hi"}, format="json")
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    message_id = response.json()["message_id"]

    fresh = make_gateway()
    assert dispatch_pending.run() == {fresh.pk: 1}  # what a phone's connection runs, too
    jobs, *_ = dispatch.dispatch_take_jobs(gateway_id=fresh.pk, token_hash=fresh.token_hash)
    assert [job.message_id for job in jobs] == [message_id]


def test_jobs_queued_on_a_phone_whose_quota_ran_out_go_to_another_phone(account, make_gateway):
    """Queued before the quota ran out (another node's choice, or an operator lowering it):
    the periodic task gives back what the phone may not be pushed today."""
    capped = make_gateway(daily_quota=5)
    stuck = [message_send_now(account=account, to=GUIDE_NUMBER, text="hi", gateway_id=capped.pk) for _ in range(3)]
    capped.daily_quota = 1
    capped.save(update_fields=["daily_quota"])
    other = make_gateway()

    dispatch_pending.run()

    kept, *moved = stuck  # the oldest stays: it fits in the quota
    assert Message.objects.get(pk=kept.pk).gateway_id == capped.pk
    assert {m.gateway_id for m in Message.objects.filter(pk__in=[m.pk for m in moved])} == {other.pk}
    released = MessageEvent.objects.filter(event="released", detail="daily quota reached")
    assert released.count() == 2


def test_a_new_utc_day_gives_the_phone_its_quota_again(account, make_gateway, memo_queries):
    tomorrow = quota_day_start(timezone.now()) + timedelta(days=1, minutes=1)
    capped = make_gateway(daily_quota=1, last_seen_at=tomorrow)  # still heard from then
    use_up_quota(capped, account, 1)
    assert gateway_pick_for_message(account_id=account.pk) is None

    assert gateway_pick_for_message(account_id=account.pk, now=tomorrow) == capped.pk
