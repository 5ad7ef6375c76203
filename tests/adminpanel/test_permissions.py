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


def test_every_action_of_every_model_is_refused_to_a_view_only_operator(
    client, api_key, make_gateway, account, settings
):
    """Each admin action, posted by a staff user who may only view that model, is a 403 and
    changes nothing (a view-only operator cancelled and re-sent messages before)."""
    from django.contrib import admin
    from django.contrib.auth import get_permission_codename
    from django.forms.models import model_to_dict

    from accounts.services import smsgate_login_issue
    from messaging.lifecycle import message_create
    from tests.conftest import GUIDE_NUMBER
    from webhooks.services import webhook_endpoint_create

    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # an endpoint to act on; nothing is delivered
    make_gateway()
    message_create(account=account, to=GUIDE_NUMBER, text="pending, cancellable")
    webhook_endpoint_create(account_id=account.pk, url="http://127.0.0.1:9/hook", events=["message.sent"])
    smsgate_login_issue(account=account, name="scripts")
    walked = []
    for model, model_admin in admin.site._registry.items():
        actions = [a if isinstance(a, str) else a.__name__ for a in model_admin.actions or []]
        rows = list(model._default_manager.all()[:5])
        if not actions or not rows:
            continue
        codename = get_permission_codename("view", model._meta)
        User.objects.filter(username="viewer").delete()
        viewer = staff_with(client, codename)
        before = [model_to_dict(row) for row in model._default_manager.order_by("pk")]
        changelist = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert viewer.get(changelist).status_code == 200
        for action in actions:
            response = viewer.post(changelist, {"action": action, "_selected_action": [r.pk for r in rows]})
            assert response.status_code == 403, (changelist, action)
            walked.append(f"{model._meta.label}.{action}")
        assert [model_to_dict(row) for row in model._default_manager.order_by("pk")] == before
    assert {"messaging.Message.cancel", "messaging.Message.retry", "gateways.Gateway.revoke"} <= set(walked)
    assert {"accounts.ApiKey.roll_now", "webhooks.WebhookEndpoint.rotate_secret"} <= set(walked)
    assert {"accounts.SmsGateLogin.revoke", "accounts.SmsGateLogin.roll_password"} <= set(walked)


def test_an_operator_who_may_change_messages_may_cancel_one(client, account):
    from django.contrib.admin.utils import quote

    from messaging.lifecycle import message_create
    from messaging.models import Message
    from tests.conftest import GUIDE_NUMBER

    message = message_create(account=account, to=GUIDE_NUMBER, text="pending")
    operator = staff_with(client, "view_message", "change_message")
    response = operator.post("/admin/messaging/message/", {"action": "cancel", "_selected_action": [message.pk]})
    assert response.status_code == 302
    assert Message.objects.get(pk=message.pk).status == "failed"
    page = operator.get(f"/admin/messaging/message/{quote(message.pk)}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()  # still read-only
