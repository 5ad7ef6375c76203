"""The operators' admin in real headless Chromium against real web nodes: what an operator does
on the first day, click by click. Screenshots of the main pages go to $SCREENSHOT_DIR (the
README's come from `make screenshots`, which points it at docs/img)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
import requests
import zxingcpp
from django.contrib.admin.utils import quote as admin_quote
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from PIL import Image

from accounts.services import account_get_or_create
from gateways.models import Gateway
from messaging.models import Message, MessageStatus
from tests.conftest import GUIDE_NUMBER

from .helpers import Agent, wait_for

pytestmark = pytest.mark.live
PASSWORD = "a-long-browser-test-password"
# A name no other test's key has: the servers log other tests' calls too, a second later.
KEY_NAME = "Browser Checkout App"


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def operator_page(browser_page, transactional_db):
    # Hashed as the servers hash (the test settings' fast hasher is not in their list).
    hasher = PBKDF2PasswordHasher()
    User.objects.create_superuser("operator", "op@example.test", None)
    User.objects.filter(username="operator").update(password=hasher.encode(PASSWORD, hasher.salt()))
    account_get_or_create()
    page = browser_page
    page.goto("/admin/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#dashboard")
    return page


def test_a_new_key_is_shown_once_then_sends_an_sms_from_the_api_tester_and_shows_in_the_logs(
    operator_page, screenshots, web_server
):
    page = operator_page
    page.goto("/admin/api_keys")  # the guide's address
    page.click("text=Add API key")
    page.fill("#id_name", KEY_NAME)
    for permission in ("send_sms", "receive_sms", "send_otp", "verify_otp"):
        page.check(f"input[name=permission_names][value={permission}]")
    page.click("input[name=_save]")

    raw_key = page.input_value("#secret")
    assert re.fullmatch(r"api_live_[A-Za-z0-9]{40}", raw_key)
    assert "shown only once" in page.content()
    page.screenshot(path=screenshots / "api-key-once.png")

    # Never again: not on reload (the page is not cached), not in the list, not on its page.
    page.reload()
    assert raw_key not in page.content()
    page.goto("/admin/accounts/apikey/")
    assert raw_key not in page.content() and KEY_NAME in page.content()
    page.click(f"text={KEY_NAME}")
    assert raw_key not in page.content()

    # The logs page, filtered on this key, is open before the calls and must show them
    # without a reload.
    logs = page.context.new_page()
    logs.goto(f"/admin/logs?key={KEY_NAME}")
    logs.wait_for_selector("#request-log")
    assert "No API requests match." in logs.inner_text("#request-log")

    page.goto("/admin/api_tester")
    page.fill("#tester-key", raw_key)
    page.select_option("#tester-endpoint", "sms/send")
    page.fill("#tester-body", f'{{"to": "{GUIDE_NUMBER}", "message": "Hello from the browser"}}')
    page.click("#tester-send")
    page.wait_for_selector("#tester-status:has-text('202')")
    body = page.inner_text("#tester-response")
    message_id = re.search(r'"message_id": "(msg_[0-9a-f]{32})"', body).group(1)
    assert '"status": "pending"' in body  # no phone is online yet
    assert "content-type: application/json" in page.inner_text("#tester-headers")
    page.screenshot(path=screenshots / "api-tester.png")

    # The status endpoint is prefilled with the id just returned.
    page.select_option("#tester-endpoint", "sms/status")
    assert page.input_value("#tester-path") == f"/api/v1/sms/status/{message_id}"
    page.click("#tester-send")
    page.wait_for_selector("#tester-status:has-text('200')")
    assert message_id in page.inner_text("#tester-response")

    # A wrong key gets the API's own JSON error, shown as it came.
    page.fill("#tester-key", "api_live_wrong")
    page.select_option("#tester-endpoint", "sms/send")
    page.click("#tester-send")
    page.wait_for_selector("#tester-status:has-text('401')")
    assert '"error": "Invalid or expired API key"' in page.inner_text("#tester-response")

    logs.wait_for_function(
        "document.querySelector('#request-log').innerText.includes('/api/v1/sms/status/')", timeout=20_000
    )
    rows = [row.split("\t") for row in logs.inner_text("#request-log tbody").splitlines()]
    assert sorted((cells[3], cells[4].split("/msg_")[0], cells[5]) for cells in rows) == [
        ("GET", "/api/v1/sms/status", "200"),
        ("POST", "/api/v1/sms/send", "202"),
    ]
    assert all(KEY_NAME in cells[2] for cells in rows)
    assert raw_key not in logs.content()
    logs.screenshot(path=screenshots / "logs.png", full_page=False)
    # The wrong key's 401 is logged too, with no key (a key nobody holds has no name).
    logs.goto("/admin/logs?status=4xx&path=/api/v1/sms/send")
    logs.wait_for_function("document.querySelector('#request-log').innerText.includes('401')", timeout=20_000)

    # The message is in the list, found by its id, with its details.
    page.goto("/admin/messaging/message/")
    page.fill("#searchbar", message_id)
    page.press("#searchbar", "Enter")
    page.click(f"text={message_id}")
    page.wait_for_selector("#events-group")
    assert "Hello from the browser" in page.content() and GUIDE_NUMBER in page.content()
    assert Message.objects.get(pk=message_id).status == MessageStatus.PENDING


def test_a_phone_paired_from_its_qr_code_goes_online_delivers_and_goes_offline(
    operator_page, screenshots, web_server, tmp_path, raw_key
):
    page = operator_page
    # A message waits for a phone before any phone exists.
    response = requests.post(
        f"{web_server.url}/api/v1/sms/send",
        json={"to": GUIDE_NUMBER, "message": "Waiting for a phone"},
        headers={"Authorization": f"Bearer {raw_key}"},
        timeout=10,
    )
    message_id = response.json()["message_id"]

    page.goto("/admin/gateways/gateway/add/")
    page.fill("#id_name", "pixel-7")
    page.fill("#id_rate_per_minute", "30")
    page.click("input[name=_save]")
    page.wait_for_selector("#pairing-qr svg")
    token = page.input_value("#secret")
    page.screenshot(path=screenshots / "gateway-pairing.png", full_page=True)

    # Read the code from the screen's pixels, as the phone's camera would.
    png = page.locator("#pairing-qr").screenshot()
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(codes) == 1
    pairing = codes[0].text
    assert pairing.startswith("mysmsapio://pair?") and token in pairing

    page.goto("/admin/gateways/gateway/")
    assert "○ offline" in page.inner_text("#result_list")

    agent = Agent(tmp_path, "pixel-7", "", [], pair=pairing).start()
    try:
        wait_for(lambda: "● online" in _row(page, "pixel-7"), timeout=30, what="pixel-7 online in the gateway list")
        wait_for(
            lambda: Message.objects.get(pk=message_id).status == MessageStatus.DELIVERED,
            timeout=30,
            what="the waiting message delivered",
        )
        assert [job["body"] for job in agent.sent()] == ["Waiting for a phone"]
        page.reload()
        page.screenshot(path=screenshots / "gateways.png")

        # The admin escapes ids in its URLs ("msg_25..." would read as "msg%..."): as its links do.
        page.goto(f"/admin/messaging/message/{admin_quote(message_id)}/change/")
        page.wait_for_selector("#events-group")
        timeline = page.inner_text("#events-group")
        for event in ("queued", "sent", "delivered"):
            assert event in timeline
        page.screenshot(path=screenshots / "message-timeline.png", full_page=True)

        page.goto("/admin/")
        assert "1 / 1" in page.inner_text("#card-phones")
        assert page.locator("#chart-hourly svg rect").count() > 1
        assert "pixel-7" in page.inner_text("#chart-delivery")
        page.screenshot(path=screenshots / "dashboard.png", full_page=True)
    finally:
        agent.kill()

    wait_for(lambda: "○ offline" in _row(page, "pixel-7"), timeout=30, what="pixel-7 offline in the gateway list")
    assert not Gateway.objects.get(name="pixel-7").is_connected


def _row(page, name: str) -> str:
    page.goto("/admin/gateways/gateway/")
    return page.locator("#result_list tbody tr", has_text=name).inner_text()
