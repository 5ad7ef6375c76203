from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import ApiKey
from accounts.selectors import api_key_get_by_raw
from accounts.services import api_key_revoke, hash_api_key
from core.invalidation import forget_everything

pytestmark = pytest.mark.django_db
INVALID_KEY_BODY = {"error": "Invalid or expired API key", "code": "invalid_api_key"}


def test_generated_key_has_the_live_format_and_is_stored_only_as_prefix_and_hmac(api_key):
    assert re.fullmatch(r"api_live_[A-Za-z0-9]{40}", api_key.raw_key)
    row = ApiKey.objects.get(pk=api_key.api_key.pk)
    assert row.prefix == api_key.raw_key[9:17]
    assert row.key_hash == hash_api_key(api_key.raw_key)
    assert row.key_hash != api_key.raw_key
    stored = [str(value) for value in ApiKey.objects.values().get(pk=row.pk).values()]
    assert not any(api_key.raw_key[9:] in value for value in stored)


def test_generate_accepts_the_guides_permission_hash(make_api_key):
    result = make_api_key(permissions={"send_sms": True, "receive_sms": True, "send_otp": False})
    assert result.api_key.permissions == ["send_sms", "receive_sms"]
    assert result["raw_key"] == result.raw_key


def test_keys_are_random(make_api_key):
    assert len({make_api_key().raw_key for _ in range(5)}) == 5


def test_lookup_finds_a_usable_key_and_nothing_else(api_key, make_api_key):
    assert api_key_get_by_raw(raw_key=api_key.raw_key) == api_key.api_key
    assert api_key_get_by_raw(raw_key=api_key.raw_key[:-1] + ("a" if api_key.raw_key[-1] != "a" else "b")) is None
    expired = make_api_key(expires_at=timezone.now() - timedelta(seconds=1))
    assert api_key_get_by_raw(raw_key=expired.raw_key) is None


def status_request(client):
    return client.get("/api/v1/sms/status/msg_00000000000000000000000000000000")


MALFORMED = {
    "error": "Invalid or expired API key",
    "code": "malformed_authorization",
    "hint": 'send the key as "Authorization: Bearer api_live_..."',
}


@pytest.mark.parametrize(
    ("header", "body"),
    [
        (None, INVALID_KEY_BODY),
        ("", INVALID_KEY_BODY),
        ("Bearer", MALFORMED),
        ("Bearer ", MALFORMED),
        ("Basic dXNlcjpwYXNz", MALFORMED),
        ("Token api_live_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", MALFORMED),
        ("api_live_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", MALFORMED),  # the key without "Bearer "
        ("Bearer api_live_short", INVALID_KEY_BODY),
        ("Bearer api_test_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", INVALID_KEY_BODY),
        ("Bearer api_live_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", INVALID_KEY_BODY),
        ("Bearer api_live_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa extra", MALFORMED),
        ("Bearer api_live_ääääääääääääääääääääääääääääääää", MALFORMED),
    ],
    ids=[
        "missing",
        "empty",
        "scheme-only",
        "scheme-and-space",
        "basic",
        "wrong-scheme",
        "no-scheme",
        "too-short",
        "wrong-prefix",
        "unknown",
        "extra-token",
        "non-ascii",
    ],
)
def test_a_bad_authorization_header_gets_the_guides_401_and_a_code_saying_which(client, header, body):
    headers = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = client.get("/api/v1/sms/status/msg_00000000000000000000000000000000", **headers)
    assert response.status_code == 401
    assert response.json() == body
    assert response["WWW-Authenticate"] == "Bearer"


def test_it_rejects_a_revoked_key(api_key, client_for):
    api_key_revoke(api_key=api_key.api_key)
    response = status_request(client_for(api_key.raw_key))
    assert response.status_code == 401
    assert response.json() == INVALID_KEY_BODY


def test_it_rejects_an_expired_key(make_api_key, client_for):
    expired = make_api_key(expires_at=timezone.now() - timedelta(minutes=1))
    response = status_request(client_for(expired.raw_key))
    assert response.status_code == 401
    assert response.json() == INVALID_KEY_BODY


