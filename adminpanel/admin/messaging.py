"""Messages (read-only, with their timeline; retry and cancel actions) and received SMS."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.utils import timezone

from messaging.lifecycle import MessageActionRefused, message_cancel
from messaging.models import InboundSms, Message, MessageEvent

from ..services import messages_retry
from .base import ActionsNeedPermissionAdmin, ReadOnlyAdmin


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
class MessageAdmin(ReadOnlyAdmin, ActionsNeedPermissionAdmin):
    list_display = [
        "id",
        "account",
        "to",
        "status",
        "gateway",
        "segments",
        "created_at",
        "sent_at",
        "delivered_at",
        "is_test",
        "is_encrypted",
    ]
    list_filter = ["status", "gateway", "account", "priority", "is_test", "is_encrypted", "created_at"]
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

    def has_operate_permission(self, request) -> bool:
        """Cancel and retry change a message's fate: they need the model's change permission,
        though its pages stay read-only for everyone (docs/security.md)."""
        return request.user.has_perm(f"{self.opts.app_label}.{get_permission_codename('change', self.opts)}")

    @admin.action(description="Retry selected failed messages", permissions=["operate"])
    def retry(self, request, queryset):
        done, refusals = messages_retry(message_ids=list(queryset.values_list("pk", flat=True)))
        self._report(request, done, refusals, "sent again")

    @admin.action(description="Cancel selected pending or queued messages", permissions=["operate"])
    def cancel(self, request, queryset):
        done, refusals = 0, []
        for message_id in queryset.values_list("pk", flat=True):
            try:
                message_cancel(message_id=message_id)
                done += 1
            except MessageActionRefused as exc:
                refusals.append(f"Not done for {message_id}: {exc}")
        self._report(request, done, refusals, "cancelled")


@admin.register(InboundSms)
class InboundSmsAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "sender", "body", "gateway", "sim_slot", "account"]
    list_filter = ["gateway", "account"]
    search_fields = ["sender", "body"]
