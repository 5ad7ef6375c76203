from __future__ import annotations

import re
import time

import pytest
import segno
from django.contrib.admin.utils import quote
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import ApiKey
from accounts.selectors import api_key_get_by_raw
from adminpanel.services import admin_login_throttle
from core.models import RateLimitCounter
from core.ratelimit import COUNTER_RETENTION_SECONDS
from core.tasks import prune_rate_limit_counters
from gateways.services import gateway_get_by_token, gateway_pairing_uri
from tests.conftest import GUIDE_NUMBER
from tests.fake_app import FakeApp, django_transport

pytestmark = pytest.mark.django_db
ADMIN_PAGES = [
    "/admin/",
    "/admin/accounts/apikey/",
    "/admin/accounts/apikey/add/",
    "/admin/gateways/gateway/",
    "/admin/gateways/gateway/add/",
    "/admin/messaging/message/",
    "/admin/otp/otp/",
    "/admin/messaging/inboundsms/",
    "/admin/gateways/gatewayevent/",
    "/admin/api_tester",
    "/admin/api_tester/",
    "/admin/logs",
    "/admin/logs?partial=1",
]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_anonymous_users_get_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_non_staff_users_get_nothing(client, path):
    client.force_login(User.objects.create_user("customer", password="a-long-test-password"))
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_operators_see_every_page(operator, path):
    assert operator.get(path).status_code == 200


