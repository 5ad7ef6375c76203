"""The phone a new message goes to, as the send path chooses it (from memory in production)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from gateways.models import Gateway
from gateways.selectors import gateway_pick_for_message
from gateways.services import gateway_disconnected, gateway_mark_silent_offline, gateway_seen, gateway_set_enabled

pytestmark = pytest.mark.django_db
ACCOUNT_ID = 1  # any account: make_gateway's phones are the shared pool's


def pick(**kwargs):
    return gateway_pick_for_message(account_id=ACCOUNT_ID, **kwargs)


def test_a_phone_marked_offline_while_silent_is_chosen_again_after_its_next_heartbeat(make_gateway, memo_queries):
    phone = make_gateway(connection_id="socket-1")
    assert pick() == phone.pk
    Gateway.objects.filter(pk=phone.pk).update(last_seen_at=timezone.now() - timedelta(seconds=91))

    assert gateway_mark_silent_offline() == [phone.pk]
    assert pick() is None

    gateway_seen(gateway_id=phone.pk, connection_id="socket-1")
    assert pick() == phone.pk


def test_a_disconnected_or_disabled_phone_is_not_chosen(make_gateway, memo_queries):
    leaving = make_gateway(connection_id="socket-1")
    disabled = make_gateway(connection_id="socket-2")
    assert {pick() for _ in range(4)} == {leaving.pk, disabled.pk}

    gateway_disconnected(gateway_id=leaving.pk, connection_id="socket-1")
    gateway_set_enabled(gateway_ids=[disabled.pk], enabled=False)
    assert pick() is None


def test_a_heartbeat_that_lands_after_its_sockets_goodbye_does_not_bring_the_phone_back(make_gateway, memo_queries):
    """A phone server handles its phones' calls on several threads: an app stream's keepalive
    still in flight when the stream closes can commit after the goodbye. The goodbye ends that
    connection for good, so the late heartbeat finds no socket to keep alive."""
    phone = make_gateway(connection_id="socket-1")
    assert gateway_disconnected(gateway_id=phone.pk, connection_id="socket-1")

    gateway_seen(gateway_id=phone.pk, connection_id="socket-1")
    assert not Gateway.objects.get(pk=phone.pk).is_connected
    assert pick() is None


def test_a_phone_silent_longer_than_the_window_is_not_chosen_even_from_memory(make_gateway, memo_queries):
    phone = make_gateway()
    assert pick() == phone.pk
    later = timezone.now() + timedelta(seconds=91)  # no heartbeat since
    assert pick(now=later) is None


# --- Tenancy: an account's messages go to its own phones or to the shared pool's -----------


def test_a_message_goes_only_to_its_accounts_phones_or_the_shared_pool(make_gateway, account, other_account):
    mine = make_gateway(account=account)
    theirs = make_gateway(account=other_account)
    assert {gateway_pick_for_message(account_id=account.pk) for _ in range(6)} == {mine.pk}
    assert {gateway_pick_for_message(account_id=other_account.pk) for _ in range(6)} == {theirs.pk}

    gateway_set_enabled(gateway_ids=[mine.pk], enabled=False)
    assert gateway_pick_for_message(account_id=account.pk) is None  # never the other tenant's phone
    pool = make_gateway()  # no account: the shared pool
    assert gateway_pick_for_message(account_id=account.pk) == pool.pk


def test_an_accounts_own_phone_comes_before_the_pool_unless_only_the_pool_has_the_carrier(make_gateway, account):
    sims = [{"slot": 0, "carrier": "MPT", "number": ""}]
    make_gateway(sims=sims)
    mine = make_gateway(account=account)
    assert {gateway_pick_for_message(account_id=account.pk) for _ in range(6)} == {mine.pk}
    pool_on_carrier = gateway_pick_for_message(account_id=account.pk, carrier="MPT")
    assert Gateway.objects.get(pk=pool_on_carrier).account_id is None
