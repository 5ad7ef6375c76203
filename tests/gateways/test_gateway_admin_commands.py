from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gateways.models import Gateway, GatewayEvent
from gateways.services import gateway_get_by_token, gateway_roll_token, hash_gateway_token

pytestmark = pytest.mark.django_db


def create(name="phone-1", *extra) -> str:
    out = StringIO()
    call_command("create_gateway", "--name", name, *extra, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def test_create_gateway_prints_the_token_alone_on_the_last_line_and_stores_only_its_hash():
    token = create("phone-1", "--rate", "20")
    assert token.startswith("gw_live_") and len(token) == len("gw_live_") + 40
    gateway = Gateway.objects.get()
    assert (gateway.name, gateway.rate_per_minute, gateway.enabled) == ("phone-1", 20, True)
    assert gateway.token_hash == hash_gateway_token(token)
    assert token[8:] not in str(Gateway.objects.values().get())
    assert gateway_get_by_token(raw_token=token) == gateway


def test_create_gateway_app_prints_the_apps_url_and_its_registration_token_last(settings):
    settings.PUBLIC_URL = "https://sms.example.test"
    out = StringIO()
    call_command("create_gateway", "--name", "galaxy", "--app", stdout=out)
    lines = out.getvalue().strip().splitlines()
    token = lines[-1]
    assert token.startswith("gw_live_")
    assert any("https://sms.example.test/api/mobile/v1" in line for line in lines[:-1])
    gateway = gateway_get_by_token(raw_token=token)
    assert (gateway.name, gateway.kind) == ("galaxy", "app")


def test_create_gateway_refuses_a_rate_above_androids_limit():
    with pytest.raises(CommandError, match="between 1 and 30"):
        create("fast", "--rate", "31")
    assert not Gateway.objects.exists()


def test_list_and_revoke_gateway():
    token = create("phone-1")
    out = StringIO()
    call_command("list_gateways", stdout=out)
    assert "phone-1" in out.getvalue() and "offline" in out.getvalue()
    assert token not in out.getvalue()

    call_command("revoke_gateway", "phone-1", stdout=StringIO())
    assert gateway_get_by_token(raw_token=token) is None
    assert GatewayEvent.objects.filter(event="revoked").exists()
    out = StringIO()
    call_command("list_gateways", stdout=out)
    assert "revoked" in out.getvalue()


def test_rolling_the_token_retires_the_old_one():
    old = create("phone-1")
    new = gateway_roll_token(gateway=Gateway.objects.get()).raw_token
    assert gateway_get_by_token(raw_token=old) is None
    assert gateway_get_by_token(raw_token=new) == Gateway.objects.get()


def test_the_agent_is_downloadable_from_the_server(client):
    response = client.get("/gateway/agent.py")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert "def main(" in body and "import django" not in body
