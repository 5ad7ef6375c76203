"""Accounts and API keys: a key is shown once, then only its prefix."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, ApiKey, Permission, SmsGateLogin
from accounts.services import (
    ApiKeyNotRollable,
    api_key_generate,
    api_key_revoke,
    api_key_roll,
    smsgate_login_issue,
    smsgate_login_revoke,
    smsgate_login_roll,
)

from .base import AddThroughServiceAdmin, DefaultAccountAdmin, show_secret_once


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "otp_allowed_countries", "created_at"]
    search_fields = ["name"]


class ApiKeyCreateForm(forms.ModelForm):
    permission_names = forms.MultipleChoiceField(
        choices=Permission.choices, widget=forms.CheckboxSelectMultiple, label="Permissions", required=False
    )
    test_mode = forms.BooleanField(
        label="Test mode",
        required=False,
        help_text="An api_test_ key: every endpoint works, but its messages never reach a phone "
        "(they move queued → sent → delivered by themselves) and it sees only test data.",
    )

    class Meta:
        model = ApiKey
        fields = ["name", "account", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(DefaultAccountAdmin, AddThroughServiceAdmin):
    list_display = [
        "name",
        "account",
        "mode",
        "display_prefix",
        "permissions",
        "created_at",
        "last_used_at",
        "key_state",
    ]
    list_filter = ["account", "is_test"]
    search_fields = ["name", "prefix"]
    actions = ["revoke", "roll_with_grace", "roll_now"]
    readonly_fields = ["display_prefix", "mode", "permissions", "created_at", "last_used_at", "revoked_at"]
    fields = [
        "name",
        "account",
        "display_prefix",
        "mode",
        "permissions",
        "expires_at",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]

    add_form = ApiKeyCreateForm
    add_fields = ["name", "account", "permission_names", "test_mode", "expires_at"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        result = api_key_generate(
            name=form.cleaned_data["name"],
            permissions=form.cleaned_data["permission_names"],
            account=form.cleaned_data["account"],
            expires_at=form.cleaned_data.get("expires_at"),
            test=form.cleaned_data.get("test_mode", False),
        )
        obj.pk = result.api_key.pk
        request._new_raw_key = result.raw_key

    def response_add(self, request, obj, post_url_continue=None) -> HttpResponse:
        return show_secret_once(
            request,
            title=f"API key “{obj.name}” created",
            intro="Give this key to the client application (Authorization: Bearer ...).",
            secret=request._new_raw_key,
            back_url=reverse("admin:accounts_apikey_changelist"),
        )

    @admin.display(description="Mode", ordering="is_test")
    def mode(self, api_key: ApiKey) -> str:
        return "test" if api_key.is_test else "live"

    @admin.display(description="State")
    def key_state(self, api_key: ApiKey) -> str:
        now = timezone.now()
        state = api_key.state_at(now)
        if state == "active" and api_key.revoked_at is not None:
            return f"active until {timezone.localtime(api_key.revoked_at):%Y-%m-%d %H:%M} (rolled)"
        return state

    @admin.action(description="Revoke selected API keys (they stop working now)", permissions=["change"])
    def revoke(self, request, queryset: QuerySet[ApiKey]):
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)

    def _roll(self, request, queryset: QuerySet[ApiKey], grace: timedelta) -> HttpResponse | None:
        old = self.one_selected(request, queryset, "Select exactly one API key to roll.")
        if old is None:
            return None
        try:
            result = api_key_roll(api_key=old, grace=grace)
        except ApiKeyNotRollable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        when = "now" if not grace else f"in {grace.total_seconds() / 3600:g} hours"
        return show_secret_once(
            request,
            title=f"API key “{old.name}” rolled",
            intro=f"The new key is below. The old key ({old.display_prefix}) stops working {when}.",
            secret=result.raw_key,
            back_url=reverse("admin:accounts_apikey_changelist"),
        )

    @admin.action(
        description="Roll key: a new key; the old one keeps working for the grace period (24 h)",
        permissions=["change"],
    )
    def roll_with_grace(self, request, queryset):
        return self._roll(request, queryset, timedelta(seconds=settings.API_KEY_ROLL_GRACE_SECONDS))

    @admin.action(description="Roll key now: a new key; the old one stops at once", permissions=["change"])
    def roll_now(self, request, queryset):
        return self._roll(request, queryset, timedelta(0))


class SmsGateLoginCreateForm(forms.ModelForm):
    class Meta:
        model = SmsGateLogin
        fields = ["name", "account"]


@admin.register(SmsGateLogin)
class SmsGateLoginAdmin(DefaultAccountAdmin, AddThroughServiceAdmin):
    """Logins for SMS Gate's client libraries (/api/3rdparty/v1, docs/smsgate-clients.md): the
    password is shown once, at creation or roll, and kept only as a keyed hash."""

    list_display = ["name", "account", "login", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["account"]
    search_fields = ["name", "login"]
    actions = ["revoke", "roll_password"]
    readonly_fields = ["login", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", "account", "login", "created_at", "last_used_at", "revoked_at"]
    add_form = SmsGateLoginCreateForm
    add_fields = ["name", "account"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        issued = smsgate_login_issue(account=form.cleaned_data["account"], name=form.cleaned_data["name"])
        obj.pk = issued.credential.pk
        request._new_login = (issued.credential.login, issued.password)

    def _shown(self, request, title: str, login: str, password: str) -> HttpResponse:
        return show_secret_once(
            request,
            title=title,
            intro=f"Login: {login}. The password is below; give both to the client (SMS Gate's libraries, "
            "base URL https://<this server>/api/3rdparty/v1).",
            secret=password,
            back_url=reverse("admin:accounts_smsgatelogin_changelist"),
        )

    def response_add(self, request, obj, post_url_continue=None) -> HttpResponse:
        login, password = request._new_login
        return self._shown(request, f"SMS Gate login “{obj.name}” created", login, password)

    @admin.action(description="Revoke selected logins (they stop working now)", permissions=["change"])
    def revoke(self, request, queryset: QuerySet[SmsGateLogin]):
        for credential in queryset.filter(revoked_at__isnull=True):
            smsgate_login_revoke(credential=credential)
        self.message_user(request, f"Revoked {queryset.count()} login(s).", messages.SUCCESS)

    @admin.action(description="New password (the old one stops working now)", permissions=["change"])
    def roll_password(self, request, queryset: QuerySet[SmsGateLogin]) -> HttpResponse | None:
        credential = self.one_selected(
            request, queryset.filter(revoked_at__isnull=True), "Select exactly one login that is not revoked."
        )
        if credential is None:
            return None
        password = smsgate_login_roll(credential=credential)
        return self._shown(request, f"SMS Gate login “{credential.name}”: new password", credential.login, password)
