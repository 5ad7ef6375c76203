"""Phones belong to an account or to the shared pool: a message, an OTP or a reply never
crosses from one tenant to another's phone."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import Account
from gateways import dispatch
from gateways.models import Gateway
from gateways.services import gateway_create, gateway_inbound_sms, gateway_set_account
from gateways.tasks import dispatch_pending
from messaging.lifecycle import message_create
from messaging.models import InboundSms, Message
from messaging.services import ReceivedSms
from otp.models import Otp
from tests.conftest import GUIDE_NUMBER, message_send_now

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
    # A stranger's SMS is no tenant's: guessing would hand one tenant's reply to another.
    filed = dict(InboundSms.objects.values_list("body", "account__name"))
    assert filed == {"reply": other_account.name, "stranger": None}


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


def test_a_phone_of_nobodys_sends_for_nobody_until_an_operator_chooses(account, make_gateway):
    phone = make_gateway(account=account)
    queued = message_send_now(account=account, to=GUIDE_NUMBER, text="queued before")
    assert queued.gateway_id == phone.pk
    # Its account blanked by an operator (or deleted): the phone is nobody's.
    phone.account = None
    phone.save(update_fields=["account"])
    assert phone.serves_nobody
    taken = dispatch.dispatch_take_jobs(gateway_id=phone.pk, token_hash=phone.token_hash)
    assert taken.jobs == []  # not even what was queued on it before
    assert message_send_now(account=account, to=GUIDE_NUMBER, text="new").gateway_id is None  # the send path
    assert dispatch_pending.run() == {}  # the periodic hand-out; and what waited for it went back:
    assert Message.objects.get(pk=queued.pk).status == "pending" and Message.objects.get(pk=queued.pk).gateway is None
    # What it receives is no tenant's: kept for the operators, in no inbox and no webhook.
    gateway_inbound_sms(gateway_id=phone.pk, received=ReceivedSms(device_sms_id="1", sender=GUIDE_NUMBER, text="hi"))
    assert InboundSms.objects.get().account_id is None

    gateway_set_account(gateway=Gateway.objects.get(pk=phone.pk), account=None)  # "Shared pool", as the pairing page
    assert Gateway.objects.get(pk=phone.pk).shared
    assert dispatch_pending.run() == {phone.pk: 2}


def test_the_admin_warns_of_phones_of_nobodys_and_refuses_an_account_for_a_shared_one(client, account, make_gateway):
    client.force_login(User.objects.create_superuser("operator", "op@example.test", "a-long-test-password"))
    nobodys = make_gateway(name="orphan", shared=False)
    listing = client.get("/admin/gateways/gateway/").content.decode()
    assert "No account, not shared: orphan." in listing and "none: sends nothing" in listing
    assert "No account, not shared" in client.get(f"/admin/gateways/gateway/{nobodys.pk}/change/").content.decode()
    form = {"name": "orphan", "account": account.pk, "shared": "on", "rate_per_minute": 10, "enabled": "on"}
    refused = client.post(f"/admin/gateways/gateway/{nobodys.pk}/change/", form)
    assert "A shared-pool phone has no account of its own" in refused.content.decode()
    assert Gateway.objects.get(pk=nobodys.pk).serves_nobody
    del form["shared"]
    assert client.post(f"/admin/gateways/gateway/{nobodys.pk}/change/", form).status_code == 302
    assert Gateway.objects.get(pk=nobodys.pk).account == account
    assert "No account, not shared" not in client.get("/admin/gateways/gateway/").content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("accounts", [1, 2])
def test_the_upgrade_gives_accountless_phones_the_only_account_else_leaves_them_to_the_operator(accounts):
    executor = MigrationExecutor(connection)
    before, after = [("gateways", "0003_app_phones")], [("gateways", "0005_gateway_shared_has_no_account")]
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    Account.objects.all().delete()
    owners = [Account.objects.create(name=f"tenant-{n}") for n in range(accounts)]
    old_gateway = apps.get_model("gateways", "Gateway")
    old_gateway.objects.create(name="from-before-accounts", token_prefix="a", token_hash="a")
    old_gateway.objects.create(name="owned", token_prefix="b", token_hash="b", account_id=owners[-1].pk)
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    upgraded = Gateway.objects.get(name="from-before-accounts")
    assert not upgraded.shared
    if accounts == 1:
        assert upgraded.account.name == "tenant-0"  # what it did: it sent for the only account
    else:
        assert upgraded.serves_nobody  # which tenants it was for cannot be known: the operator says
    assert Gateway.objects.get(name="owned").account.name == f"tenant-{accounts - 1}"
