"""Gateway phones and their events."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.safestring import mark_safe

from gateways.choice import quota_day_start
from gateways.mobile import POLLING
from gateways.models import Gateway, GatewayEvent, GatewayKind
from gateways.services import (
    gateway_create,
    gateway_revoke,
    gateway_roll_token,
    gateway_set_enabled,
    gateway_settings_changed,
)

from .base import AddThroughServiceAdmin, DefaultAccountAdmin, ReadOnlyAdmin
from .pairing import GatewayPairingMixin


class GatewayCreateForm(forms.ModelForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].required = False  # an agent unless chosen

    class Meta:
        model = Gateway
        fields = ["name", "kind", "account", "rate_per_minute", "daily_quota"]
        labels = {"account": "Account", "kind": "Kind of phone"}
        help_texts = {
            "kind": "Our agent (Termux, WebSocket), or the SMS Gateway for Android app (delivery reports, "
            "no Termux; see docs/gateway-phone.md).",
            "account": "The account whose messages and replies this phone handles. Empty: the shared pool, "
            "which sends for every account (a reply goes to the account that last wrote to that number, "
            "else to no tenant).",
        }


def _warn_of_nobodys_phones(request: HttpRequest, phones) -> None:
    names = sorted(phones.values_list("name", flat=True)[:11])
    if names:
        listed = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        messages.warning(
            request,
            f"No account, not shared: {listed}. Such a phone sends nothing and its replies are no tenant's "
            "until you choose its Account or tick Shared pool.",
        )


@admin.register(Gateway)
class GatewayAdmin(DefaultAccountAdmin, GatewayPairingMixin, AddThroughServiceAdmin):
    list_display = [
        "name",
        "kind",
        "owner",
        "online",
        "last_seen_at",
        "app_version",
        "battery",
        "charging",
        "signal",
        "carriers",
        "rate_per_minute",
        "sent_today",
        "enabled",
    ]
    list_filter = ["kind", "enabled", "is_connected", "account"]
    search_fields = ["name"]
    actions = ["enable", "disable", "revoke", "roll_token"]
    readonly_fields = [
        "is_connected",
        "last_seen_at",
        "connected_at",
        "device_model",
        "app_version",
        "protocol_version",
        "battery",
        "charging",
        "signal",
        "sims",
        "revoked_at",
        "created_at",
        "kind",
        "device_id",
    ]
    exclude = ["token_prefix", "token_hash", "connection_id", "device_token_prefix", "device_token_hash"]

    def get_queryset(self, request):
        midnight = quota_day_start(timezone.now())  # the UTC day, as the daily quota counts it
        return (
            super()
            .get_queryset(request)
            .annotate(sent_today_count=Count("messages", filter=Q(messages__sent_at__gte=midnight)))
        )

    @admin.display(description="Account", ordering="account__name")
    def owner(self, gateway: Gateway) -> str:
        if gateway.serves_nobody:
            return mark_safe('<span class="mysms-offline">⚠ none: sends nothing</span>')
        return gateway.account.name if gateway.account_id else "shared pool"

    def changelist_view(self, request, extra_context=None):
        _warn_of_nobodys_phones(request, Gateway.objects.filter(account__isnull=True, shared=False))
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            _warn_of_nobodys_phones(request, Gateway.objects.filter(pk=object_id, account__isnull=True, shared=False))
        return super().change_view(request, object_id, form_url, extra_context)

    list_select_related = ["account"]

    @admin.display(description="Online")
    def online(self, gateway: Gateway) -> str:
        # Text as well as colour: the state must be readable at a glance and by a screen reader.
        if gateway.is_online:
            if gateway.connection_id == POLLING:  # an app phone without its event stream
                return mark_safe('<span class="mysms-online">● online (polling)</span>')
            return mark_safe('<span class="mysms-online">● online</span>')
        return mark_safe('<span class="mysms-offline">○ offline</span>')

    @admin.display(description="Sent today", ordering="sent_today_count")
    def sent_today(self, gateway: Gateway) -> int:
        return gateway.sent_today_count

    @admin.display(description="SIMs")
    def carriers(self, gateway: Gateway) -> str:
        return ", ".join(gateway.carriers)

    add_form = GatewayCreateForm
    add_fields = ["name", "kind", "account", "rate_per_minute", "daily_quota"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            if "rate_per_minute" in form.changed_data:
                gateway_settings_changed(gateway=obj)
            return None
        account = form.cleaned_data.get("account")
        result = gateway_create(
            name=form.cleaned_data["name"],
            rate_per_minute=form.cleaned_data["rate_per_minute"],
            daily_quota=form.cleaned_data.get("daily_quota"),
            account=account,
            shared=account is None,
            kind=form.cleaned_data.get("kind") or GatewayKind.AGENT,
        )
        obj.pk = result.gateway.pk
        request._new_token = result.raw_token

    @admin.action(description="Enable selected gateways", permissions=["change"])
    def enable(self, request, queryset):
        gateway_set_enabled(gateway_ids=list(queryset.values_list("pk", flat=True)), enabled=True)

    @admin.action(description="Disable selected gateways (they keep their socket, get no jobs)", permissions=["change"])
    def disable(self, request, queryset):
        gateway_set_enabled(gateway_ids=list(queryset.values_list("pk", flat=True)), enabled=False)

    @admin.action(description="Revoke selected gateways (disconnects and refuses them)", permissions=["change"])
    def revoke(self, request, queryset):
        for gateway in queryset:
            gateway_revoke(gateway=gateway)

    @admin.action(description="Roll the token of one gateway", permissions=["change"])
    def roll_token(self, request, queryset):
        gateway = self.one_selected(request, queryset, "Select exactly one gateway to roll its token.")
        if gateway is None:
            return None
        return self._token_page(request, gateway, gateway_roll_token(gateway=gateway).raw_token)


@admin.register(GatewayEvent)
class GatewayEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "gateway", "event", "detail"]
    list_filter = ["event", "gateway"]
