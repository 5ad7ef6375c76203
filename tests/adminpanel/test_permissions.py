"""Staff status opens the admin; what a staff user may do there is each model's permission,
and the operators' own pages need their own permission."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission as AuthPermission
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import ApiKeyNotRollable, api_key_revoke, api_key_roll
from gateways.models import Gateway

pytestmark = pytest.mark.django_db


def staff_with(client, *codenames: str):
    user = User.objects.create_user("viewer", password="a-long-test-password", is_staff=True)
    user.user_permissions.set(AuthPermission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("changelist", "action", "view_permission"),
    [
        ("/admin/accounts/apikey/", "revoke", "view_apikey"),
        ("/admin/accounts/apikey/", "roll_with_grace", "view_apikey"),
        ("/admin/accounts/apikey/", "roll_now", "view_apikey"),
        ("/admin/gateways/gateway/", "revoke", "view_gateway"),
        ("/admin/gateways/gateway/", "roll_token", "view_gateway"),
        ("/admin/gateways/gateway/", "enable", "view_gateway"),
        ("/admin/gateways/gateway/", "disable", "view_gateway"),
    ],
)
def test_a_view_only_operator_sees_no_secret_action_and_gets_403_posting_one(
    client, api_key, make_gateway, changelist, action, view_permission
):
    viewer = staff_with(client, view_permission)
    phone = make_gateway()
    page = viewer.get(changelist)
    assert page.status_code == 200 and f'value="{action}"' not in page.content.decode()
    row = api_key.api_key.pk if "apikey" in changelist else phone.pk
    response = viewer.post(changelist, {"action": action, "_selected_action": [row]})
    assert response.status_code == 403
    assert ApiKey.objects.get(pk=api_key.api_key.pk).revoked_at is None
    assert Gateway.objects.get(pk=phone.pk).enabled and Gateway.objects.get(pk=phone.pk).revoked_at is None
    assert ApiKey.objects.count() == 1


def test_an_operator_with_change_permission_may_roll(client, api_key):
    operator = staff_with(client, "view_apikey", "change_apikey")
    page = operator.get("/admin/accounts/apikey/").content.decode()
    assert 'value="roll_now"' in page
    form = {"action": "roll_now", "_selected_action": [api_key.api_key.pk]}
    response = operator.post("/admin/accounts/apikey/", form)
    assert response.status_code == 200 and "api_live_" in response.content.decode()


@pytest.mark.parametrize("state", ["revoked", "expired"])
def test_a_revoked_or_expired_key_is_not_rolled(make_api_key, state, client):
    now = timezone.now()
    key = make_api_key(expires_at=now - timedelta(minutes=1) if state == "expired" else None).api_key
    if state == "revoked":
        api_key_revoke(api_key=key)
    with pytest.raises(ApiKeyNotRollable, match=state):
        api_key_roll(api_key=key, grace=timedelta(hours=1))
    operator = staff_with(client, "view_apikey", "change_apikey")
    response = operator.post(
        "/admin/accounts/apikey/", {"action": "roll_now", "_selected_action": [key.pk]}, follow=True
    )
    assert f"{state}: create a new key instead of rolling it" in response.content.decode()
    assert ApiKey.objects.count() == 1


def test_a_key_rolled_with_grace_can_still_be_rolled_during_its_grace(api_key):
    api_key_roll(api_key=api_key.api_key, grace=timedelta(hours=1))
    assert api_key_roll(api_key=ApiKey.objects.get(pk=api_key.api_key.pk), grace=timedelta(0)).raw_key


@pytest.mark.parametrize(("path", "codename"), [("/admin/api_tester", "use_api_tester"), ("/admin/logs", "view_logs")])
def test_the_operators_pages_need_their_own_permission(client, path, codename):
    staff = staff_with(client)
    assert staff.get(path).status_code == 403
    home = staff.get("/admin/").content.decode()
    assert 'href="/admin/api_tester"' not in home and 'href="/admin/logs"' not in home
    User.objects.get(username="viewer").user_permissions.add(AuthPermission.objects.get(codename=codename))
    staff.force_login(User.objects.get(username="viewer"))
    assert staff.get(path).status_code == 200
    assert f'href="{path}"' in staff.get("/admin/").content.decode()
