"""Django admin for operators. Secrets (API keys, gateway tokens) are shown once, on a page
rendered for that response only: never stored, never put in a session or message."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from urllib.parse import urlsplit

import segno
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet, URLField
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from accounts.models import Account, ApiKey, Permission
from accounts.services import ApiKeyNotRollable, api_key_generate, api_key_revoke, api_key_roll
from gateways.choice import quota_day_start
from gateways.mobile import POLLING
from gateways.models import Gateway, GatewayEvent, GatewayKind
from gateways.services import (
    gateway_create,
    gateway_get_by_token,
    gateway_pairing_uri,
    gateway_revoke,
    gateway_roll_token,
    gateway_set_account,
    gateway_set_enabled,
    gateway_settings_changed,
)
from messaging.lifecycle import MessageActionRefused, message_cancel
from messaging.models import InboundSms, Message, MessageEvent
from otp.models import Otp
from webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookEvent, WebhookEventType
from webhooks.services import (
    WebhookRefused,
    webhook_check_url,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_replay,
    webhook_send_test,
)

from .services import messages_retry


def is_loopback_url(url: str) -> bool:
    """True for an address only this computer can reach (a phone cannot)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_server_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query and not parts.fragment


def show_secret_once(
    request: HttpRequest, *, title: str, intro: str, secret: str, back_url: str, commands: str = "", qr_svg: str = "",
    pairing: dict | None = None,
) -> TemplateResponse:  # fmt: skip
    context = {**admin.site.each_context(request), "title": title, "intro": intro, "secret": secret,
               "back_url": back_url, "commands": commands, "qr_svg": qr_svg, "pairing": pairing}  # fmt: skip
    response = TemplateResponse(request, "adminpanel/secret_once.html", context)
    response["Cache-Control"] = "no-store"
    return response


class ActionsNeedPermissionAdmin(admin.ModelAdmin):
    """Django hides an action from a user without its permissions (``permissions=[...]``) but
    answers a posted one with "No action selected"; refuse it with 403 instead."""

    def changelist_view(self, request, extra_context=None):
        action = request.POST.get("action") if request.method == "POST" else None
        declared = {a if isinstance(a, str) else a.__name__ for a in self.actions or []}
        if action in declared and action not in self.get_actions(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)


class AddThroughServiceAdmin(ActionsNeedPermissionAdmin):
    """Rows created by a service that returns a secret to show once (API keys, gateways): the
    add page has a form and fields of its own, and ``save_model`` calls the service."""

    add_form: type[forms.ModelForm]
    add_fields: list[str]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else super().get_readonly_fields(request, obj)


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "otp_allowed_countries", "created_at"]
    search_fields = ["name"]


class ApiKeyCreateForm(forms.ModelForm):
    permission_names = forms.MultipleChoiceField(
        choices=Permission.choices, widget=forms.CheckboxSelectMultiple, label="Permissions", required=False
    )
    test_mode = forms.BooleanField(
        label="Test mode", required=False,
        help_text="An api_test_ key: every endpoint works, but its messages never reach a phone "
        "(they move queued → sent → delivered by themselves) and it sees only test data.",
    )  # fmt: skip

    class Meta:
        model = ApiKey
        fields = ["name", "account", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(AddThroughServiceAdmin):
    list_display = ["name", "account", "mode", "display_prefix", "permissions", "created_at", "last_used_at",
                    "key_state"]  # fmt: skip
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

    def get_changeform_initial_data(self, request) -> dict:
        # Most installations have one tenant: preselect it.
        default = Account.objects.filter(name=Account.DEFAULT_NAME).first()
        return {**super().get_changeform_initial_data(request), **({"account": default.pk} if default else {})}

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
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one API key to roll.", messages.ERROR)
            return None
        old = queryset.get()
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


def _whose(gateway: Gateway) -> str:
    return f"account “{gateway.account.name}”" if gateway.account_id else "every account (the shared pool)"


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
            "which sends for every account (a reply goes to the account that last wrote to that number).",
        }


