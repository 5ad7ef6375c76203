from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account, Permission
from accounts.services import GeneratedApiKey, account_get_or_create, api_key_generate
from core.invalidation import forget_everything, wait_until_listening
from gateways.models import Gateway
from gateways.selectors import gateway_pick_for_message
from messaging.lifecycle import message_create, message_wants_phone
from messaging.models import Message
from messaging.phone import carrier_for_number

ALL_PERMISSIONS = list(Permission.values)


def message_send_now(*, account: Account, to: str, text: str, **kwargs) -> Message:
    """A message stored as the client API stores one: on the phone the send path chooses (or
    ``gateway_id``), else pending."""
    wants_phone = message_wants_phone(send_at=kwargs.get("send_at"), is_test=kwargs.get("is_test", False))
    if "gateway_id" not in kwargs and wants_phone:
        kwargs["gateway_id"] = gateway_pick_for_message(account_id=account.pk, carrier=carrier_for_number(to))
    return message_create(account=account, to=to, text=text, **kwargs)


GUIDE_NUMBER = "+959123456789"  # the integration guide's example recipient


@pytest.fixture(autouse=True)
def _clean_redis():
    """Rate-limit counters and lock-outs live in Redis in production mode, lock-outs in the
    local cache otherwise: start every test from zero."""
    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).flushdb()
    else:
        cache.clear()
    yield


@pytest.fixture(autouse=True)
def _fresh_memos():
    """A test's rows are rolled back behind the in-process caches' back: start each test with
    empty ones."""
    forget_everything()
    yield
    forget_everything()


@pytest.fixture
def memo_queries() -> int:
    """Queries a request spends on what the in-process caches hold (its API key, the phones
    that can take a message): none where they run (production mode), one each otherwise."""
    if settings.REDIS_URL and settings.MEMO_CACHES:
        assert wait_until_listening(), "the invalidation channel did not come up"
        return 0
    return 1


@pytest.fixture
def account(db) -> Account:
    return account_get_or_create()


@pytest.fixture
def other_account(db) -> Account:
    return account_get_or_create(name="someone-else")


@pytest.fixture
def make_api_key(db, account) -> Callable[..., GeneratedApiKey]:
    def make(*, permissions=None, account: Account = account, name: str = "Test key", **kwargs):
        return api_key_generate(
            name=name,
            permissions=ALL_PERMISSIONS if permissions is None else permissions,
            account=account,
            **kwargs,
        )

    return make


@pytest.fixture
def api_key(make_api_key) -> GeneratedApiKey:
    return make_api_key()


@pytest.fixture
def client_for() -> Callable[[str], APIClient]:
    def make(raw_key: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        return client

    return make


@pytest.fixture
def api_client(api_key, client_for) -> APIClient:
    return client_for(api_key.raw_key)


@pytest.fixture
def make_gateway(db) -> Callable[..., Gateway]:
    counter = iter(range(1, 10_000))

    def make(*, online: bool = True, **fields) -> Gateway:
        fields.setdefault("name", f"phone-{next(counter)}")
        if "account" not in fields and "account_id" not in fields:
            fields.setdefault("shared", True)  # serves every account; a phone of nobody's serves none
        if online:
            fields.setdefault("is_connected", True)
            fields.setdefault("last_seen_at", timezone.now())
        return Gateway.objects.create(**fields)

    return make


@pytest.fixture
def online_gateway(make_gateway) -> Gateway:
    return make_gateway()
