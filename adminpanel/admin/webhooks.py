"""Webhook endpoints (the signing secret shown once) and their deliveries."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import URLField
from django.http import HttpResponse
from django.urls import reverse

from webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookEvent, WebhookEventType
from webhooks.services import (
    WebhookRefused,
    webhook_check_url,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_replay,
    webhook_send_test,
)

from .base import ActionsNeedPermissionAdmin, AddThroughServiceAdmin, ReadOnlyAdmin, show_secret_once


class WebhookEndpointCreateForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", label="URL")
    event_names = forms.MultipleChoiceField(
        choices=WebhookEventType.choices, widget=forms.CheckboxSelectMultiple, label="Events"
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["account", "url", "receive_test_events"]

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
    list_display = [
        "url",
        "account",
        "style",
        "events",
        "enabled",
        "receive_test_events",
        "failing_since",
        "disabled_reason",
        "created_at",
    ]
    list_filter = ["enabled", "account"]
    actions = ["send_test_event", "rotate_secret", "enable"]
    readonly_fields = ["events", "failing_since", "disabled_reason", "created_at", "previous_secret_until"]
    inlines = [WebhookDeliveryInline]
    formfield_overrides = {URLField: {"assume_scheme": "https"}}
    add_form = WebhookEndpointCreateForm
    add_fields = ["account", "url", "event_names", "receive_test_events"]

    def get_inlines(self, request, obj=None):
        return self.inlines if obj is not None else []  # nothing delivered before it exists

    def changelist_view(self, request, extra_context=None):
        # Operators are told here (and on the index) that an endpoint gave up.
        for endpoint in WebhookEndpoint.objects.filter(enabled=False).exclude(disabled_reason=""):
            self.message_user(
                request, f"Webhook {endpoint.url} is disabled: {endpoint.disabled_reason}", messages.WARNING
            )
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created = webhook_endpoint_create(
            account_id=form.cleaned_data["account"].pk,
            url=form.cleaned_data["url"],
            events=form.cleaned_data["event_names"],
            receive_test_events=form.cleaned_data.get("receive_test_events", False),
        )
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
        endpoint = self.one_selected(request, queryset, "Select exactly one endpoint to rotate its secret.")
        if endpoint is None:
            return None
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