def test_a_new_api_key_is_shown_once_and_works(operator, account, client_for):
    response = operator.post(
        "/admin/accounts/apikey/add/",
        {"name": "My SaaS App", "account": account.pk, "permission_names": ["send_sms", "receive_sms"]},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw_key = re.search(r"api_live_[A-Za-z0-9]{40}", response.content.decode()).group(0)
    key = api_key_get_by_raw(raw_key=raw_key)
    assert (key.name, key.permissions) == ("My SaaS App", ["send_sms", "receive_sms"])
    api = client_for(raw_key)
    assert api.post("/api/v1/sms/send", {"to": GUIDE_NUMBER, "message": "hi"}, format="json").status_code == 202
    for page in ["/admin/accounts/apikey/", f"/admin/accounts/apikey/{key.pk}/change/"]:
        assert raw_key not in operator.get(page).content.decode()
    assert ApiKey.objects.count() == 1


def test_a_test_mode_key_is_made_in_the_admin_and_marked_there(operator, account, client_for):
    response = operator.post(
        "/admin/accounts/apikey/add/",
        {"name": "CI", "account": account.pk, "permission_names": ["send_sms"], "test_mode": "on"},
    )
    raw_key = re.search(r"api_test_[A-Za-z0-9]{40}", response.content.decode()).group(0)
    key = api_key_get_by_raw(raw_key=raw_key)
    assert key.is_test
    sent = client_for(raw_key).post("/api/v1/sms/send", {"to": GUIDE_NUMBER, "message": "hi"}, format="json")
    assert sent.status_code == 202
    listing = operator.get("/admin/accounts/apikey/?is_test__exact=1").content.decode()
    assert "CI" in listing and "api_test_" + key.prefix in listing and ">test<" in listing
    messages = operator.get("/admin/messaging/message/?is_test__exact=1").content.decode()
    assert sent.json()["message_id"] in messages


def test_a_new_gateway_shows_its_token_once_with_the_termux_commands(operator):
    response = operator.post("/admin/gateways/gateway/add/", {"name": "pixel", "rate_per_minute": 10})
    body = response.content.decode()
    token = re.search(r"gw_live_[A-Za-z0-9]{40}", body).group(0)
    assert gateway_get_by_token(raw_token=token).name == "pixel"
    assert "/gateway/agent.py" in body and "--driver termux" in body
    assert token not in operator.get("/admin/gateways/gateway/").content.decode()


def test_a_new_app_gateway_shows_the_apps_server_url_and_registration_token_once(operator, settings):
    settings.PUBLIC_URL = "https://sms.example.test"
    response = operator.post("/admin/gateways/gateway/add/", {"name": "galaxy", "kind": "app", "rate_per_minute": 10})
    body = response.content.decode()
    assert "no-store" in response["Cache-Control"]
    token = re.search(r"gw_live_[A-Za-z0-9]{40}", body).group(0)
    gateway = gateway_get_by_token(raw_token=token)
    assert (gateway.name, gateway.kind) == ("galaxy", "app")
    assert "API URL:       https://sms.example.test/api/mobile/v1" in body and "SSE_ONLY" in body
    assert "agent.py" not in body
    # The app registers with it, then shows in the list with its kind and version.
    app = FakeApp(django_transport(Client()))
    assert app.register(token).status == 201
    page = operator.get("/admin/gateways/gateway/").content.decode()
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*galaxy(?:(?!</tr>).)*</tr>", page, re.S).group(0)
    assert "SMS Gateway for Android app" in row and "1.68.0" in row and "***edoo" in row
    assert "● online (polling)" in row
    assert token not in page and app.token not in page


@pytest.fixture
def qr_texts(monkeypatch) -> list[str]:
    """What each pairing QR code drawn holds."""
    drawn, make = [], segno.make
    monkeypatch.setattr(
        "adminpanel.admin.pairing.segno.make", lambda text, **kw: drawn.append(text) or make(text, **kw)
    )
    return drawn


def test_pairing_on_localhost_warns_and_takes_the_address_the_phone_can_reach(operator, qr_texts, settings):
    settings.PUBLIC_URL = settings.PHONE_SERVER_URL = ""
    page = operator.post(
        "/admin/gateways/gateway/add/", {"name": "pixel", "rate_per_minute": 10}, HTTP_HOST="localhost:3005"
    ).content.decode()
    token = re.search(r"gw_live_[A-Za-z0-9]{40}", page).group(0)
    assert 'id="pairing-warning"' in page and "cannot reach <code>http://localhost:3005</code>" in page
    assert qr_texts[-1] == gateway_pairing_uri(server="http://localhost:3005", token=token)

    gateway = gateway_get_by_token(raw_token=token)
    pairing = f"/admin/gateways/gateway/{gateway.pk}/pairing/"
    again = operator.post(pairing, {"token": token, "server": "http://192.168.1.20:3005/"}, HTTP_HOST="localhost:3005")
    body = again.content.decode()
    assert again.status_code == 200 and "no-store" in again["Cache-Control"]
    assert 'id="pairing-warning"' not in body
    assert "curl -o agent.py http://192.168.1.20:3005/gateway/agent.py" in body
    assert f"--server http://192.168.1.20:3005 --token {token}" in body
    assert qr_texts[-1] == gateway_pairing_uri(server="http://192.168.1.20:3005", token=token)


def test_public_url_is_the_pairing_default(operator, qr_texts, settings):
    settings.PUBLIC_URL, settings.PHONE_SERVER_URL = "https://sms.example.test", ""
    page = operator.post(
        "/admin/gateways/gateway/add/", {"name": "pixel", "rate_per_minute": 10}, HTTP_HOST="localhost:3005"
    ).content.decode()
    assert 'id="pairing-warning"' not in page
    assert "python agent.py --server https://sms.example.test --token gw_live_" in page
    assert qr_texts[-1].startswith("mysmsapio://pair?server=https%3A%2F%2Fsms.example.test&token=gw_live_")


@pytest.mark.parametrize("token", ["gw_live_" + "x" * 40, "", "api_live_nope"])
def test_the_pairing_page_is_shown_again_only_for_the_gateways_current_token(operator, make_gateway, token):
    gateway = make_gateway()
    response = operator.post(
        f"/admin/gateways/gateway/{gateway.pk}/pairing/", {"token": token, "server": "http://192.168.1.20:3005"}
    )
    assert response.status_code == 302
    assert "gw_live_" not in response.content.decode()
    assert operator.get(f"/admin/gateways/gateway/{gateway.pk}/pairing/").status_code == 405


def test_a_malformed_address_keeps_the_default_and_says_why(operator, settings):
    settings.PUBLIC_URL = settings.PHONE_SERVER_URL = ""
    page = operator.post("/admin/gateways/gateway/add/", {"name": "pixel", "rate_per_minute": 10}).content.decode()
    token = re.search(r"gw_live_[A-Za-z0-9]{40}", page).group(0)
    gateway = gateway_get_by_token(raw_token=token)
    again = operator.post(
        f"/admin/gateways/gateway/{gateway.pk}/pairing/", {"token": token, "server": "javascript:x"}, follow=True
    )
    body = again.content.decode()
    assert "Type the address as http://HOST:PORT" in body
    assert "javascript:x" not in body.split('id="phone-commands"')[1]


def test_the_message_page_shows_its_timeline_and_otp_pages_never_the_code(operator, api_client, online_gateway):
    api_client.post("/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}, format="json")
    from messaging.models import Message
    from otp.models import Otp

    message = Message.objects.get()
    page = operator.get(f"/admin/messaging/message/{quote(message.pk)}/change/").content.decode()
    assert message.pk in page and "••••••" in page
    otp = Otp.objects.get()
    otp_page = operator.get(f"/admin/otp/otp/{otp.pk}/change/").content.decode()
    assert otp.code_hash not in otp_page


def test_the_guides_api_keys_url_leads_to_the_keys(operator):
    response = operator.get("/admin/api_keys", follow=True)
    assert response.redirect_chain[-1][0] == "/admin/accounts/apikey/"
    assert response.status_code == 200


def test_login_attempts_are_rate_limited(client, settings):
    settings.ADMIN_LOGIN_ATTEMPTS = 3
    User.objects.create_superuser("operator", "op@example.test", "a-long-test-password")
    for _ in range(3):
        response = client.post("/admin/login/", {"username": "operator", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    blocked = client.post("/admin/login/", {"username": "operator", "password": "a-long-test-password"})
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) >= 1
    assert "_auth_user_id" not in client.session


def test_login_attempts_are_limited_per_user_name_from_any_address(client, settings):
    settings.ADMIN_LOGIN_ATTEMPTS, settings.ADMIN_LOGIN_ATTEMPTS_PER_USERNAME = 100, 3
    User.objects.create_superuser("operator", "op@example.test", "a-long-test-password")
    for address in ["192.0.2.1", "192.0.2.2", "192.0.2.3"]:
        wrong = client.post("/admin/login/", {"username": "Operator ", "password": "wrong"}, REMOTE_ADDR=address)
        assert wrong.status_code == 200
    blocked = client.post(
        "/admin/login/", {"username": "operator", "password": "a-long-test-password"}, REMOTE_ADDR="192.0.2.4"
    )
    assert blocked.status_code == 429
    other_user = client.post("/admin/login/", {"username": "someone", "password": "x"}, REMOTE_ADDR="192.0.2.4")
    assert other_user.status_code == 200


def test_a_login_lock_out_doubles_each_time_and_stays_with_its_address(settings):
    settings.ADMIN_LOGIN_ATTEMPTS, settings.ADMIN_LOGIN_ATTEMPTS_PER_USERNAME = 3, 100
    settings.ADMIN_LOGIN_WINDOW_SECONDS, settings.ADMIN_LOGIN_MAX_LOCK_SECONDS = 60, 200
    now = 1_000_040.0  # 20 s into a window
    waits = [admin_login_throttle(username=f"u{n}", address="192.0.2.9", now=now) for n in range(4)]
    assert waits == [0, 0, 0, 60]  # locked for a whole window, not just the rest of this one
    # Another address is not locked, and nothing counts while the lock holds.
    assert admin_login_throttle(username="u9", address="192.0.2.10", now=now) == 0
    assert admin_login_throttle(username="u0", address="192.0.2.9", now=now + 59) == 1
    # Back over the limit after the lock: twice as long, then capped.
    later = now + 61
    assert [admin_login_throttle(username="x", address="192.0.2.9", now=later) for _ in range(4)] == [0, 0, 0, 120]
    later += 121
    assert [admin_login_throttle(username="y", address="192.0.2.9", now=later) for _ in range(4)] == [0, 0, 0, 200]


def test_a_guessed_user_name_is_locked_alone(settings):
    settings.ADMIN_LOGIN_ATTEMPTS, settings.ADMIN_LOGIN_ATTEMPTS_PER_USERNAME = 100, 2
    now = 2_000_000.0
    for n in range(3):
        admin_login_throttle(username="operator", address=f"198.51.100.{n}", now=now)
    assert admin_login_throttle(username="Operator", address="198.51.100.50", now=now) > 0
    assert admin_login_throttle(username="other-operator", address="198.51.100.50", now=now) == 0


def test_idle_rate_limit_counters_are_pruned(settings, client):
    settings.RATELIMIT_BACKEND = "database"
    for name in ["a", "b", "c"]:
        client.post("/admin/login/", {"username": name, "password": "x"})
    assert RateLimitCounter.objects.filter(key__startswith="admin-login-user:").count() == 3
    RateLimitCounter.objects.update(window_start=int(time.time()) - COUNTER_RETENTION_SECONDS - 10)
    assert prune_rate_limit_counters() >= 3
    assert not RateLimitCounter.objects.exists()
    assert "prune-rate-limit-counters" in settings.CELERY_BEAT_SCHEDULE


def test_an_sms_gate_login_is_issued_shown_once_rolled_and_revoked_in_the_admin(client, account):
    import base64

    from accounts.models import SmsGateLogin

    client.force_login(User.objects.create_superuser("operator", "op@example.test", "a-long-test-password"))

    def works(login: str, password: str) -> int:
        basic = base64.b64encode(f"{login}:{password}".encode()).decode()
        return Client().get("/api/3rdparty/v1/messages", HTTP_AUTHORIZATION=f"Basic {basic}").status_code

    page = client.post("/admin/accounts/smsgatelogin/add/", {"name": "home automation", "account": account.pk})
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    credential = SmsGateLogin.objects.get()
    password = re.search(r'id="secret"[^>]*value="([A-Za-z0-9]{24})"', page.content.decode()).group(1)
    assert works(credential.login, password) == 200
    # Never again: not on the change page, not in the list, and only its hash is stored.
    change = client.get(f"/admin/accounts/smsgatelogin/{credential.pk}/change/").content.decode()
    assert password not in change and password not in client.get("/admin/accounts/smsgatelogin/").content.decode()
    assert password not in credential.password_hash

    rolled = client.post(
        "/admin/accounts/smsgatelogin/", {"action": "roll_password", "_selected_action": [credential.pk]}
    ).content.decode()
    new_password = re.search(r'id="secret"[^>]*value="([A-Za-z0-9]{24})"', rolled).group(1)
    assert works(credential.login, password) == 401 and works(credential.login, new_password) == 200
    client.post("/admin/accounts/smsgatelogin/", {"action": "revoke", "_selected_action": [credential.pk]})
    assert works(credential.login, new_password) == 401
