from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from mysmsapio.requestlog import request_log_discard


@pytest.fixture
def operator(client):
    user = User.objects.create_superuser("operator", "op@example.test", "a-long-test-password")
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _empty_request_log_buffer():
    request_log_discard()
    yield
    request_log_discard()
