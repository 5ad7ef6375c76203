"""SMS Gate's client API credentials: guessing is throttled like the admin's logins, and a
revoked login is refused at once on every process (its memo forgets it)."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from accounts.services import smsgate_login_issue, smsgate_login_revoke

pytestmark = pytest.mark.django_db
MESSAGES = "/api/3rdparty/v1/messages"


def basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


@pytest.fixture
def issued(account):
    return smsgate_login_issue(account=account, name="scripts")


def test_failed_logins_lock_the_address_even_for_the_right_password(issued, settings):
    settings.SMSGATE_LOGIN_FAILURES = 3
    login, password = issued.credential.login, issued.password
    guesser = Client(REMOTE_ADDR="198.51.100.7")
    answers = [guesser.get(MESSAGES, HTTP_AUTHORIZATION=basic(f"guess{n}", "x")).status_code for n in range(3)]
    assert answers == [401, 401, 401]
    locked = guesser.get(MESSAGES, HTTP_AUTHORIZATION=basic(login, password))
    assert locked.status_code == 429 and set(locked.json()) == {"message"} and int(locked["Retry-After"]) >= 1
    # Another address is not locked.
    other = Client(REMOTE_ADDR="198.51.100.8")
    assert other.get(MESSAGES, HTTP_AUTHORIZATION=basic(login, password)).status_code == 200


def test_failed_logins_lock_the_login_from_any_address(issued, settings):
    settings.SMSGATE_LOGIN_FAILURES = 3
    login, password = issued.credential.login, issued.password
    for n in range(3):
        wrong = Client(REMOTE_ADDR=f"198.51.100.{n}").get(MESSAGES, HTTP_AUTHORIZATION=basic(login, "wrong"))
        assert wrong.status_code == 401
    right = Client(REMOTE_ADDR="203.0.113.50").get(MESSAGES, HTTP_AUTHORIZATION=basic(login, password))
    assert right.status_code == 429


def test_a_revoked_login_is_refused_at_once(issued, memo_queries):
    client = Client()
    header = basic(issued.credential.login, issued.password)
    assert client.get(MESSAGES, HTTP_AUTHORIZATION=header).status_code == 200
    assert client.get(MESSAGES, HTTP_AUTHORIZATION=header).status_code == 200  # from memory, where it runs
    smsgate_login_revoke(credential=issued.credential)
    assert client.get(MESSAGES, HTTP_AUTHORIZATION=header).status_code == 401
