from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from messaging.jobs import Job
from messaging.models import Message, MessagePriority
from otp.models import Otp, OtpStatus, PhoneVerification
from otp.services import otp_expire_stale
from tests.conftest import GUIDE_NUMBER
from webhooks.services import webhook_emit

pytestmark = pytest.mark.django_db
SENT = {"success": True, "message": "OTP sent successfully", "expires_in": 300}
VERIFIED = {"success": True, "message": "OTP verified successfully"}
INVALID = {"error": "Invalid or expired OTP", "code": "invalid_otp"}
RATE_LIMITED = {"error": "Rate limit exceeded. Maximum 3 OTP per hour for this number", "code": "rate_limited"}


def send_otp(client, phone=GUIDE_NUMBER):
    return client.post("/api/v1/otp/send", {"phone_number": phone}, format="json")


def verify(client, code, phone=GUIDE_NUMBER):
    return client.post("/api/v1/otp/verify", {"phone_number": phone, "code": code}, format="json")


def last_code(phone=GUIDE_NUMBER) -> str:
    """What the recipient reads on their phone: the text the gateway is handed."""
    message = Message.objects.filter(to=phone, priority=MessagePriority.OTP).latest("created_at")
    return re.search(r"\b(\d{6})\b", Job.of(message).text()).group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.fixture
def gateway(online_gateway):
    return online_gateway


def test_send_answers_the_guides_body_and_queues_an_otp_sms_ahead_of_others(api_client, gateway, api_key):
    response = send_otp(api_client)
    assert response.status_code == 200
    assert response.json() == SENT

    otp = Otp.objects.get()
    assert (otp.phone_number, otp.status, otp.account) == (GUIDE_NUMBER, OtpStatus.ACTIVE, api_key.api_key.account)
    message = otp.message
    assert message.priority == MessagePriority.OTP
    assert message.status == "queued" and message.gateway == gateway
    code = last_code()
    assert re.fullmatch(r"\d{6}", code)
    assert Job.of(message).text() == (f"Your verification code is {code}. It expires in 5 minutes.")
    assert message.expires_at == otp.expires_at


def test_the_code_is_stored_only_as_a_keyed_hash(api_client, gateway):
    send_otp(api_client)
    code = last_code()
    otp_row = Otp.objects.values().get()
    message_row = Message.objects.values().get()
    for value in [*otp_row.values(), *message_row.values()]:
        assert code not in str(value)
    assert "••••••" in message_row["body"]


@override_settings(OTP_MESSAGE_TEMPLATE="{code} is your Acme code ({minutes} min)")
def test_the_sms_text_comes_from_the_configured_template(api_client, gateway):
    send_otp(api_client)
    code = last_code()
    message = Message.objects.get()
    assert Job.of(message).text() == f"{code} is your Acme code (5 min)"


def test_without_an_online_gateway_send_is_503_and_costs_nothing(api_client):
    for _ in range(4):
        response = send_otp(api_client)
        assert response.status_code == 503
        assert response.json() == {"error": "No gateway online", "code": "no_gateway_online"}
    assert not Otp.objects.exists()
    assert not Message.objects.exists()


def test_503s_do_not_use_the_hourly_quota(api_client, make_gateway):
    assert send_otp(api_client).status_code == 503
    make_gateway()
    for _ in range(3):
        assert send_otp(api_client).status_code == 200


def test_the_fourth_send_in_an_hour_is_429_with_retry_after(api_client, gateway):
    for _ in range(3):
        assert send_otp(api_client).status_code == 200
    response = send_otp(api_client)
    assert response.status_code == 429
    assert response.json() == RATE_LIMITED
    assert 3590 <= int(response["Retry-After"]) <= 3600
    assert Otp.objects.count() == 3


def test_the_hour_slides(api_client, gateway):
    for _ in range(3):
        send_otp(api_client)
    oldest = Otp.objects.order_by("created_at").first()
    Otp.objects.filter(pk=oldest.pk).update(created_at=timezone.now() - timedelta(minutes=61))
    assert send_otp(api_client).status_code == 200
    response = send_otp(api_client)
    assert response.status_code == 429


