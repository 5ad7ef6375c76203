"""The phone a new message goes to, as the send path chooses it (from memory in production)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from gateways.models import Gateway
from gateways.selectors import gateway_pick_for_message
from gateways.services import gateway_disconnected, gateway_mark_silent_offline, gateway_seen, gateway_set_enabled

pytestmark = pytest.mark.django_db


def test_a_phone_marked_offline_while_silent_is_chosen_again_after_its_next_heartbeat(make_gateway, memo_queries):
    phone = make_gateway(connection_id="socket-1")
    assert gateway_pick_for_message() == phone.pk
    Gateway.objects.filter(pk=phone.pk).update(last_seen_at=timezone.now() - timedelta(seconds=91))

    assert gateway_mark_silent_offline() == [phone.pk]
    assert gateway_pick_for_message() is None

    gateway_seen(gateway_id=phone.pk, connection_id="socket-1")
    assert gateway_pick_for_message() == phone.pk


def test_a_disconnected_or_disabled_phone_is_not_chosen(make_gateway, memo_queries):
    leaving = make_gateway(connection_id="socket-1")
    disabled = make_gateway(connection_id="socket-2")
    assert {gateway_pick_for_message() for _ in range(4)} == {leaving.pk, disabled.pk}

    gateway_disconnected(gateway_id=leaving.pk, connection_id="socket-1")
    gateway_set_enabled(gateway_ids=[disabled.pk], enabled=False)
    assert gateway_pick_for_message() is None


def test_a_phone_silent_longer_than_the_window_is_not_chosen_even_from_memory(make_gateway, memo_queries):
    phone = make_gateway()
    assert gateway_pick_for_message() == phone.pk
    later = timezone.now() + timedelta(seconds=91)  # no heartbeat since
    assert gateway_pick_for_message(now=later) is None