@admin.register(Gateway)
class GatewayAdmin(AddThroughServiceAdmin):
    list_display = ["name", "kind", "owner", "online", "last_seen_at", "app_version", "battery", "charging", "signal",
                    "carriers", "rate_per_minute", "sent_today", "enabled"]  # fmt: skip
    list_filter = ["kind", "enabled", "is_connected", "account"]
    search_fields = ["name"]
    actions = ["enable", "disable", "revoke", "roll_token"]
    readonly_fields = ["is_connected", "last_seen_at", "connected_at", "device_model", "app_version",
                       "protocol_version", "battery", "charging", "signal", "sims", "revoked_at",
                       "created_at", "kind", "device_id"]  # fmt: skip
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
        return gateway.account.name if gateway.account_id else "shared pool"

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

    def get_changeform_initial_data(self, request):
        default = Account.objects.filter(name=Account.DEFAULT_NAME).first()
        return {**super().get_changeform_initial_data(request), **({"account": default.pk} if default else {})}

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

    def _token_page(self, request, gateway: Gateway, token: str, server: str | None = None) -> HttpResponse:
        # The address the phone will use: the operator's choice, else the configured one, else
        # the address the admin was opened on (right behind one proxy, wrong on localhost).
        server = server or settings.PHONE_SERVER_URL or settings.PUBLIC_URL
        server = server or request.build_absolute_uri("/").rstrip("/")
        if gateway.kind == GatewayKind.APP:
            return self._app_token_page(request, gateway, token, server)
        commands = (
            f"pkg install python termux-api && pip install websockets\n"
            f"curl -o agent.py {server}/gateway/agent.py\n"
            f"python agent.py --server {server} --token {token} --driver termux"
        )
        # The QR code is drawn here, into the page: the token never goes to another service.
        qr = segno.make(gateway_pairing_uri(server=server, token=token), error="m")
        return show_secret_once(
            request,
            title=f"Pair gateway “{gateway.name}”",
            intro=f"This phone sends for {_whose(gateway)}. Scan the QR code with the phone, or paste these commands "
            "into Termux (see docs/gateway-phone.md).",
            secret=token,
            commands=commands,
            qr_svg=mark_safe(qr.svg_inline(scale=6, dark="#000", light="#fff", title="Pairing code")),
            back_url=reverse("admin:gateways_gateway_changelist"),
            pairing=self._pairing(gateway, server),
        )

    @staticmethod
    def _pairing(gateway: Gateway, server: str) -> dict:
        """The pairing page's form: another server address, another account."""
        return {
            "server": server,
            "url": reverse("admin:gateways_gateway_pairing", args=[gateway.pk]),
            "unreachable": is_loopback_url(server),
            "accounts": list(Account.objects.order_by("name").values_list("pk", "name")),
            "account_id": gateway.account_id,
        }

    def _app_token_page(self, request, gateway: Gateway, token: str, server: str) -> HttpResponse:
        api_url = f"{server}/api/mobile/v1"
        return show_secret_once(
            request,
            title=f"Connect the app to gateway “{gateway.name}”",
            intro=f"This phone sends for {_whose(gateway)}. In the SMS Gateway for Android app: Settings > Cloud "
            "server: API URL and Private Token as below, Notification channel SSE_ONLY; then turn Cloud server on "
            "(see docs/gateway-phone.md). The app needs https:// (a plain http:// address works only on the phone "
            "itself).",
            secret=token,
            commands=f"API URL:       {api_url}\nPrivate Token: {token}",
            back_url=reverse("admin:gateways_gateway_changelist"),
            pairing=self._pairing(gateway, server),
        )

    def get_urls(self):
        pairing = path("<int:gateway_id>/pairing/", self.admin_site.admin_view(self.pairing_view),
                       name="gateways_gateway_pairing")  # fmt: skip
        return [pairing, *super().get_urls()]

    def pairing_view(self, request: HttpRequest, gateway_id: int) -> HttpResponse:
        """The pairing page again, for another server address: the operator posts the token
        the page showed, so nothing secret is kept between the two pages."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        gateway = self.get_object(request, str(gateway_id))
        if gateway is None or not self.has_change_permission(request, gateway):
            raise PermissionDenied
        token = request.POST.get("token", "")
        owner = gateway_get_by_token(raw_token=token)
        if owner is None or owner.pk != gateway.pk:
            self.message_user(request, "That token is not this gateway's current token.", messages.ERROR)
            return redirect("admin:gateways_gateway_changelist")
        if "account" in request.POST:
            chosen = request.POST["account"]
            account = Account.objects.filter(pk=int(chosen)).first() if chosen.isdigit() else None
            if chosen and account is None:
                self.message_user(request, "No such account.", messages.ERROR)
            elif (account.pk if account else None) != gateway.account_id:
                gateway = gateway_set_account(gateway=gateway, account=account)
        server = request.POST.get("server", "").strip().rstrip("/")
        if not is_server_url(server):
            self.message_user(request, "Type the address as http://HOST:PORT or https://HOST.", messages.ERROR)
            server = None
        return self._token_page(request, gateway, token, server)

    def response_add(self, request, obj, post_url_continue=None) -> HttpResponse:
        return self._token_page(request, obj, request._new_token)

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
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one gateway to roll its token.", messages.ERROR)
            return None
        gateway = queryset.get()
        return self._token_page(request, gateway, gateway_roll_token(gateway=gateway).raw_token)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class MessageEventInline(admin.TabularInline):
    model = MessageEvent
    extra = 0
    fields = ["at", "event", "gateway", "detail"]
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "Timeline"

    @admin.display(description="Time")
    def at(self, event: MessageEvent) -> str:
        # To the millisecond: a whole hand-over takes less than a second.
        return timezone.localtime(event.created_at).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "to", "status", "gateway", "segments", "created_at", "sent_at", "delivered_at",
                    "is_test"]  # fmt: skip
    list_filter = ["status", "gateway", "account", "priority", "is_test", "created_at"]
    search_fields = ["id", "to"]
    date_hierarchy = "created_at"
    exclude = ["sealed_body"]
    inlines = [MessageEventInline]
    actions = ["retry", "cancel"]

    def _report(self, request, done: int, refusals: list[str], done_text: str) -> None:
        if done:
            self.message_user(request, f"{done} message(s) {done_text}.", messages.SUCCESS)
        for text in refusals:
            self.message_user(request, text, messages.WARNING)

    @admin.action(description="Retry selected failed messages")
    def retry(self, request, queryset):
        done, refusals = messages_retry(message_ids=list(queryset.values_list("pk", flat=True)))
        self._report(request, done, refusals, "sent again")

    @admin.action(description="Cancel selected pending or queued messages")
    def cancel(self, request, queryset):
        done, refusals = 0, []
        for message_id in queryset.values_list("pk", flat=True):
            try:
                message_cancel(message_id=message_id)
                done += 1
            except MessageActionRefused as exc:
                refusals.append(f"Not done for {message_id}: {exc}")
        self._report(request, done, refusals, "cancelled")


@admin.register(Otp)
class OtpAdmin(ReadOnlyAdmin):
    list_display = ["phone_number", "account", "status", "attempts", "created_at", "expires_at", "verified_at",
                    "is_test"]  # fmt: skip
    list_filter = ["status", "account", "is_test"]
    search_fields = ["phone_number"]
    exclude = ["code_hash"]  # never the code, not even its hash


@admin.register(InboundSms)
class InboundSmsAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "sender", "body", "gateway", "sim_slot", "account"]
    list_filter = ["gateway", "account"]
    search_fields = ["sender", "body"]


@admin.register(GatewayEvent)
class GatewayEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "gateway", "event", "detail"]
    list_filter = ["event", "gateway"]


class WebhookEndpointCreateForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", label="URL")
    event_names = forms.MultipleChoiceField(
        choices=WebhookEventType.choices, widget=forms.CheckboxSelectMultiple, label="Events"
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["account", "url"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("url"):
            try:
                webhook_check_url(cleaned["url"])
            except WebhookRefused as exc:
                self.add_error("url", str(exc))
        return cleaned


class WebhookDeliveryInline(admin.TabularInline):
    """The endpoint's latest deliveries: what happened to each event."""

    model = WebhookEvent
    fields = ["id", "event", "status", "attempts", "created_at", "delivered_at", "last_answer"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "Recent deliveries (newest first)"

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-created_at")

    @admin.display(description="Last answer")
    def last_answer(self, delivery: WebhookEvent) -> str:
        attempt = delivery.attempt_log.first()
        if attempt is None:
            return "-"
        answer = str(attempt.status_code) if attempt.status_code else attempt.error
        return f"{answer} in {attempt.latency_ms} ms"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AddThroughServiceAdmin):
    list_display = ["url", "account", "events", "enabled", "failing_since", "disabled_reason", "created_at"]
    list_filter = ["enabled", "account"]
    actions = ["send_test_event", "rotate_secret", "enable"]
    readonly_fields = ["events", "failing_since", "disabled_reason", "created_at", "previous_secret_until"]
    inlines = [WebhookDeliveryInline]
    formfield_overrides = {URLField: {"assume_scheme": "https"}}
    add_form = WebhookEndpointCreateForm
    add_fields = ["account", "url", "event_names"]

    def get_inlines(self, request, obj=None):
        return self.inlines if obj is not None else []  # nothing delivered before it exists

    def changelist_view(self, request, extra_context=None):
        # Operators are told here (and on the index) that an endpoint gave up.
        for endpoint in WebhookEndpoint.objects.filter(enabled=False).exclude(disabled_reason=""):
            self.message_user(request, f"Webhook {endpoint.url} is disabled: {endpoint.disabled_reason}",
                              messages.WARNING)  # fmt: skip
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created = webhook_endpoint_create(
            account_id=form.cleaned_data["account"].pk, url=form.cleaned_data["url"],
            events=form.cleaned_data["event_names"],
        )  # fmt: skip
        obj.pk = created.endpoint.pk
        request._new_secret = created.raw_secret
        return None

    def response_add(self, request, obj, post_url_continue=None) -> HttpResponse:
        return self._secret_page(request, obj, request._new_secret, "created")

    def _secret_page(self, request, endpoint: WebhookEndpoint, secret: str, what: str) -> HttpResponse:
        return show_secret_once(
            request,
            title=f"Webhook endpoint {what}",
            intro=f"Deliveries to {endpoint.url} are signed per Standard Webhooks with this secret: verify them "
            "with it (for example the standardwebhooks package). After a rotation the previous secret keeps "
            "signing beside it for a grace period.",
            secret=secret,
            back_url=reverse("admin:webhooks_webhookendpoint_changelist"),
        )

    @admin.action(description="Send a test event to selected endpoints", permissions=["change"])
    def send_test_event(self, request, queryset):
        for endpoint in queryset:
            webhook_send_test(endpoint=endpoint)
        self.message_user(request, f"{queryset.count()} test event(s) queued.", messages.SUCCESS)

    @admin.action(description="Rotate the secret of one endpoint", permissions=["change"])
    def rotate_secret(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one endpoint to rotate its secret.", messages.ERROR)
            return None
        endpoint = queryset.get()
        return self._secret_page(request, endpoint, webhook_endpoint_rotate_secret(endpoint=endpoint), "secret rotated")

    @admin.action(description="Enable selected endpoints again", permissions=["change"])
    def enable(self, request, queryset):
        for endpoint in queryset:
            endpoint.enabled, endpoint.failing_since, endpoint.disabled_reason = True, None, ""
            endpoint.save(update_fields=["enabled", "failing_since", "disabled_reason"])


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["at", "status_code", "latency_ms", "error", "response_excerpt"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = "Attempts (newest first)"


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin, ActionsNeedPermissionAdmin):
    list_display = ["id", "event", "endpoint", "status", "attempts", "created_at", "next_attempt_at", "delivered_at"]
    list_filter = ["status", "event"]
    search_fields = ["id"]
    actions = ["replay"]
    inlines = [WebhookAttemptInline]

    def has_change_permission(self, request, obj=None) -> bool:
        # Read-only pages, but the replay action needs the model's change permission.
        return obj is None and super(ReadOnlyAdmin, self).has_change_permission(request, obj)

    @admin.action(description="Replay selected events (same webhook-id)", permissions=["change"])
    def replay(self, request, queryset):
        done = sum(webhook_replay(event_id=event_id) for event_id in queryset.values_list("pk", flat=True))
        self.message_user(request, f"{done} event(s) queued again.", messages.SUCCESS)
