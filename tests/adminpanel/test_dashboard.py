from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from adminpanel.selectors import dashboard_get
from messaging.lifecycle import message_create
from messaging.models import Message
from otp.models import Otp, OtpStatus
from tests.conftest import GUIDE_NUMBER

pytestmark = pytest.mark.django_db


def _message(account, *, status: str, gateway=None, hours_ago: float = 0) -> Message:
    message = message_create(account=account, to=GUIDE_NUMBER, text="hi", gateway_id=gateway.pk if gateway else None)
    created = timezone.now() - timedelta(hours=hours_ago)
    sent_at = created if status in ("sent", "delivered", "failed") else None
    Message.objects.filter(pk=message.pk).update(status=status, created_at=created, gateway=gateway, sent_at=sent_at)
    return message


def _otp(account, status: str) -> None:
    Otp.objects.create(
        account=account,
        phone_number=GUIDE_NUMBER,
        code_hash="x" * 64,
        status=status,
        expires_at=timezone.now() + timedelta(minutes=5),
    )


def test_the_dashboard_counts_phones_queue_hourly_traffic_delivery_and_otp_conversion(account, make_gateway, settings):
    pixel, galaxy = make_gateway(name="pixel"), make_gateway(name="galaxy")
    make_gateway(name="drawer", online=False)
    for _ in range(3):
        _message(account, status="delivered", gateway=pixel)
    _message(account, status="failed", gateway=pixel)
    _message(account, status="sent", gateway=galaxy, hours_ago=2)
    _message(account, status="queued", gateway=galaxy)
    _message(account, status="pending")
    _message(account, status="delivered", gateway=pixel, hours_ago=30)  # outside the 24 h
    _otp(account, OtpStatus.VERIFIED)
    _otp(account, OtpStatus.EXPIRED)
    _otp(account, OtpStatus.ACTIVE)
    _otp(account, OtpStatus.VERIFIED)

    dashboard = dashboard_get()

    assert (dashboard.phones_online, dashboard.phones_total) == (2, 3)
    assert (dashboard.pending, dashboard.queued) == (1, 1)
    assert len(dashboard.hourly) == 24
    assert {k: v for k, v in dashboard.hourly[-1].items() if k != "hour"} == {
        "delivered": 3,
        "failed": 1,
        "queued": 1,
        "pending": 1,
        "sent": 0,
    }
    assert dashboard.hourly[-3]["sent"] == 1
    assert sum(sum(v for k, v in bucket.items() if k != "hour") for bucket in dashboard.hourly) == 7
    rates = {p.name: (p.delivered, p.handed, p.failed) for p in dashboard.delivery}
    assert rates == {"pixel": (3, 4, 1), "galaxy": (0, 1, 0)}
    assert (dashboard.otp_verified, dashboard.otp_sent, dashboard.otp_conversion) == (2, 4, 0.5)


def test_the_admin_index_draws_the_charts_itself(operator, account, online_gateway):
    _message(account, status="delivered", gateway=online_gateway)
    page = operator.get("/admin/").content.decode()

    assert page.count("<svg") >= 2
    assert f"{online_gateway.name}</text>" in page and "100% (1/1, 0 failed)" in page
    assert "1 delivered</title>" in page
    # Nothing is fetched from anywhere else: no CDN, no outside script or style.
    assert "https://" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_chart_labels_are_escaped(operator, account, make_gateway):
    gateway = make_gateway(name="<script>alert(1)</script>")
    _message(account, status="delivered", gateway=gateway)
    page = operator.get("/admin/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_an_empty_dashboard_says_so(operator):
    page = operator.get("/admin/").content.decode()
    assert "No messages in the last 24 hours" in page
    assert "0 / 0" in page
    # No OTP sent: a dash, not "0 %" (a division by zero would be a 500).
    otp_card = re.search(r'<div class="mysms-card" id="card-otp"><div class="value">(.*?)</div>', page).group(1)
    assert otp_card == "–"


def test_the_pending_card_tells_scheduled_messages_from_those_waiting_for_a_phone(operator, account, online_gateway):
    """Every phone online and messages pending: the card says why they wait, not "no phone"."""
    _message(account, status="pending")
    message_create(account=account, to=GUIDE_NUMBER, text="later", send_at=timezone.now() + timedelta(hours=1))
    assert (dashboard_get().pending, dashboard_get().scheduled) == (2, 1)
    page = operator.get("/admin/").content.decode()
    card = re.search(r'<div class="mysms-card" id="card-pending">(.*?)</div></div>', page).group(1)
    assert "no phone" not in card
    assert "1 scheduled" in card and "waiting for a phone of their account with room" in card