def test_the_quota_is_per_number(api_client, gateway):
    for _ in range(3):
        send_otp(api_client)
    assert send_otp(api_client, "+959987654321").status_code == 200


def test_the_right_code_verifies_once(api_client, gateway):
    send_otp(api_client)
    code = last_code()
    response = verify(api_client, code)
    assert response.status_code == 200
    assert response.json() == VERIFIED
    assert Otp.objects.get().status == OtpStatus.VERIFIED

    again = verify(api_client, code)
    assert again.status_code == 422
    assert again.json() == INVALID


def test_a_wrong_code_is_422(api_client, gateway):
    send_otp(api_client)
    response = verify(api_client, wrong(last_code()))
    assert response.status_code == 422
    assert response.json() == INVALID
    assert Otp.objects.get().attempts == 1


def test_an_expired_code_is_422(api_client, gateway):
    send_otp(api_client)
    code = last_code()
    Otp.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = verify(api_client, code)
    assert (response.status_code, response.json()) == (422, INVALID)
    assert Otp.objects.get().status == OtpStatus.EXPIRED


def test_a_replaced_code_is_422_and_the_new_one_works(api_client, gateway):
    send_otp(api_client)
    old = last_code()
    send_otp(api_client)
    new = last_code()
    assert Otp.objects.filter(status=OtpStatus.REPLACED).count() == 1
    if old != new:
        assert (verify(api_client, old).status_code, verify(api_client, old).json()) == (422, INVALID)
    assert verify(api_client, new).status_code == 200


def test_a_code_never_sent_is_422(api_client):
    response = verify(api_client, "123456")
    assert (response.status_code, response.json()) == (422, INVALID)
    assert not PhoneVerification.objects.exists()


def test_three_wrong_attempts_kill_the_code(api_client, gateway):
    send_otp(api_client)
    code = last_code()
    for _ in range(3):
        assert verify(api_client, wrong(code)).status_code == 422
    assert Otp.objects.get().status == OtpStatus.EXHAUSTED
    response = verify(api_client, code)
    assert (response.status_code, response.json()) == (422, INVALID)


def test_ten_failures_in_a_row_lock_the_number_for_an_hour_across_codes(api_client, gateway):
    failures = 0
    for _ in range(4):  # 3 + 3 + 3 + 1 wrong attempts over four codes (sends allowed by clearing)
        Otp.objects.update(created_at=timezone.now() - timedelta(hours=2))  # keep the hourly quota free
        send_otp(api_client)
        code = last_code()
        for _ in range(3):
            if failures == 10:
                break
            verify(api_client, wrong(code))
            failures += 1
    verification = PhoneVerification.objects.get()
    assert verification.locked_until > timezone.now() + timedelta(minutes=59)

    Otp.objects.update(created_at=timezone.now() - timedelta(hours=2))
    send_otp(api_client)
    response = verify(api_client, last_code())
    assert (response.status_code, response.json()) == (422, INVALID)

    PhoneVerification.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    assert verify(api_client, last_code()).status_code == 200


def test_a_success_resets_the_failure_streak(api_client, gateway):
    send_otp(api_client)
    code = last_code()
    verify(api_client, wrong(code))
    verify(api_client, code)
    assert PhoneVerification.objects.get().consecutive_failures == 0


def test_another_account_cannot_verify_my_code(api_client, gateway, make_api_key, other_account, client_for):
    send_otp(api_client)
    code = last_code()
    outsider = client_for(make_api_key(account=other_account).raw_key)
    response = verify(outsider, code)
    assert (response.status_code, response.json()) == (422, INVALID)
    assert verify(api_client, code).status_code == 200


