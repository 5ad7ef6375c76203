"""Phones belong to an account or to the shared pool: a message, an OTP or a reply never
crosses from one tenant to another's phone."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from accounts.models import Account
from gateways.models import Gateway
from gateways.services import gateway_create, gateway_inbound_sms
from gateways.tasks import dispatch_pending
from messaging.lifecycle import message_create
from messaging.models import InboundSms, Message
from messaging.services import ReceivedSms
from otp.models import Otp
from tests.conftest import GUIDE_NUMBER

pytestmark = pytest.mark.django_db


def test_pending_messages_wait_for_a_phone_of_their_account_or_the_pool(account, other_account, make_gateway):
    mine = message_create(account=account, to=GUIDE_NUMBER, text="mine")
    theirs = message_create(account=other_account, to=GUIDE_NUMBER, text="theirs")
    their_phone = make_gateway(account=other_account)

    assert dispatch_pending.run() == {their_phone.pk: 1}
    assert Message.objects.get(pk=theirs.pk).gateway == their_phone
    assert Message.objects.get(pk=mine.pk).status == "pending"  # never on the other tenant's phone

    pool = make_gateway()
    assert dispatch_pending.run() == {pool.pk: 1}
    assert Message.objects.get(pk=mine.pk).gateway == pool


def test_pending_work_goes_to_the_accounts_own_phone_before_the_pool(account, make_gateway):
    make_gateway()
    own = make_gateway(account=account)
    for i in range(3):
        Message.objects.filter(pk=message_create(account=account, to=GUIDE_NUMBER, text=f"#{i}").pk).update(
            status="pending", gateway=None
        )
    assert dispatch_pending.run() == {own.pk: 3}


def test_an_otp_never_goes_out_on_another_tenants_phone(make_api_key, other_account, client_for, make_gateway):
    make_gateway(account=other_account)
    api = client_for(make_api_key().raw_key)
    response = api.post("/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}, format="json")
    assert (response.status_code, response.json()["code"]) == (503, "no_gateway_online")
    assert not Otp.objects.exists() and not Message.objects.exists()


def test_a_reply_to_an_owned_phone_belongs_to_its_account(other_account, make_gateway):
    phone = make_gateway(account=other_account)
    gateway_inbound_sms(gateway_id=phone.pk, received=ReceivedSms(device_sms_id="1", sender=GUIDE_NUMBER, text="hi"))
    assert InboundSms.objects.get().account == other_account


def test_a_reply_to_a_pool_phone_belongs_to_the_account_that_last_wrote_to_that_number(
    account, other_account, make_gateway
):
    pool = make_gateway()
    message_create(account=account, to=GUIDE_NUMBER, text="first", gateway_id=pool.pk)
    message_create(account=other_account, to=GUIDE_NUMBER, text="last", gateway_id=pool.pk)
    gateway_inbound_sms(gateway_id=pool.pk, received=ReceivedSms(device_sms_id="1", sender=GUIDE_NUMBER, text="reply"))
    gateway_inbound_sms(
        gateway_id=pool.pk, received=ReceivedSms(device_sms_id="2", sender="+959987654321", text="stranger")
    )
    filed = dict(InboundSms.objects.values_list("body", "account__name"))
    assert filed == {"reply": other_account.name, "stranger": Account.DEFAULT_NAME}


def test_create_gateway_takes_an_account_or_the_shared_pool(account):
    def create(*extra: str) -> Gateway:
        out = StringIO()
        call_command("create_gateway", "--name", f"phone-{len(extra)}-{extra[-1] if extra else ''}", *extra, stdout=out)
        return Gateway.objects.get(token_prefix=out.getvalue().strip().splitlines()[-1][8:16])

    assert create().account == account  # the default account
    assert create("--account", "acme").account.name == "acme"
    assert create("--shared").account is None


def test_the_admin_adds_a_phone_for_an_account_or_the_pool(client, other_account):
    client.force_login(User.objects.create_superuser("operator", "op@example.test", "a-long-test-password"))
    form = {"name": "acme-phone", "account": other_account.pk, "rate_per_minute": 10}
    page = client.post("/admin/gateways/gateway/add/", form).content.decode()
    assert f"sends for account “{other_account.name}”" in page
    assert Gateway.objects.get(name="acme-phone").account == other_account
    page = client.post("/admin/gateways/gateway/add/", {"name": "pool-phone", "account": "", "rate_per_minute": 10})
    assert "every account (the shared pool)" in page.content.decode()
    assert Gateway.objects.get(name="pool-phone").account is None
    listing = client.get("/admin/gateways/gateway/").content.decode()
    assert re.search(r"shared pool", listing) and other_account.name in listing


def test_a_shared_phone_has_no_account():
    with pytest.raises(ValueError, match="shared"):
        gateway_create(name="x", account=Account.objects.create(name="acme"), shared=True)


def test_the_pairing_page_lets_the_operator_choose_the_account(client, other_account):
    client.force_login(User.objects.create_superuser("operator", "op@example.test", "a-long-test-password"))
    page = client.post("/admin/gateways/gateway/add/", {"name": "p", "rate_per_minute": 10}).content.decode()
    token = re.search(r"gw_live_[A-Za-z0-9]{40}", page).group(0)
    phone = Gateway.objects.get(name="p")
    assert 'id="pairing-account"' in page and f"account “{other_account.name}”" in page
    pairing = f"/admin/gateways/gateway/{phone.pk}/pairing/"
    moved = client.post(pairing, {"token": token, "server": "http://192.168.1.20:3005", "account": other_account.pk})
    assert f"sends for account “{other_account.name}”" in moved.content.decode()
    assert Gateway.objects.get(pk=phone.pk).account == other_account
    pooled = client.post(pairing, {"token": token, "server": "http://192.168.1.20:3005", "account": ""})
    assert "sends for every account (the shared pool)" in pooled.content.decode()
    assert Gateway.objects.get(pk=phone.pk).account is None