def test_a_key_revoked_in_the_future_still_works_until_then(api_key, client_for):
    api_key_revoke(api_key=api_key.api_key, at=timezone.now() + timedelta(hours=1))
    assert status_request(client_for(api_key.raw_key)).status_code == 404


def test_the_scheme_is_case_insensitive(api_key, client):
    response = client.get(
        "/api/v1/sms/status/msg_00000000000000000000000000000000",
        HTTP_AUTHORIZATION=f"bearer {api_key.raw_key}",
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("permission", "method", "path", "body"),
    [
        ("send_sms", "post", "/api/v1/sms/send", {"to": "+959123456789", "message": "hi"}),
        ("send_sms", "get", "/api/v1/sms/status/msg_00000000000000000000000000000000", None),
        ("send_otp", "post", "/api/v1/otp/send", {"phone_number": "+959123456789"}),
        ("verify_otp", "post", "/api/v1/otp/verify", {"phone_number": "+959123456789", "code": "123456"}),
    ],
)
def test_a_key_without_the_permission_gets_403(make_api_key, client_for, permission, method, path, body):
    others = [p for p in ["send_sms", "receive_sms", "send_otp", "verify_otp"] if p != permission]
    client = client_for(make_api_key(permissions=others).raw_key)
    response = getattr(client, method)(path, body, format="json") if body else client.get(path)
    assert response.status_code == 403
    assert response.json() == {
        "error": f"This API key does not have the {permission} permission",
        "code": "permission_denied",
    }


def test_last_used_is_written_at_most_once_a_minute(api_key, api_client):
    assert api_key.api_key.last_used_at is None
    status_request(api_client)
    first = ApiKey.objects.get(pk=api_key.api_key.pk).last_used_at
    assert first is not None
    status_request(api_client)
    assert ApiKey.objects.get(pk=api_key.api_key.pk).last_used_at == first
    ApiKey.objects.filter(pk=api_key.api_key.pk).update(last_used_at=first - timedelta(minutes=2))
    forget_everything()  # as if the two minutes had passed for the key each process holds too
    status_request(api_client)
    assert ApiKey.objects.get(pk=api_key.api_key.pk).last_used_at > first - timedelta(minutes=2)


def test_create_api_key_prints_the_raw_key_alone_on_the_last_line():
    out = StringIO()
    call_command(
        "create_api_key",
        "--name",
        "My SaaS App",
        "--permissions",
        "send_sms,receive_sms,send_otp,verify_otp",
        stdout=out,
    )
    raw_key = out.getvalue().strip().splitlines()[-1]
    key = api_key_get_by_raw(raw_key=raw_key)
    assert key is not None
    assert key.name == "My SaaS App"
    assert key.account.name == "default"
    assert key.permissions == ["send_sms", "receive_sms", "send_otp", "verify_otp"]


def test_create_api_key_for_a_named_account_and_list_and_revoke_it():
    out = StringIO()
    call_command("create_api_key", "--name", "Shop", "--account", "shop", "--permissions", "send_sms", stdout=out)
    raw_key = out.getvalue().strip().splitlines()[-1]
    key = api_key_get_by_raw(raw_key=raw_key)
    assert key.account.name == "shop"

    listing = StringIO()
    call_command("list_api_keys", stdout=listing)
    assert key.display_prefix in listing.getvalue()
    assert raw_key not in listing.getvalue()

    call_command("revoke_api_key", str(key.pk), stdout=StringIO())
    assert api_key_get_by_raw(raw_key=raw_key) is None
    listing = StringIO()
    call_command("list_api_keys", stdout=listing)
    assert "revoked" in listing.getvalue()


def test_create_api_key_refuses_unknown_permissions():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Unknown permission"):
        call_command("create_api_key", "--name", "x", "--permissions", "send_sms,launch_rockets", stdout=StringIO())
    assert not ApiKey.objects.exists()