NOT_E164 = "write the number in E.164 form, with + and the country code: for example +959123456789"
NOT_TEXT = "the number must be a string in E.164 form: +, the country code and the number, for example +959123456789"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({}, 422, {"error": "Missing required field: phone_number", "code": "missing_field"}),
        (
            {"phone_number": "09123456789"},
            422,
            {"error": "Invalid phone number format", "code": "invalid_phone_number", "hint": NOT_E164},
        ),
        (
            {"phone_number": 959123456789},
            422,
            {"error": "Invalid phone number format", "code": "invalid_phone_number", "hint": NOT_TEXT},
        ),
    ],
)
def test_send_rejects_bad_input(api_client, gateway, body, status, error):
    response = api_client.post("/api/v1/otp/send", body, format="json")
    assert (response.status_code, response.json()) == (status, error)
    assert not Otp.objects.exists()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"code": "123456"}, {"error": "Missing required field: phone_number", "code": "missing_field"}),
        ({"phone_number": GUIDE_NUMBER}, {"error": "Missing required field: code", "code": "missing_field"}),
        (
            {"phone_number": "nope", "code": "123456"},
            {"error": "Invalid phone number format", "code": "invalid_phone_number", "hint": NOT_E164},
        ),
        ({"phone_number": GUIDE_NUMBER, "code": ["123456"]}, INVALID),
        ({"phone_number": GUIDE_NUMBER, "code": True}, INVALID),
        ({"phone_number": GUIDE_NUMBER, "code": ""}, INVALID),
    ],
)
def test_verify_rejects_bad_input(api_client, gateway, body, error):
    send_otp(api_client)
    response = api_client.post("/api/v1/otp/verify", body, format="json")
    assert (response.status_code, response.json()) == (422, error)


@pytest.mark.parametrize("code", ["482913", "004821"])
def test_a_numeric_code_is_accepted_like_a_string(api_client, gateway, monkeypatch, code):
    monkeypatch.setattr("otp.services.otp_generate_code", lambda: code)
    send_otp(api_client)
    assert last_code() == code
    # As a JSON number, 004821 arrives as 4821: its leading zeros are put back.
    response = api_client.post("/api/v1/otp/verify", {"phone_number": GUIDE_NUMBER, "code": int(code)}, format="json")
    assert response.status_code == 200


def test_the_periodic_task_expires_codes_wipes_sealed_texts_and_deletes_old_rows(api_client, gateway):
    send_otp(api_client)
    now = timezone.now()
    assert otp_expire_stale(now=now) == {"expired": 0, "wiped": 0, "deleted": 0}

    later = now + timedelta(seconds=301)
    assert otp_expire_stale(now=later) == {"expired": 1, "wiped": 1, "deleted": 0}
    assert Otp.objects.get().status == OtpStatus.EXPIRED
    assert Message.objects.get().sealed_body is None
    assert otp_expire_stale(now=later) == {"expired": 0, "wiped": 0, "deleted": 0}

    PhoneVerification.objects.update(consecutive_failures=4)  # an old failure streak is pruned too
    much_later = now + timedelta(days=8)
    assert otp_expire_stale(now=much_later)["deleted"] == 1
    assert not Otp.objects.exists()
    assert not PhoneVerification.objects.exists()


def test_the_clean_up_keeps_a_live_lockout(api_client, gateway):
    send_otp(api_client)
    later = timezone.now() + timedelta(days=8)
    PhoneVerification.objects.update(locked_until=later + timedelta(minutes=30))
    otp_expire_stale(now=later)
    assert PhoneVerification.objects.exists()


def test_verify_has_a_fixed_query_budget(api_client, gateway, memo_queries):
    send_otp(api_client)
    code = last_code()
    webhook_emit(account_id=0, event="otp.verified", data={})  # the steady state: which accounts want webhooks
    with CaptureQueriesContext(connection) as queries:
        assert verify(api_client, code).status_code == 200
    sql = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # key lookup and which accounts want webhooks (each unless in memory), was a code ever
    # sent, locked verification row, live OTP, OTP update, streak reset.
    assert len(sql) == 2 * memo_queries + 5, sql


def test_verifying_a_number_never_sent_a_code_costs_one_read(api_client, memo_queries):
    verify(api_client, "123456")  # the key is in memory from now on (production mode)
    with CaptureQueriesContext(connection) as queries:
        response = verify(api_client, "123456")
    assert (response.status_code, response.json()["error"]) == (422, "Invalid or expired OTP")
    assert len(queries.captured_queries) == memo_queries + 1, [q["sql"] for q in queries.captured_queries]


# --- Abuse: volume per key and per account, countries, locked numbers -----------------------


def test_a_locked_number_gets_no_new_code_while_locked(api_client, gateway):
    send_otp(api_client)
    PhoneVerification.objects.update(locked_until=timezone.now() + timedelta(minutes=30))
    messages_before = Message.objects.count()
    response = send_otp(api_client)
    assert response.status_code == 429
    assert response.json() == {
        "error": "Too many failed verifications for this number. Try again in 30 minutes",
        "code": "rate_limited",
    }
    assert 1790 <= int(response["Retry-After"]) <= 1800
    assert Message.objects.count() == messages_before  # no SMS that could not be used
    PhoneVerification.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    assert send_otp(api_client).status_code == 200


def test_one_key_cannot_pump_codes_to_many_numbers(api_client, gateway, settings):
    settings.OTP_MAX_SENDS_PER_KEY_PER_HOUR = 3
    numbers = [f"+9591234567{i:02d}" for i in range(5)]
    answers = [send_otp(api_client, phone=number) for number in numbers]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[3].json() == {
        "error": "Rate limit exceeded. Maximum 3 OTP per hour for this API key",
        "code": "rate_limited",
    }
    assert int(answers[3]["Retry-After"]) >= 1
    assert Otp.objects.count() == 3


def test_a_rolled_key_and_its_successor_share_the_keys_hourly_volume(api_key, client_for, gateway, settings):
    """During a roll's grace both keys work: they must not get twice the key's codes."""
    from datetime import timedelta as grace

    from accounts.services import api_key_roll

    settings.OTP_MAX_SENDS_PER_KEY_PER_HOUR = 2
    old = client_for(api_key.raw_key)
    new = client_for(api_key_roll(api_key=api_key.api_key, grace=grace(hours=1)).raw_key)
    assert send_otp(old, phone="+959123456701").status_code == 200
    assert send_otp(new, phone="+959123456702").status_code == 200
    assert send_otp(old, phone="+959123456703").status_code == 429
    assert send_otp(new, phone="+959123456704").status_code == 429


def test_the_accounts_keys_share_the_accounts_hourly_volume(make_api_key, client_for, gateway, settings):
    settings.OTP_MAX_SENDS_PER_ACCOUNT_PER_HOUR = 2
    first, second = client_for(make_api_key().raw_key), client_for(make_api_key(name="other").raw_key)
    assert send_otp(first, phone="+959123456701").status_code == 200
    assert send_otp(second, phone="+959123456702").status_code == 200
    refused = send_otp(second, phone="+959123456703")
    assert refused.status_code == 429
    assert refused.json()["error"] == "Rate limit exceeded. Maximum 2 OTP per hour for this account"


def test_an_account_may_allow_only_some_countries(api_client, gateway, account):
    account.otp_allowed_countries = "mm, th"
    account.save()
    assert send_otp(api_client, phone=GUIDE_NUMBER).status_code == 200  # Myanmar
    refused = send_otp(api_client, phone="+447911123456")  # United Kingdom
    assert refused.status_code == 422
    assert refused.json() == {
        "error": "OTP codes may not be sent to this country for this account",
        "code": "country_not_allowed",
    }
    assert not Otp.objects.filter(phone_number="+447911123456").exists()


def test_an_otps_wake_carries_its_code_sealed(api_client, gateway, django_capture_on_commit_callbacks):
    """The wake crosses Redis to the phone server: the code in it is sealed, and opened only
    when the job is framed for the phone."""
    with django_capture_on_commit_callbacks() as callbacks:
        assert send_otp(api_client).status_code == 200
    (wake,) = [c.keywords["job"] for c in callbacks if "job" in c.keywords]
    code = last_code()
    assert code not in str(wake)
    assert code in Job.from_wake(wake).text()
